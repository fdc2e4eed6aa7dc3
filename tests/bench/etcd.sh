#!/usr/bin/env bash
# The figures of README.md's "Locks kept in etcd" table, reproducibly
# (make bench-etcd):
#   - a 3-member etcd cluster on free loopback ports, data on tmpfs (/dev/shm),
#     started with the flags of tests/common/etcd.rs;
#   - flom-bench cycle and flom-bench contend -c 8 (-t ETCD_BENCH_TIME, 3 s)
#     against an etcd daemon on that cluster and against an in-memory daemon,
#     each on a private socket;
#   - `flom -r NAME -- true` through the etcd daemon and
#     `etcdctl lock NAME true` on the same cluster, alternated (with
#     `flom -r NAME -- true` through the in-memory daemon in between, the
#     table's in-memory column), ETCD_BENCH_RUNS runs each (40): mean and
#     median wall time of each and the ratio flom/etcdctl (goal: at most 0.5x).
# Everything it starts (cluster, daemons) is stopped and its data removed
# on exit, whatever happens.
#
# Usage: tests/bench/etcd.sh [FLOM [FLOM_BENCH]]
#   or FLOM=... FLOM_BENCH=... tests/bench/etcd.sh
#   (default target/release/flom and target/release/flom-bench)
# Env: ETCD_BENCH_RUNS (40), ETCD_BENCH_TIME (3), ETCD (etcd), ETCDCTL (etcdctl)
set -euo pipefail

FLOM=${1:-${FLOM:-target/release/flom}}
FLOM_BENCH=${2:-${FLOM_BENCH:-target/release/flom-bench}}
RUNS=${ETCD_BENCH_RUNS:-40}
TIME=${ETCD_BENCH_TIME:-3}
ETCD=${ETCD:-etcd}
ETCDCTL=${ETCDCTL:-etcdctl}
export ETCDCTL_API=3

if ! command -v "$ETCD" >/dev/null 2>&1; then
    echo "bench-etcd: etcd is not installed (Debian: apt-get install etcd-server etcd-client), or set ETCD" >&2
    exit 1
fi
if ! command -v "$ETCDCTL" >/dev/null 2>&1; then
    echo "bench-etcd: etcdctl is not installed (Debian: apt-get install etcd-client), or set ETCDCTL" >&2
    exit 1
fi
for b in "$FLOM" "$FLOM_BENCH"; do
    [ -x "$b" ] || { echo "bench-etcd: $b is not an executable (run make build)" >&2; exit 1; }
done
case $RUNS in ''|*[!0-9]*|0) echo "bench-etcd: ETCD_BENCH_RUNS must be a positive integer" >&2; exit 1;; esac

base=/tmp
[ -d /dev/shm ] && [ -w /dev/shm ] && base=/dev/shm
dir=$(mktemp -d "$base/flom-bench-etcd.XXXXXX")
sock_etcd=$dir/se
sock_mem=$dir/sm
etcd_pids=()
endpoints=
etcd_opts=()

