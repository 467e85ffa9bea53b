#!/usr/bin/env python3
# control.py -- helper of tests/bench/control.sh and
# tests/integration/control.sh: writes a meshtuned configuration scaled to
# the simulated node's --speed, samples series from the API while a run
# goes, and turns the samples and the audit log into figures.
#
#   control.py conf MODE DIR SPEED [TOP_SRCDIR PLUGIN_DIR]
#       MODE static (no strategies), dry_run, applying.  Prints the
#       configuration: etc/meshtuned.conf's knobs and strategies, every
#       time scaled by 1/SPEED (window 60 s, tick 5 s, cooldowns, flap
#       window, the hourly budget x SPEED), counter rates in the
#       strategies' config x SPEED (meshtuned measures rates per real
#       second, the model runs SPEED model seconds each), sockets and
#       the audit log in DIR.
#   control.py sample API_SOCK OUT INTERVAL_S DURATION_S SERIES:STAT...
#       GET /v1/series/SERIES every INTERVAL_S real seconds for
#       DURATION_S; one JSON line per round: {"t": wall, "v": {...}}.
#   control.py report SCENARIO MODE SAMPLES AUDIT_DB T0 SPEED
#       Print the figures (JSON lines) of one run; T0 is the wall time
#       the node started.
#
# Model time, not real time, is what every figure counts in: a figure in
# seconds is model seconds (real seconds x SPEED), so runs at different
# speeds compare.
import http.client
import json
import os
import socket
import sqlite3
import sys
import time
from datetime import datetime, timezone

MODEL_WINDOW_S = 60     # STRATEGIES.md: window 60 s, tick 5 s
MODEL_TICK_MS = 5000
DISTURB_START = 60      # meshtune-simnode(1): calm 60 s, then 300 s
DISTURB_END = 360

# The figure each scenario is judged by (STRATEGIES.md's thresholds):
# series, statistic, direction of "bad" (+1 above limit is bad, -1 below),
# the limit, and a divisor that turns a per-real-second rate into a
# per-model-second one (None: not a rate).
TARGETS = {
    # network: rtt_enter_ms, the BitCraps target.
    "congestion": ("net.rtt_ms", "p95", +1, 100.0),
    # memory: enter_frac x heap_limit_mb = 0.8 x 512.
    "memory-pressure": ("mem.heap_mb", "last", +1, 409.6),
    # mesh: loss_enter_pct.
    "peer-churn": ("mesh.loss_pct", "p90", +1, 5.0),
    # consensus: ops_min_rate, operations finalized per (model) second.
    "consensus-backlog": ("consensus.ops", "rate", -1, 100.0),
}

# Guard figures per scenario: the mean over the disturbance of each.
GUARDS = {
    "congestion": ["net.send_queue:p90", "consensus.round_ms:p95",
                   "cpu.util_pct:p90"],
    "memory-pressure": ["mem.cache_hit_pct:last", "net.rtt_ms:p95",
                        "consensus.round_ms:p95"],
    "peer-churn": ["mesh.dup_pct:p50", "net.rtt_ms:p95",
                   "consensus.round_ms:p95", "net.tx_bytes:rate"],
    "consensus-backlog": ["consensus.round_ms:p95", "consensus.pending:last",
                          "net.rtt_ms:p95", "cpu.util_pct:p90"],
}

# Every statistic a bundled strategy names as its expected effect, so
# that actions the governor could not verify (counters, too few
# samples) can still be judged from the samples.
EXPECTS = ["net.rtt_ms:p95", "consensus.ops:rate", "consensus.timeouts:rate",
           "consensus.round_ms:p95", "consensus.vote_cache_misses:rate",
           "mem.heap_mb:p50", "mem.cache_hit_pct:p50", "mesh.loss_pct:p90",
           "mesh.dup_pct:p50", "mesh.peers:p50", "mesh.peers:mean",
           "mem.frag_mb:last", "mesh.propagation_ms:p95",
           "net.tx_bytes:rate", "proc.cpu_pct:p90"]

RATE_STATS = ("rate",)


def series_for(scenario):
    """SERIES:STAT the sampler reads for a scenario (target first)."""
    name, stat, _, _ = TARGETS[scenario]
    out = ["%s:%s" % (name, stat)]
    for s in GUARDS[scenario] + EXPECTS:
        if s not in out:
            out.append(s)
    return out


def scaled(x, speed):
    """A duration in model seconds as whole real seconds, at least 1."""
    return max(1, int(round(x / speed)))


