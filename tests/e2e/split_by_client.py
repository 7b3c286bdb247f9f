#!/usr/bin/env python3
"""split_by_client.py LOG PREFIX N: writes LOG's lines to PREFIX0.log ..
PREFIX{N-1}.log by a hash (CRC-32) of each line's first field, the client
address, as a load balancer routing by client would: every client's lines
go to one part.  For the fleet tests and bench/pg.sh."""
import sys
import zlib

src, prefix, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
outs = [open("%s%d.log" % (prefix, i), "wb") for i in range(n)]
with open(src, "rb") as f:
    for line in f:
        outs[zlib.crc32(line.split(b" ", 1)[0]) % n].write(line)
for o in outs:
    o.close()
