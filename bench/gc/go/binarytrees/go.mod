module gcbench/binarytrees

go 1.19
