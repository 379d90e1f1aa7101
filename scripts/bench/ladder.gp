# The ladder's plot: p99 lag and CPU per reading of every Kafka arm against the offered rate, one
# row per broker and QoS. Called by scripts/bench.sh with -e "dir='OUT_DIR'; out='OUT_DIR/ladder.svg'".
set terminal svg size 1100,900 dynamic font "sans,11"
set output out
files = system("ls " . dir . "/ladder-*.dat")
n = words(files)
set multiplot layout n,2
set key top left
set grid
set logscale x 2
set xlabel "offered readings/s"
do for [i=1:n] {
  f = word(files, i)
  name = system("basename " . f . " .dat | sed 's/^ladder-//'")
  set title name . ": end-to-end lag p99 (ms)"
  set logscale y 10
  plot for [a=0:4] f using 1:(column(2 + 2*a)) with linespoints title word("naive mosq script archer relaxed", a + 1)
  set title name . ": CPU µs per reading"
  unset logscale y
  plot for [a=0:4] f using 1:(column(3 + 2*a)) with linespoints title word("naive mosq script archer relaxed", a + 1)
}
unset multiplot
