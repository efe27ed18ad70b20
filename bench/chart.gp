# bench/results.png: the static job (wall and CPU time of each program's
# fetch-and-decode loop) above the latency-bound job (wall time).
#   gnuplot -e "datafile='chart.dat'; latfile='chart-latency.dat'; outfile='results.png'" bench/chart.gp
# chart.dat rows: "label" wall_s cpu_s "value label" 0xRRGGBB; chart-latency.dat
# rows: "label" wall_s "value label" 0xRRGGBB (bottom row first in both).
set terminal pngcairo size 960,680 enhanced font "DejaVu Sans,11"
set output outfile
set multiplot
set style fill solid 0.85 border -1
set grid xtics lc rgb "#dddddd"
unset key
set border 3
set xtics nomirror
set ytics nomirror scale 0
set lmargin at screen 0.2
set rmargin at screen 0.95

set size 1, 0.64
set origin 0, 0.36
set title "Fetch and decode 100,000 events (1,000 pages) from nginx on loopback\nwall time of the fetch-and-decode loop (bar) and its CPU time (dark) — lower is better"
set xlabel "seconds"
stats datafile using 2 nooutput
set xrange [0:(STATS_max > 0 ? STATS_max * 1.2 : 1)]
set yrange [-0.6:STATS_records - 0.4]
plot datafile using (0.5*$2):0:(0.5*$2):(0.36):5:yticlabels(1) with boxxyerror lc rgb variable, \
     ''       using (0.5*$3):0:(0.5*$3):(0.12) with boxxyerror lc rgb "#333333", \
     ''       using 2:0:(" ".strcol(4)) with labels left offset 0.3,0 font ",10"

set size 1, 0.36
set origin 0, 0
set title "Latency-bound paging: 80 pages with 30–50 ms of server think time each, 8 requests in flight"
stats latfile using 2 nooutput
set xrange [0:(STATS_max > 0 ? STATS_max * 1.2 : 1)]
set yrange [-0.6:STATS_records - 0.4]
plot latfile using (0.5*$2):0:(0.5*$2):(0.36):4:yticlabels(1) with boxxyerror lc rgb variable, \
     ''      using 2:0:(" ".strcol(3)) with labels left offset 0.3,0 font ",10"
unset multiplot
