# weft benchmark chart: gnuplot -e "data='bench.tsv'; out='performance.png'" bench/chart.gp
# data: the TSV weft_bench writes with --wb-data (workload impl size primary
# p99_us csw_per_1k x_pthread, one block per workload and implementation).
if (!exists("data")) data = 'bench.tsv'
if (!exists("out")) out = 'performance.png'
set terminal pngcairo size 1500,950 font "sans,10"
set output out
set datafile separator "\t"
set datafile missing "nan"
impls = "weft weft_qw pthread libuv glib tbb ckring"
set logscale x 2
set xtics (1, 2, 4, 8, 16)
set xrange [0.8:20]
set xlabel "pool threads"
set grid
set key top left font ",9"
set multiplot layout 2,3 title "weft vs peers (medians; machine in docs/performance.md)"

sel(w, col) = (strcol(1) eq w && strcol(2) eq im) ? column(col) : NaN

set title "W1 dispatch (10^6 empty tasks)"
set ylabel "tasks/s"
set logscale y
plot for [im in impls] data using 3:(sel("W1", 4)) with linespoints title im noenhanced

set title "W2 round trip latency (p50 solid, p99 dashed)"
set ylabel "µs"
plot for [i=1:words(impls)] data using 3:(im = word(impls, i), sel("W2", 4)) \
       with linespoints lc i title word(impls, i) noenhanced, \
     for [i=1:words(impls)] data using 3:(im = word(impls, i), sel("W2", 5)) \
       with lines dt 2 lc i notitle

set title "W3 pipelined round trips (1,000 in flight)"
set ylabel "completions/s on the loop"
plot for [im in impls] data using 3:(sel("W3", 4)) with linespoints title im noenhanced

set title "W4 fan-out efficiency (1 µs tasks)"
set ylabel "ideal / measured"
unset logscale y
set yrange [0:1.1]
plot for [im in impls] data using 3:(sel("W4", 4)) with linespoints title im noenhanced, \
     data using 3:(im = "bare", sel("W4", 4)) with linespoints dt 2 lc rgb "gray40" \
       title "bare threads (ceiling)", \
     0.95 with lines dt 3 lc rgb "black" title "target"
set autoscale y

set title "W5 recursive spawn (2^{18}-1 tasks)"
set ylabel "tasks/s"
set logscale y
plot for [im in impls] data using 3:(sel("W5", 4)) with linespoints title im noenhanced

set title "W1 context switches"
set ylabel "per 1,000 tasks"
plot for [im in impls] data using 3:(sel("W1", 6) + 0.001) with linespoints title im noenhanced

unset multiplot