def conf(mode, d, speed, top_srcdir, plugin_dir):
    with open(os.path.join(top_srcdir, "etc", "meshtuned.conf")) as f:
        base = json.load(f)
    window = scaled(MODEL_WINDOW_S, speed)
    knobs = {}
    for name, k in base["knobs"].items():
        k = dict(k)
        k["cooldown_s"] = scaled(k.get("cooldown_s", 60), speed)
        k["verify_s"] = 0               # one window
        knobs[name] = k
    triggers = {}
    for name, k in base.get("triggers", {}).items():
        k = dict(k)
        k["cooldown_s"] = scaled(k.get("cooldown_s", 60), speed)
        triggers[name] = k
    # The strategies' cooldown: one window and two ticks.  The governor
    # verifies an action one window after it, at the next tick, and
    # judges that tick's proposals first: a strategy cooling down for
    # just a window proposes into the verification, is refused, and
    # waits a whole cooldown more (a step every 2 windows, measured).
    common = {"window_s": window,
              "cooldown_s": scaled(MODEL_WINDOW_S + 2 * MODEL_TICK_MS / 1000,
                                   speed)}
    extra = {
        "network": {"ncpu": 4},
        "consensus": {"ncpu": 4, "ops_min_rate": 100 * speed,
                      "cache_miss_rate": 10 * speed},
        "memory": {"trim_cooldown_s": scaled(300, speed)},
        "cpu": {"ncpu": 4},
        "mesh": {},
    }
    strategies = []
    if mode != "static":
        for s in base["strategies"]:
            s = dict(s)
            c = dict(s.get("config", {}))
            c.update(common)
            c.update(extra.get(s["name"], {}))
            s["config"] = c
            strategies.append(s)
    out = {
        "tick_interval_ms": max(100, int(round(MODEL_TICK_MS / speed))),
        "window": {"seconds": window, "slices": 30},
        "listen": {"statsd_unix": os.path.join(d, "statsd.sock"),
                   "api": os.path.join(d, "api.sock")},
        "node": {"pid_file": os.path.join(d, "node.pid")},
        "audit": {"path": os.path.join(d, "audit.db")},
        "plugin_dir": plugin_dir,
        "dry_run": mode == "dry_run",
        "governor": {"max_actions_per_hour":
                     int(base["governor"]["max_actions_per_hour"] * speed),
                     "flap_reversals": base["governor"]["flap_reversals"],
                     "flap_window_s":
                     scaled(base["governor"]["flap_window_s"], speed),
                     "guards": base["governor"].get("guards", [])},
        "actuators": {"node": {"type": "unix",
                               "path": os.path.join(d, "ctl.sock"),
                               "timeout_ms": 1000}},
        "knobs": knobs,
        "triggers": triggers,
        "strategies": strategies,
    }
    json.dump(out, sys.stdout, indent=1)
    print()


class UnixHTTP(http.client.HTTPConnection):
    def __init__(self, path, timeout):
        super().__init__("localhost", timeout=timeout)
        self.path = path

    def connect(self):
        s = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        s.settimeout(self.timeout)
        s.connect(self.path)
        self.sock = s


def get(conn, path):
    conn.request("GET", path)
    r = conn.getresponse()
    body = r.read()
    return r.status, body


def sample(api, out, interval, duration, specs):
    end = time.time() + duration
    conn = None
    with open(out, "w") as f:
        nxt = time.time()
        while time.time() < end:
            row = {"t": time.time(), "v": {}}
            for spec in specs:
                name, stat = spec.split(":")
                try:
                    if conn is None:
                        conn = UnixHTTP(api, 2)
                    st, body = get(conn, "/v1/series/" + name)
                except (OSError, http.client.HTTPException):
                    if conn is not None:
                        conn.close()
                    conn = None
                    continue
                if st != 200:
                    continue
                v = json.loads(body).get(stat)
                if isinstance(v, (int, float)):
                    row["v"][spec] = v
            f.write(json.dumps(row) + "\n")
            f.flush()
            nxt += interval
            time.sleep(max(0, nxt - time.time()))
    if conn is not None:
        conn.close()


def wall(ts):
    """An audit timestamp (ISO-8601 UTC) as seconds since the epoch."""
    return datetime.strptime(ts, "%Y-%m-%dT%H:%M:%S.%fZ").replace(
        tzinfo=timezone.utc).timestamp()


def value_at(rows, spec, t, speed):
    """The sampled value of spec nearest after wall time t, per model
    second for rates; None if none."""
    for r in rows:
        if r["t"] >= t and spec in r["v"]:
            v = r["v"][spec]
            return v / speed if spec.endswith(":rate") else v
    return None


def emit(scenario, mode, metric, value, unit=None):
    o = {"bench": "control", "scenario": scenario, "mode": mode,
         "metric": metric,
         "value": None if value is None else round(value, 3)}
    if unit:
        o["unit"] = unit
    print(json.dumps(o))


