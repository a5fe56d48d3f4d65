module gcbench/gcbench

go 1.19
