module gcbench/stress

go 1.19