def report(scenario, mode, samples, db, t0, speed):
    name, stat, bad, limit = TARGETS[scenario]
    spec = "%s:%s" % (name, stat)
    rows = []
    with open(samples) as f:
        for line in f:
            rows.append(json.loads(line))

    def model(t):
        return (t - t0) * speed

    # The target during the disturbance, [DISTURB_START, DISTURB_END).
    pts = []
    for r in rows:
        m = model(r["t"])
        if DISTURB_START <= m < DISTURB_END and spec in r["v"]:
            v = r["v"][spec]
            if stat in RATE_STATS:
                v /= speed
            pts.append((m, v))
    above = [m for m, v in pts if (v > limit if bad > 0 else v < limit)]
    if not pts:
        above_pct = recover = None
    else:
        above_pct = 100.0 * len(above) / len(pts)
        if not above:
            recover = 0.0
        elif above[-1] == pts[-1][0]:
            recover = None      # still off target when it ended
        else:
            nxt = [m for m, _ in pts if m > above[-1]][0]
            recover = nxt - DISTURB_START
    emit(scenario, mode, "recover_s", recover, "s")
    emit(scenario, mode, "time_above_target_pct", above_pct, "%")
    emit(scenario, mode, "target_samples", len(pts))

    # Guards: the mean over the disturbance.
    for g in GUARDS[scenario]:
        vs = [r["v"][g] for r in rows
              if g in r["v"] and DISTURB_START <= model(r["t"]) < DISTURB_END]
        if g.endswith(":rate"):
            vs = [v / speed for v in vs]
        emit(scenario, mode, "guard:" + g.replace(":", "."),
             sum(vs) / len(vs) if vs else None)

    # The audit log.
    c = sqlite3.connect("file:%s?mode=ro" % db, uri=True)
    c.row_factory = sqlite3.Row
    acts = c.execute("SELECT * FROM actions WHERE kind != 'rollback' "
                     "ORDER BY id").fetchall()
    done = [a for a in acts if a["status"] in ("applied", "dry_run")]
    rbs = c.execute("SELECT * FROM actions WHERE kind = 'rollback' "
                    "ORDER BY id").fetchall()
    failed = [a for a in acts if a["status"] in ("failed", "rejected")]
    flaps = c.execute("SELECT count(*) FROM events WHERE kind = 'flap'"
                      ).fetchone()[0]
    # Reversals: one strategy turning one knob back the way it came.
    last = {}
    reversals = 0
    for a in done:
        if a["kind"] != "set" or a["old_value"] is None:
            continue
        d = (a["new_value"] > a["old_value"]) - \
            (a["new_value"] < a["old_value"])
        key = (a["strategy"], a["knob"])
        if key in last and last[key] == -d and d != 0:
            reversals += 1
        last[key] = d
    emit(scenario, mode, "actions", len(done))
    emit(scenario, mode, "rollbacks", len(rbs))
    emit(scenario, mode, "flaps", flaps)
    emit(scenario, mode, "reversals", reversals)
    emit(scenario, mode, "failed", len(failed))

    # Every applied action that made its metric worse: rolled back
    # within its verify window (plus two ticks of slack)?  Kept ones
    # improved by >= 10 % (the governor's rule); unverified ones are
    # judged here from the samples, baseline against one window on.
    worse_kept = 0
    late = 0
    tick = MODEL_TICK_MS / 1000.0 / speed
    by_parent = {r["parent_id"]: r for r in rbs}
    for a in done:
        if a["status"] != "applied" or a["expect_dir"] in (None, 0):
            continue
        vs = a["verify_s"] or 0
        if a["outcome"] == "rolled_back":
            r = by_parent.get(a["id"])
            if r is None or wall(r["ts"]) - wall(a["done_ts"]) > \
                    vs + 2 * tick:
                late += 1
        elif a["outcome"] in (None, "unverified") and \
                a["baseline"] is not None and a["done_ts"] is not None:
            espec = "%s:%s" % (a["expect_metric"], a["expect_stat"])
            after = value_at(rows, espec, wall(a["done_ts"]) + vs, speed)
            base = a["baseline"]
            if a["expect_stat"] in RATE_STATS:
                base /= speed
            if after is not None and (after - base) * a["expect_dir"] < 0:
                worse_kept += 1
    if mode == "applying":
        emit(scenario, mode, "worse_not_rolled_back", worse_kept)
        emit(scenario, mode, "rollbacks_late", late)
    # What was done, for the log (stderr).
    for a in done:
        print("  %s %-9s %-26s %g -> %g %s %s" % (
            a["status"], a["strategy"], a["knob"],
            a["old_value"] if a["old_value"] is not None else float("nan"),
            a["new_value"], a["outcome"] or "",
            "t=%.0f" % model(wall(a["ts"]))), file=sys.stderr)
    c.close()


def main(argv):
    if len(argv) >= 4 and argv[1] == "conf":
        conf(argv[2], argv[3], float(argv[4]), argv[5], argv[6])
    elif len(argv) >= 6 and argv[1] == "sample":
        specs = argv[6:]
        sample(argv[2], argv[3], float(argv[4]), float(argv[5]), specs)
    elif len(argv) == 3 and argv[1] == "series":
        print(" ".join(series_for(argv[2])))
    elif len(argv) == 8 and argv[1] == "report":
        report(argv[2], argv[3], argv[4], argv[5], float(argv[6]),
               float(argv[7]))
    else:
        print("usage: control.py conf|sample|series|report ...",
              file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
