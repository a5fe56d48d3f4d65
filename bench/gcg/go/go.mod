module gcgbench

go 1.19

require gcbench v0.0.0

replace gcbench => ../../gc/go
