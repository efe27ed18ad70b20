# bench/results.png: seconds to fetch and decode 100,000 events.
#   gnuplot -e "datafile='chart.dat'; outfile='results.png'" bench/chart.gp
# chart.dat rows: "label" seconds "value label" 0xRRGGBB  (bottom row first)
set terminal pngcairo size 900,420 enhanced font "DejaVu Sans,11"
set output outfile
set title "Fetch and decode 100,000 ModelArts events (1,000 pages of 100), median wall time\nlocal nginx over loopback — lower is better"
set xlabel "seconds"
set style fill solid 0.85 border -1
set grid xtics lc rgb "#dddddd"
unset key
set border 3
set xtics nomirror
set ytics nomirror scale 0
stats datafile using 2 nooutput
set xrange [0:(STATS_max > 0 ? STATS_max * 1.25 : 1)]
set yrange [-0.6:STATS_records - 0.4]
set offsets 0, 0, 0, 0
plot datafile using (0.5*$2):0:(0.5*$2):(0.35):4:yticlabels(1) with boxxyerror lc rgb variable, \
     ''       using 2:0:(" ".strcol(3)) with labels left offset 0.3,0 font ",10"