cleanup() {
    local rc=$?
    trap - EXIT INT TERM
    set +e
    if [ -S "$sock_etcd" ]; then
        "$FLOM" -s "$sock_etcd" "${etcd_opts[@]}" -X >/dev/null 2>&1
    fi
    if [ -S "$sock_mem" ]; then
        "$FLOM" -s "$sock_mem" -X >/dev/null 2>&1
    fi
    # A daemon that did not stop on -X (etcd gone meanwhile): by its pid.
    for p in ${pid_etcd:-} ${pid_mem:-}; do
        kill -0 "$p" 2>/dev/null && kill "$p" 2>/dev/null
    done
    # The members: SIGTERM, SIGKILL after 3 s (a leader whose peers are gone
    # tries to hand its leadership over before it exits).
    for p in "${etcd_pids[@]}"; do
        kill "$p" 2>/dev/null
    done
    for _ in $(seq 30); do
        alive=
        for p in "${etcd_pids[@]}"; do
            kill -0 "$p" 2>/dev/null && alive=1
        done
        [ -z "$alive" ] && break
        sleep 0.1
    done
    for p in "${etcd_pids[@]}"; do
        kill -9 "$p" 2>/dev/null
        wait "$p" 2>/dev/null
    done
    if [ "$rc" -ne 0 ] && [ "$rc" -ne 130 ] && [ "$rc" -ne 143 ]; then
        for f in "$dir"/m*.log; do
            [ -f "$f" ] && { echo "--- last lines of $f:" >&2; tail -5 "$f" >&2; }
        done
    fi
    rm -rf "$dir"
    exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# Six free loopback ports (bound together, then given back).
free_ports() {
    if command -v python3 >/dev/null 2>&1; then
        python3 -c '
import socket
ss = [socket.socket() for _ in range(6)]
for s in ss: s.bind(("127.0.0.1", 0))
print(" ".join(str(s.getsockname()[1]) for s in ss))'
    else
        # No python3: random ports that nothing listens on now.
        local used n out=() p
        used=$(ss -Htan 2>/dev/null | awk '{print $4}' | sed 's/.*://' | sort -u)
        while [ ${#out[@]} -lt 6 ]; do
            p=$((20000 + RANDOM % 40000))
            grep -qx "$p" <<<"$used" && continue
            for n in "${out[@]}"; do [ "$n" = "$p" ] && continue 2; done
            out+=("$p")
        done
        echo "${out[*]}"
    fi
}

# ------------------------------------------------------------ etcd cluster
read -r -a ports <<<"$(free_ports)"
token=flom-bench-$$
initial=
for i in 0 1 2; do
    initial+="${initial:+,}m$i=http://127.0.0.1:${ports[$((3 + i))]}"
    endpoints+="${endpoints:+,}http://127.0.0.1:${ports[$i]}"
done
for i in 0 1 2; do
    client=http://127.0.0.1:${ports[$i]}
    peer=http://127.0.0.1:${ports[$((3 + i))]}
    "$ETCD" --name "m$i" --data-dir "$dir/m$i" \
        --listen-client-urls "$client" --advertise-client-urls "$client" \
        --listen-peer-urls "$peer" --initial-advertise-peer-urls "$peer" \
        --initial-cluster "$initial" --initial-cluster-state new \
        --initial-cluster-token "$token" \
        --heartbeat-interval 100 --election-timeout 1000 \
        >/dev/null 2>"$dir/m$i.log" &
    etcd_pids+=($!)
done
ready=
for _ in $(seq 200); do
    if "$ETCDCTL" --endpoints="$endpoints" --command-timeout=2s \
        endpoint health >/dev/null 2>&1 &&
        "$ETCDCTL" --endpoints="$endpoints" --command-timeout=2s \
            put /flom-bench-ready 1 >/dev/null 2>&1; then
        ready=1
        break
    fi
    sleep 0.1
done
[ -n "$ready" ] || { echo "bench-etcd: the etcd cluster did not serve within 20 s ($dir)" >&2; exit 1; }
etcd_opts=(--etcd-endpoints="$endpoints" --etcd-lease-ttl=10)

echo "etcd $("$ETCD" --version | sed -n 's/^etcd Version: //p'): 3 members on $endpoints, data on $base"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores"

# ----------------------------------------------------------------- daemons
"$FLOM" -s "$sock_etcd" "${etcd_opts[@]}" -d -1 -- true
pid_etcd=$(pgrep -o -f -- "flom -s $sock_etcd --etcd-endpoints=$endpoints --etcd-lease-ttl=10 -d -1")
"$FLOM" -s "$sock_mem" -d -1 -- true
pid_mem=$(pgrep -o -f -- "flom -s $sock_mem -d -1")
echo "etcd daemon pid $pid_etcd (socket $sock_etcd), in-memory daemon pid $pid_mem (socket $sock_mem)"

# --------------------------------------------------------------- flom-bench
echo
echo "== flom-bench, -t $TIME s each"
for kind in memory etcd; do
    if [ $kind = etcd ]; then s=$sock_etcd p=$pid_etcd; else s=$sock_mem p=$pid_mem; fi
    echo "-- $kind daemon"
    "$FLOM_BENCH" cycle -s "$s" -p "$p" -t "$TIME"
    "$FLOM_BENCH" contend -c 8 -s "$s" -p "$p" -t "$TIME"
done

# ------------------------------------------- flom -- true vs etcdctl lock
# Wall time of one run, in microseconds, without a fork for the clock.
now_us() {
    local t=${EPOCHREALTIME/[.,]/}
    echo "$t"
}
echo
echo "== flom -r NAME -- true (etcd daemon), etcdctl lock NAME true, flom -r NAME -- true (in-memory daemon), alternated, $RUNS runs each"
: >"$dir/flom.us"
: >"$dir/etcdctl.us"
: >"$dir/mem.us"
for _ in $(seq "$RUNS"); do
    t0=$(now_us)
    "$FLOM" -s "$sock_etcd" "${etcd_opts[@]}" -r flombench -- true
    t1=$(now_us)
    "$ETCDCTL" --endpoints="$endpoints" lock etcdctlbench true
    t2=$(now_us)
    "$FLOM" -s "$sock_mem" -r flombench -- true
    t3=$(now_us)
    echo $((t1 - t0)) >>"$dir/flom.us"
    echo $((t2 - t1)) >>"$dir/etcdctl.us"
    echo $((t3 - t2)) >>"$dir/mem.us"
done

# "MEAN MEDIAN" in milliseconds of a file of microsecond figures.
stats() {
    sort -n "$1" | awk '{ v[NR] = $1; s += $1 }
        END { m = (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2
              printf "%.1f %.1f\n", s / NR / 1000, m / 1000 }'
}
read -r f_mean f_med < <(stats "$dir/flom.us")
read -r e_mean e_med < <(stats "$dir/etcdctl.us")
read -r m_mean m_med < <(stats "$dir/mem.us")
printf 'flom -- true, in-memory daemon: mean %6.1f ms, median %6.1f ms\n' "$m_mean" "$m_med"
printf 'flom -- true, etcd daemon:      mean %6.1f ms, median %6.1f ms\n' "$f_mean" "$f_med"
printf 'etcdctl lock NAME true:         mean %6.1f ms, median %6.1f ms\n' "$e_mean" "$e_med"
awk -v a="$f_mean" -v b="$e_mean" -v c="$f_med" -v d="$e_med" \
    'BEGIN { printf "flom/etcdctl: %.2fx (mean), %.2fx (median)\n", a / b, c / d }'
echo "goal: at most 0.5x"
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
