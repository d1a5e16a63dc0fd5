#!/usr/bin/env bash
# A load test of `ddp serve` (a benchmark, not part of CI): wrk -t2 -c64 for
# 30 s with a mix of valid and malformed requests (launch/load/mixed.lua),
# plus 300 half-open connections that send half a request and stop; /healthz
# is timed meanwhile on fresh connections (p50/p99); SIGTERM arrives 25 s in,
# under load. Prints wrk's figures, the answers by status, /healthz latency,
# and the service's exit code.
#
#   launch/serve-load.sh [--duration 30] [--half-open 300]
set -euo pipefail
cd "$(dirname "$0")/.."

duration=30
half_open=300
while [ $# -gt 0 ]; do
    case "$1" in
        --duration) duration="$2"; shift 2 ;;
        --half-open) half_open="$2"; shift 2 ;;
        *) echo "usage: launch/serve-load.sh [--duration S] [--half-open N]" >&2; exit 2 ;;
    esac
done
command -v wrk >/dev/null || { echo "serve-load: installing wrk"; apt-get install -y -q wrk >/dev/null; }
launch/setup.sh release >/dev/null
ddp=.build/release/ddp
work=$(mktemp -d /tmp/ddp-serve-load.XXXXXX)
serve_pid=
trap 'kill ${serve_pid:-} 2>/dev/null || true; rm -rf "$work"' EXIT

cat >"$work/model.yaml" <<'YAML'
model:
  kind: mlp
  hidden: [64]
data:
  dataset: synthetic_classes
  samples: 2048
  features: 12
  classes: 4
training:
  batch_size: 64
  steps: 50
  epochs: 0
YAML
"$ddp" train --config "$work/model.yaml" --run-dir "$work/run" --plain >/dev/null
"$ddp" serve --checkpoint "$work/run" --port 0 --idle-timeout 10 --max-connections 1024 >"$work/serve.log" 2>&1 &
serve_pid=$!
for _ in $(seq 100); do grep -q "on http://" "$work/serve.log" && break; sleep 0.1; done
port=$(grep -o 'on http://127.0.0.1:[0-9]*' "$work/serve.log" | grep -o '[0-9]*$')
echo "serve-load: ddp serve on port $port (pid $serve_pid)"

# Half-open connections (half a request each, then silence) and the /healthz probe, in one Python process.
python3 - "$port" "$half_open" "$duration" >"$work/probe.txt" <<'PY' &
import socket, sys, time
port, count, duration = int(sys.argv[1]), int(sys.argv[2]), float(sys.argv[3])
held = []
for _ in range(count):
    s = socket.create_connection(("127.0.0.1", port))
    s.sendall(b"POST /v1/predict HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n")
    held.append(s)
times = []
end = time.time() + duration * 0.8
while time.time() < end:
    start = time.perf_counter()
    try:
        c = socket.create_connection(("127.0.0.1", port), timeout=5)
        c.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        data = b""
        while True:
            chunk = c.recv(4096)
            if not chunk: break
            data += chunk
        c.close()
        if data.startswith(b"HTTP/1.1 200"): times.append(time.perf_counter() - start)
    except OSError:
        pass
    time.sleep(0.05)
times.sort()
def q(p): return times[min(len(times) - 1, int(p * len(times)))] * 1000 if times else float("nan")
print(f"healthz: {len(times)} answered, p50 {q(0.5):.1f} ms, p99 {q(0.99):.1f} ms, max {times[-1]*1000 if times else float('nan'):.1f} ms")
PY
probe_pid=$!
sleep 1
( sleep $((duration * 5 / 6)); kill -TERM $serve_pid ) &
wrk -t2 -c64 -d"${duration}s" --latency -s launch/load/mixed.lua "http://127.0.0.1:$port/v1/predict" | tee "$work/wrk.txt"
wait $probe_pid || true
cat "$work/probe.txt"
status=0
wait $serve_pid || status=$?
echo "serve-load: ddp serve exited $status after SIGTERM under load"
tail -1 "$work/serve.log"
