#!/usr/bin/env python3
"""simnode_udp.py PORTFILE OUTFILE SECONDS -- a StatsD sink for the tests.

Binds UDP 127.0.0.1:0, writes the chosen port to PORTFILE, then for at
most SECONDS writes every received line to OUTFILE and, at the end, a
summary line "# datagrams N max_bytes M" to OUTFILE.
"""
import socket
import sys
import time

portfile, outfile, seconds = sys.argv[1], sys.argv[2], float(sys.argv[3])
s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
s.bind(("127.0.0.1", 0))
s.settimeout(0.2)
with open(portfile + ".tmp", "w") as f:
    f.write("%d\n" % s.getsockname()[1])
import os
os.rename(portfile + ".tmp", portfile)
end = time.monotonic() + seconds
n = biggest = 0
with open(outfile, "w") as out:
    while time.monotonic() < end:
        try:
            data = s.recv(65536)
        except socket.timeout:
            continue
        n += 1
        biggest = max(biggest, len(data))
        out.write(data.decode("ascii", "replace"))
        out.flush()
    out.write("# datagrams %d max_bytes %d\n" % (n, biggest))
