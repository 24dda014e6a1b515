#!/usr/bin/env bash
# `stanchion perf run` side by side with wrk (Debian's `wrk`) on the same target: the example
# backend's /livez, the server pinned to CPU 1 and each load generator to CPU 0, one thread
# each. Reports throughput, latency percentiles and each tool's own CPU time, from which an
# estimate of its ceiling on one core follows (requests per CPU-second; not a measurement at
# saturation unless the tool's core is saturated). Run by hand:
#     benches/perf-vs-wrk.sh            # 10 s per run, 10 connections, 2 rounds
#     SECS=20 CONNS=20 ROUNDS=3 benches/perf-vs-wrk.sh
# Results: docs/benchmarks.md.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v wrk >/dev/null || { echo "perf-vs-wrk: wrk is not installed (apt-get install wrk)" >&2; exit 2; }

secs="${SECS:-10}"
conns="${CONNS:-10}"
rounds="${ROUNDS:-2}"
addr="127.0.0.1:${PORT:-18181}"
cargo build --release -q -p example-backend -p stanchion-cli
bin="$PWD/target/release"
work="$(mktemp -d)"

# No drain delay: nothing routes to this backend by its readiness, so stopping it need not wait.
BACKEND_ADDR="$addr" BACKEND_SHUTDOWN_DELAY_MS=0 taskset -c 1 "$bin/backend" >/dev/null 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true; rm -rf "$work"' EXIT
for _ in $(seq 100); do
    if (exec 3<>"/dev/tcp/${addr%:*}/${addr##*:}") 2>/dev/null; then break; fi
    sleep 0.1
done

closed_plan="$work/closed.toml"
cat >"$closed_plan" <<PLAN
[[scenario]]
name = "livez"
path = "/livez"
model = "closed"
clients = $conns
duration = "${secs}s"
PLAN

# CPU seconds (user + system) of a finished command, from GNU time's output file.
cpu() { awk '{ printf "%.2f", $1 + $2 }' "$1"; }

printf '%-28s %10s %10s %9s %9s %9s %8s %14s\n' tool requests "req/s" p50 p99 max "cpu s" "req/cpu-s"
for round in $(seq "$rounds"); do
    /usr/bin/time -f '%U %S' -o "$work/wrk.time" \
        taskset -c 0 wrk -t1 -c"$conns" -d"${secs}s" --latency "http://$addr/livez" >"$work/wrk.out"
    requests=$(awk '/requests in/ { print $1 }' "$work/wrk.out")
    rps=$(awk '/Requests\/sec/ { print $2 }' "$work/wrk.out")
    p50=$(awk '$1 == "50%" { print $2 }' "$work/wrk.out")
    p99=$(awk '$1 == "99%" { print $2 }' "$work/wrk.out")
    max=$(awk '$1 == "Latency" && NF >= 4 { print $4; exit }' "$work/wrk.out")
    c=$(cpu "$work/wrk.time")
    printf '%-28s %10s %10.0f %9s %9s %9s %8s %14.0f\n' "wrk -t1 -c$conns (round $round)" "$requests" "$rps" "$p50" "$p99" "$max" "$c" "$(awk -v r="$requests" -v c="$c" 'BEGIN { print r / c }')"

    /usr/bin/time -f '%U %S' -o "$work/perf.time" \
        taskset -c 0 "$bin/stanchion" perf run "$closed_plan" --base-url "http://$addr" \
        --threads 1 --json "$work/perf.json" >/dev/null
    read -r requests rps p50 p99 max < <(python3 - "$work/perf.json" <<'PY'
import json, sys
s = json.load(open(sys.argv[1]))["scenarios"][0]
l = s["latency"]
ms = lambda v: f"{v * 1e3:.2f}ms"
print(s["requests"]["sent"], s["rate"]["achieved"], ms(l["p50"]), ms(l["p99"]), ms(l["max"]))
PY
)
    c=$(cpu "$work/perf.time")
    printf '%-28s %10s %10.0f %9s %9s %9s %8s %14.0f\n' "stanchion closed $conns (round $round)" "$requests" "$rps" "$p50" "$p99" "$max" "$c" "$(awk -v r="$requests" -v c="$c" 'BEGIN { print r / c }')"
done
