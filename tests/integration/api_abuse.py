#!/usr/bin/env python3
# api_abuse.py PORT SLOW TIMEOUT_S -- the slow-connection attack of issue
# 21 against a running meshtuned, with a normal client timed meanwhile.
#
# Opens SLOW connections that send a request one byte at a time (a byte
# every 0.2 s each, never finishing), keeps them trickling, and while
# they are held sends five normal requests, each of which must be
# answered within 1 s.  Then it waits for the daemon to close every slow
# connection, however steadily it trickles: evicted past the cap (503),
# or at the whole-request deadline (408; evhttp's own timeout restarts
# with every byte, so without the deadline they would live for ever).
# Those answered 408 must have gone, at the median, within TIMEOUT_S and
# a little of when they were opened (a connection the kernel held in the
# backlog, or retried, starts its clock later).  Prints one JSON line of
# what it saw; exits 1 on a failed expectation.  Every loop is bounded
# in time.
import json
import resource
import socket
import sys
import time

port, nslow, timeout_s = int(sys.argv[1]), int(sys.argv[2]), int(sys.argv[3])

# Room for our own sockets, bounded: never beyond the hard limit.
soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
want = min(hard, nslow + 256)
if soft < want:
    resource.setrlimit(resource.RLIMIT_NOFILE, (want, hard))

REQUEST = b"GET /v1/status HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Slow: "
DEADLINE = timeout_s + 1.5	# the daemon's tick, the trickle loop

def normal():
    """One whole request on a new connection: seconds to the answer."""
    t0 = time.monotonic()
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.sendall(b"GET /v1/status HTTP/1.1\r\nHost: 127.0.0.1\r\n"
              b"Connection: close\r\n\r\n")
    data = b""
    while True:
        d = s.recv(65536)
        if not d:
            break
        data += d
    s.close()
    took = time.monotonic() - t0
    if not data.startswith(b"HTTP/1.1 200"):
        raise SystemExit("normal request: %r" % data[:200])
    return took, json.loads(data.split(b"\r\n\r\n", 1)[1])

# [socket, opened, bytes sent, closed at or None, reply, let go at]
slow = []
t_start = time.monotonic()
for i in range(nslow):
    if i % 100 == 99:
        time.sleep(0.02)	# a fast attacker, not a SYN flood
    s = socket.socket()
    s.setblocking(False)
    try:
        s.connect(("127.0.0.1", port))
    except BlockingIOError:
        pass
    slow.append([s, time.monotonic(), 0, None, b"", None])

def trickle(now):
    """A byte more on every open slow connection; note the closed ones."""
    for c in slow:
        if c[3] is not None:
            continue
        try:
            try:
                d = c[0].recv(4096)
                # An answer (408, 503) or the end: the daemon let go.
                if c[3] is None and not c[4]:
                    c[5] = now
                if not d:
                    c[3] = now
                    c[0].close()
                else:
                    c[4] += d
                continue
            except BlockingIOError:
                pass
            if c[2] < len(REQUEST):
                c[2] += c[0].send(REQUEST[c[2]:c[2] + 1])
            else:
                c[0].send(b"x")
        except (BlockingIOError, InterruptedError):
            pass
        except OSError:
            c[3] = c[5] = c[5] or now
            c[0].close()

# Hold them a second, trickling, then time normal requests meanwhile.
end = time.monotonic() + 1.0
while time.monotonic() < end:
    trickle(time.monotonic())
    time.sleep(0.2)
held = sum(1 for c in slow if c[3] is None)
times = []
for i in range(5):
    trickle(time.monotonic())
    took, status = normal()
    times.append(took)
    time.sleep(0.1)

# Every slow one must be closed, trickling or not (bounded wait).
end = t_start + timeout_s + 8
while time.monotonic() < end and any(c[3] is None for c in slow):
    trickle(time.monotonic())
    time.sleep(0.2)
alive = [c for c in slow if c[3] is None]
lives = sorted(c[5] - c[1] for c in slow
               if c[5] is not None and b" 408 " in c[4][:20])
median = lives[len(lives) // 2] if lives else None
for c in alive:
    c[0].close()
took, status = normal()
api = status["api"]
out = {
    "slow": nslow, "held": held, "normal_s": [round(t, 3) for t in times],
    "still_open": len(alive),
    "life_408_s": {"median": median and round(median, 2),
                   "max": lives and round(lives[-1], 2)},
    "answered_408": sum(1 for c in slow if b" 408 " in c[4][:20]),
    "answered_503": sum(1 for c in slow if b" 503 " in c[4][:20]),
    "api": api,
}
print(json.dumps(out))
bad = []
if max(times) >= 1.0:
    bad.append("a normal request took %.3f s" % max(times))
if alive:
    bad.append("%d slow connections outlived the deadline" % len(alive))
if median is None or median > DEADLINE:
    bad.append("slow connections answered 408 after %s s at the median" %
               median)
if api["timed_out"] + api["evicted"] + api["refused"] == 0:
    bad.append("the daemon counted no timeout and no eviction")
if bad:
    raise SystemExit("; ".join(bad))
