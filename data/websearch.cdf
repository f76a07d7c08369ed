# Web-search flow-size distribution (bytes, cumulative fraction of flows).
# Source: M. Alizadeh et al., "Data Center TCP (DCTCP)", SIGCOMM 2010 — the
# query/background traffic measured in a production web-search cluster, as
# tabulated in the flowteam design brief (BRIEF §4) and used by later
# load-balancing work (CONGA, LetFlow, Hermes) for the "web-search" workload.
#
# Format: "bytes cumulative_fraction" per line; '#' starts a comment.
# F(bytes) = P(flow size <= bytes). The first size is the smallest one drawn
# (15 % of flows are 10 KB); sizes are interpolated linearly between points
# by default (see emulation/flowsize.h). Mean (linear) = 1,712,000 bytes.
10000     0.15
20000     0.2
30000     0.3
50000     0.4
80000     0.53
200000    0.6
1000000   0.7
2000000   0.8
5000000   0.9
10000000  0.97
30000000  1
