#!/bin/sh
# ingest.sh -- end-to-end StatsD ingest benchmark (issue 4, "Benchmarks").
#
# meshtuned is pinned to CPU 0 and the sender (tests/bench/loadgen) to
# CPU 1, over 127.0.0.1 only, every port picked by the kernel (port 0,
# read back).  Figures, one JSON object per line:
#
#   parse_lps                 in process, parser + registry (bench_ingest)
#   ingest_sustained_lps k=K  highest rate held for HOLD_S seconds with
#                             loss < 0.1%; loss = lines sent - lines the
#                             API counts as parsed good and stored (so
#                             kernel drops, parse errors and registry
#                             drops), over lines sent
#   bare_sustained_lps k=K    the same for tests/bench/bare_receiver,
#                             with UDP_GRO as meshtuned (-g; BARE_GRO=0
#                             runs it without)
#   ratio_to_bare k=K         the two above, divided
#   ingest_lines_per_cpu_s    lines over meshtuned's CPU time (user+sys,
#                             /proc/PID/stat) in the held run: what one
#                             core could take, should the sender not
#                             keep up
#   ingest_cpu_pct_at_100k    meshtuned's CPU over 10 s at 100k lines/s,
#   rss_kb                    and its VmRSS after it, for 1,000 and 10,000
#                             series (a fresh daemon each)
#
# The search, per K: one short trial (TRIAL_S) at the sender's full speed;
# if the receiver holds it, that is the answer (marked sender_limited);
# else, from 1.2 times what the receiver took in that trial, halve the
# rate until a trial holds, then bisect between the last hold and loss
# (BISECT steps), then hold the best rate for HOLD_S; if that loses, step
# down 5% and hold again (four times at most).  The sender uses UDP GSO
# (-G): without it one core of loopback sends only ~0.1M datagrams/s
# here.  It holds what is due for up to QUANTUM_US (1000) microseconds to
# fill a GSO send, as a client flushing every millisecond would (-q; 0
# sends each datagram as soon as it is due, which at a few hundred
# thousand datagrams/s means calls of about one datagram and no GSO/GRO
# saving).
#
# Environment: top_builddir (required), INGEST_KS ("1 10 25"; empty: only
# the in-process, CPU and memory figures), TRIAL_S (2), HOLD_S (10),
# BISECT (3), INGEST_SERIES (1000), QUANTUM_US (1000), INGEST_QUICK=1 (1 s
# trials, 3 s holds, one bisect step: a smoke run, figures not valid).
set -eu

: "${top_builddir:?run through make bench}"
KS=${INGEST_KS-1 10 25}
TRIAL_S=${TRIAL_S:-2}
HOLD_S=${HOLD_S:-10}
BISECT=${BISECT:-3}
SERIES=${INGEST_SERIES:-1000}
QUANTUM_US=${QUANTUM_US:-1000}
if [ "${INGEST_QUICK:-0}" = 1 ]; then
	TRIAL_S=1 HOLD_S=3 BISECT=1
fi
LOADGEN=$top_builddir/tests/bench/loadgen
BARE=$top_builddir/tests/bench/bare_receiver
INPROC=$top_builddir/tests/bench/bench_ingest
DAEMON=$top_builddir/meshtuned

for t in curl jq taskset; do
	command -v $t >/dev/null 2>&1 || {
		echo "ingest.sh: $t is needed" >&2
		exit 1
	}
done

