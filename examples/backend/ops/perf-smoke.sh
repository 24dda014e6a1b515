#!/usr/bin/env bash
# Starts the example backend (release build), runs the perf smoke plan against it with its PID
# (CPU time and peak RSS per scenario), and stops it. Extra arguments go to `stanchion perf
# run`, e.g. `--duration 20 --markdown perf-smoke.md`. Exits with stanchion's code: 0 every
# threshold passed, 1 a threshold failed, 2 unusable input.
set -euo pipefail
cd "$(dirname "$0")/../../.."

cargo build --release -q -p example-backend -p stanchion-cli
export PATH="$PWD/target/release:$PATH"
addr="${BACKEND_ADDR:-127.0.0.1:8080}"
log="${BACKEND_LOG:-${TMPDIR:-/tmp}/perf-smoke-backend.log}"

# No drain delay: nothing routes to this backend by its readiness, so stopping it need not wait.
BACKEND_ADDR="$addr" BACKEND_SHUTDOWN_DELAY_MS=0 backend >"$log" 2>&1 &
pid=$!
trap 'kill "$pid" 2>/dev/null; wait "$pid" 2>/dev/null || true' EXIT
for _ in $(seq 100); do
    if (exec 3<>"/dev/tcp/${addr%:*}/${addr##*:}") 2>/dev/null; then break; fi
    kill -0 "$pid" 2>/dev/null || { echo "perf-smoke: the backend exited; see $log" >&2; exit 2; }
    sleep 0.1
done

stanchion perf run examples/backend/ops/perf-smoke.toml --base-url "http://$addr" --pid "$pid" "$@"
