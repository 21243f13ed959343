# bench/failover.gp: CDFs of failover times, one panel per profile.
# gnuplot -e "dir='bench/results/failover-...'; profiles='default aggressive'" bench/failover.gp
# Reads <dir>/<profile>-leader.cdf and -write.cdf ("ms fraction" lines,
# written by bench/analyze.py cdf); writes <dir>/failover.png.
set terminal pngcairo size 1200,500 font ",11" noenhanced
set output dir.'/failover.png'
n = words(profiles)
set multiplot layout 1,n title "raft_ext failover after kill -9 of the primary (3 nodes, loopback)"
set grid
set key bottom right
set ylabel "fraction of trials"
set yrange [0:1.02]
set xlabel "ms after kill -9"
do for [i=1:n] {
    p = word(profiles, i)
    set title "profile ".p
    plot dir.'/'.p.'-leader.cdf' using 1:2 with steps lw 2 title "new leader elected", \
         dir.'/'.p.'-write.cdf' using 1:2 with steps lw 2 title "first write acknowledged"
}
unset multiplot