T=$(mktemp -d /tmp/meshtune-bench.XXXXXX)
PIDS=""
cleanup() {
	for p in $PIDS; do kill -TERM "$p" 2>/dev/null || true; done
	for p in $PIDS; do wait "$p" 2>/dev/null || true; done
	rm -rf "$T"
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Pin only where there are two CPUs to pin to.
if [ "$(nproc)" -ge 2 ]; then
	RX="taskset -c 0"
	TX="taskset -c 1"
else
	RX="" TX=""
	echo "ingest.sh: one CPU, nothing pinned" >&2
fi
CLK_TCK=$(getconf CLK_TCK)

emit() {	# metric k value unit [extra json]
	printf '{"bench":"ingest","metric":"%s"' "$1"
	[ "$2" = - ] || printf ',"k":%s' "$2"
	printf ',"value":%s,"unit":"%s"%s}\n' "$3" "$4" "${5:-}"
}

# cpu_ticks PID: utime + stime.
cpu_ticks() {
	awk '{ print $14 + $15 }' "/proc/$1/stat"
}

# wait_file FILE PATTERN: poll up to 5 s.
wait_file() {
	wf_n=100
	while [ $wf_n -gt 0 ]; do
		grep -q -- "$2" "$1" 2>/dev/null && return 0
		sleep 0.05
		wf_n=$((wf_n - 1))
	done
	echo "ingest.sh: timed out waiting for '$2' in $1" >&2
	cat "$1" >&2
	exit 1
}

# --- the two receivers: start, count, stop --------------------------------

daemon_start() {	# max_series
	cat > "$T/conf" <<EOF
{ "listen": { "statsd_udp": "127.0.0.1:0", "api": "127.0.0.1:0" },
  "audit": { "path": "$T/audit.db" },
  "limits": { "max_series": $1 } }
EOF
	$RX "$DAEMON" -f -c "$T/conf" 2>"$T/log" &
	RPID=$!
	PIDS="$PIDS $RPID"
	wait_file "$T/log" "started"
	PORT=$(sed -n 's/.*listening on udp 127\.0\.0\.1:\([0-9]*\).*/\1/p' \
	    "$T/log")
	API=$(sed -n 's/.*api: listening on 127\.0\.0\.1 port \([0-9]*\).*/\1/p' \
	    "$T/log")
	[ -n "$PORT" ] && [ -n "$API" ] || {
		echo "ingest.sh: no ports in the daemon log" >&2
		exit 1
	}
	KIND=daemon
}

bare_start() {
	if [ "${BARE_GRO:-1}" = 1 ]; then
		$RX "$BARE" -g > "$T/bare" &
	else
		$RX "$BARE" > "$T/bare" &
	fi
	RPID=$!
	PIDS="$PIDS $RPID"
	wait_file "$T/bare" '"port"'
	PORT=$(sed -n 's/{"port":\([0-9]*\)}/\1/p' "$T/bare")
	KIND=bare
}

receiver_stop() {
	kill -TERM "$RPID"
	wait "$RPID" || true
	PIDS=$(echo "$PIDS" | sed "s/ $RPID\$//; s/ $RPID / /")
}

# counts: "good kernel_drops" so far: lines parsed and stored.
counts() {
	if [ $KIND = daemon ]; then
		curl -sf "http://127.0.0.1:$API/v1/status" | jq -r '.ingest |
		    "\(.lines - ([.errors[]] | add) - .dropped) \(.kernel_drops)"'
	else
		c_n=$(grep -c . "$T/bare")
		kill -USR1 "$RPID"
		while [ "$(grep -c . "$T/bare")" -le "$c_n" ]; do
			sleep 0.02
		done
		tail -n 1 "$T/bare" | jq -r '.bare |
		    "\(.lines - .bad) \(.kernel_drops)"'
	fi
}

# settle: wait until the receiver has drained its socket (counts steady).
settle() {
	prev=$(counts)
	s_n=0
	while [ $s_n -lt 30 ]; do
		sleep 0.1
		cur=$(counts)
		[ "$cur" = "$prev" ] && break
		prev=$cur
		s_n=$((s_n + 1))
	done
	echo "$cur"
}

# trial RATE K SECS [SERIES]: send; sets SENT ACH GOOD KDROPS LOSS OK CPU.
trial() {
	set -- "$1" "$2" "$3" "${4:-$SERIES}"
	before=$(settle)
	t0=$(cpu_ticks "$RPID")
	$TX "$LOADGEN" -G -q "$QUANTUM_US" -a "127.0.0.1:$PORT" -r "$1" \
	    -k "$2" -t "$3" -c "$4" > "$T/lg"
	t1=$(cpu_ticks "$RPID")
	after=$(settle)
	SENT=$(jq -r .loadgen.lines "$T/lg")
	ACH=$(jq -r '.loadgen.lps' "$T/lg")
	GOOD=$(( ${after% *} - ${before% *} ))
	KDROPS=$(( ${after#* } - ${before#* } ))
	CPU=$(( t1 - t0 ))
	LOSS=$(awk -v s="$SENT" -v g="$GOOD" 'BEGIN {
	    printf "%.5f", (s > 0 ? (s - g) / s : 1) }')
	OK=$(awk -v l="$LOSS" -v s="$SENT" 'BEGIN { print (s > 0 && l < 0.001) }')
	echo "ingest.sh: $KIND k=$2 rate=$1 sent=$SENT ($ACH/s)" \
	    "good=$GOOD kernel_drops=$KDROPS loss=$LOSS cpu_ticks=$CPU" >&2
}

# search K: the highest rate held; sets HELD HELD_CPU LIMITED.
search() {
	k=$1
	LIMITED=false
	trial 0 "$k" "$TRIAL_S"
	top=$ACH
	if [ "$OK" = 1 ]; then
		best=$top
		LIMITED=true
	else
		lo=0
		# A flood shows what the receiver takes: start a bit above
		# that, not at the sender's speed (with GSO, tens of times
		# more than any receiver).
		hi=$(awk -v t="$top" -v g="$GOOD" -v s="$TRIAL_S" 'BEGIN {
		    c = 1.2 * g / s; printf "%.0f", (c > 0 && c < t) ? c : t }')
		i=0
		halvings=0
		# Halve until one holds (4 times at most), then bisect.
		while [ $i -lt "$BISECT" ]; do
			if [ "$lo" = 0 ]; then
				[ $halvings -ge 4 ] && break
				r=$(awk -v h="$hi" 'BEGIN { printf "%.0f", h / 2 }')
				halvings=$((halvings + 1))
			else
				r=$(awk -v a="$lo" -v b="$hi" \
				    'BEGIN { printf "%.0f", (a + b) / 2 }')
				i=$((i + 1))
			fi
			trial "$r" "$k" "$TRIAL_S"
			if [ "$OK" = 1 ]; then lo=$r; else hi=$r; fi
		done
		best=$lo
	fi
	# Hold it; step down 5% on loss, four times at most.
	j=0
	while :; do
		if [ $LIMITED = true ]; then r=0; else r=$best; fi
		trial "$r" "$k" "$HOLD_S"
		if [ "$OK" = 1 ] || [ $j -ge 4 ]; then
			break
		fi
		LIMITED=false
		best=$(awk -v b="$best" 'BEGIN { printf "%.0f", b * 0.95 }')
		j=$((j + 1))
	done
	if [ "$OK" = 1 ]; then HELD=$ACH; else HELD=0; fi
	HELD_CPU=$CPU
	HELD_GOOD=$GOOD
}

echo "ingest.sh: $(nproc) CPUs, load $(cut -d' ' -f1-3 /proc/loadavg)" >&2

# --- in process ------------------------------------------------------------
"$INPROC"

# --- sustained rates: bare receiver, then meshtuned, per K -----------------
for k in $KS; do
	bare_start
	search "$k"
	bare=$HELD
	receiver_stop
	emit bare_sustained_lps "$k" "$bare" lines/s \
	    ",\"sender_limited\":$LIMITED"
	[ "$HELD_CPU" -gt 0 ] && emit bare_lines_per_cpu_s "$k" \
	    "$(awk -v g="$HELD_GOOD" -v c="$HELD_CPU" -v t="$CLK_TCK" \
	    'BEGIN { printf "%.0f", g / (c / t) }')" lines/s

	daemon_start 20000
	search "$k"
	receiver_stop
	emit ingest_sustained_lps "$k" "$HELD" lines/s \
	    ",\"sender_limited\":$LIMITED"
	[ "$HELD_CPU" -gt 0 ] && emit ingest_lines_per_cpu_s "$k" \
	    "$(awk -v g="$HELD_GOOD" -v c="$HELD_CPU" -v t="$CLK_TCK" \
	    'BEGIN { printf "%.0f", g / (c / t) }')" lines/s
	[ "$bare" != 0 ] && emit ratio_to_bare "$k" \
	    "$(awk -v a="$HELD" -v b="$bare" 'BEGIN { printf "%.3f", a / b }')" \
	    ratio
done

# --- CPU and memory at 100k lines/s (K=10) ---------------------------------
for nser in 1000 10000; do
	daemon_start 20000
	trial 100000 10 10 "$nser"
	pct=$(awk -v c="$CPU" -v t="$CLK_TCK" -v s="$(jq -r .loadgen.seconds \
	    "$T/lg")" 'BEGIN { printf "%.2f", 100 * c / t / s }')
	rss=$(awk '/^VmRSS:/ { print $2 }' "/proc/$RPID/status")
	series=$(curl -sf "http://127.0.0.1:$API/v1/status" | jq .series)
	receiver_stop
	emit ingest_cpu_pct_at_100k 10 "$pct" "%" \
	    ",\"series\":$nser,\"loss\":$LOSS"
	emit rss_kb - "$rss" kB ",\"series\":$nser,\"series_held\":$series"
done
echo "ingest.sh: done, load $(cut -d' ' -f1-3 /proc/loadavg)" >&2
