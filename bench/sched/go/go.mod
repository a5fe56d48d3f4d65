module gortbench/sched

go 1.19
