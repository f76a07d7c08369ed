# Data-mining flow-size distribution (bytes, cumulative fraction of flows).
# Source: A. Greenberg et al., "VL2: A Scalable and Flexible Data Center
# Network", SIGCOMM 2009 — flow sizes in a data-mining cluster, as tabulated
# in the flowteam design brief (BRIEF §4) and used by later load-balancing
# work (CONGA, LetFlow, Hermes) for the "data-mining" workload. Heavy tail:
# half the flows are <= 1.1 KB, the last 2 % span 100 MB .. 1 GB.
#
# Format: "bytes cumulative_fraction" per line; '#' starts a comment.
# F(bytes) = P(flow size <= bytes). The first size is the smallest one drawn
# (10 % of flows are 180 B); sizes are interpolated linearly between points
# by default (see emulation/flowsize.h). Mean (linear) = 12,658,207.6 bytes.
180         0.1
216         0.2
560         0.3
900         0.4
1100        0.5
1870        0.6
3160        0.7
10000       0.8
400000      0.9
3160000     0.95
100000000   0.98
1000000000  1
