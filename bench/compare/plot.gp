# Bar charts of bench/results/compare-{time,rss}.dat (ratios to jemalloc), drawn by
# bench/compare/run.sh:  gnuplot -e "datadir='bench/results'" plot.gp
if (!exists("datadir")) datadir = "bench/results"
set terminal pngcairo size 1400,560 font "sans,11" noenhanced
set style data histograms
set style histogram clustered gap 1
set style fill solid 0.85 border -1
set boxwidth 0.9
set grid ytics
set key top left horizontal
set xtics rotate by -25
set yrange [0:*]
set arrow 1 from graph 0, first 1 to graph 1, first 1 nohead dt 2 lc rgb "#555555"
do for [m in "time rss"] {
    set output sprintf("%s/compare-%s.png", datadir, m)
    set title sprintf("%s, ratio to jemalloc (lower is better)", m eq "time" ? "Time" : "Peak RSS")
    plot for [c=2:6] sprintf("%s/compare-%s.dat", datadir, m) using c:xtic(1) title columnheader(c)
}
