#!/usr/bin/env bash
# CPU per forwarded request of two gateway builds (A and B), in one session against the same loopback upstream:
# each round drives A then B (B then A in even rounds) with the proxy driver (c=1 then c=16, non-streamed) and reads
# the process's user + system time before and after. Round 1 includes each build's JIT warm-up; compare later rounds.
# Unlike run-proxy.sh's CPU row, every build serves the same number of requests, so the figures compare directly.
#
#   bash bench/run-proxy-cpu.sh A/inference-mesh B/inference-mesh [ROUNDS=3] [REQUESTS_CN=20000]
# Environment: A_ENV / B_ENV (space-separated VAR=VALUE for that gateway, e.g. B_ENV=DOTNET_TieredPGO=0),
# A_ARGS / B_ARGS (extra command-line flags for that gateway, e.g. B_ARGS="--inline-io true").
# Needs the upstream and the driver built (bench/run-proxy.sh builds them). See bench/README.md ("Proxy path").
set -euo pipefail

[ $# -ge 2 ] || { echo "usage: $0 GATEWAY_A GATEWAY_B [ROUNDS] [REQUESTS_CN]" >&2; exit 2; }
gw_a="$1"; gw_b="$2"; rounds="${3:-3}"; requests_cn="${4:-20000}"; requests_c1=2000
bench="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
upstream_dll="$bench/Proxy/LoopbackOpenAiUpstream/bin/Release/net10.0/loopback-openai-upstream.dll"
driver_dll="$bench/Proxy/ProxyBench/bin/Release/net10.0/proxy-bench.dll"
model="${BENCH_MODELS_DIR:-$bench/../../shared/models}/stories260K.gguf"
for f in "$upstream_dll" "$driver_dll"; do [ -f "$f" ] || { echo "missing $f: run bench/run-proxy.sh once" >&2; exit 1; }; done
run="$bench/.cache/proxy/cpu-$(date -u +%Y%m%dT%H%M%SZ)"
mkdir -p "$run/models"
[ -f "$model" ] && cp "$model" "$run/models/"

pids=()
stop_all() { local pid; for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done; for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done; }
trap stop_all EXIT
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
cpu() { awk -v t="$(getconf CLK_TCK)" '{ sub(/^.*\) /, ""); printf "%.2f", ($12 + $13) / t }' "/proc/$1/stat"; }
wait_http() { for _ in $(seq 1 300); do [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$1" || true)" = 200 ] && return 0; sleep 0.2; done; echo "no answer from $1" >&2; exit 1; }

dotnet "$upstream_dll" --port 0 --chunks 64 --gap-ms 1 >"$run/upstream.log" 2>&1 &
pids+=($!)
upstream=""
for _ in $(seq 1 150); do
  upstream="$(sed -n 's/^listening on \(http:\/\/127\.0\.0\.1:[0-9]*\).*/\1/p' "$run/upstream.log" | head -1)"
  [ -n "$upstream" ] && break; sleep 0.2
done
[ -n "$upstream" ] || { echo "the upstream did not start" >&2; exit 1; }
printf 'backends:\n  - name: cloud-a\n    type: openai\n    baseUrl: %s/v1\n    apiKeyEnv: CLOUD_A_KEY\n    sovereignty: 0.2\n    quality: 0.95\n    models: ["*"]\n' \
  "$upstream" >"$run/gateway.yaml"

declare -A pid_of port_of
for side in A B; do
  if [ "$side" = A ]; then bin="$gw_a"; extra="${A_ENV:-}"; args="${A_ARGS:-}"; else bin="$gw_b"; extra="${B_ENV:-}"; args="${B_ARGS:-}"; fi
  port="$(free_port)"
  # shellcheck disable=SC2086
  env CLOUD_A_KEY=bench-key $extra "$bin" --models "$run/models" --port "$port" --config "$run/gateway.yaml" \
    --data "$run/data-$side" --policies "$(dirname "$bin")/policies" $args >"$run/gateway-$side.log" 2>&1 &
  pids+=($!); pid_of[$side]=$!; port_of[$side]=$port
  wait_http "http://127.0.0.1:$port/health"
done

echo "| round | build | CPU s | ≈ requests | CPU µs per request | c=1 added p50 (ms) | c=16 added p50 (ms) |"
echo "|---:|---|---:|---:|---:|---:|---:|"
for round in $(seq 1 "$rounds"); do
  order="A B"; [ $((round % 2)) -eq 0 ] && order="B A"
  for side in $order; do
    before="$(cpu "${pid_of[$side]}")"
    dotnet "$driver_dll" --target "direct=$upstream/v1" --target "gw=http://127.0.0.1:${port_of[$side]}/v1" --expect-backend gw=cloud-a \
      --warmup 200 --warmup-seconds 0 --requests-c1 "$requests_c1" --requests-cn "$requests_cn" --streams 1 --rates 50 \
      --rate-seconds 0.5 --rounds 1 --out "$run/round-$round-$side.md" >/dev/null 2>"$run/driver.err"
    after="$(cpu "${pid_of[$side]}")"
    # The gateway's row: | gw | c1 p50 | c1 p99 | added p50 | added p99 | c16 p50 | c16 p99 | added p50 | ...
    row="$(grep -m1 '^| gw |' "$run/round-$round-$side.md")"
    served=$((2 * 200 + requests_c1 + requests_cn)) # the driver's warm-ups (c=1 and c=16) and both measurements
    awk -v r="$round" -v s="$side" -v a="$after" -v b="$before" -v n="$served" -v row="$row" 'BEGIN {
      split(row, f, "|"); gsub(/ /, "", f[5]); gsub(/ /, "", f[9]);
      printf "| %d | %s | %.2f | %d | %.0f | %s | %s |\n", r, s, a - b, n, (a - b) * 1e6 / n, f[5], f[9] }'
  done
done
echo
echo "A = $gw_a${A_ENV:+ ($A_ENV)}${A_ARGS:+ $A_ARGS}, B = $gw_b${B_ENV:+ ($B_ENV)}${B_ARGS:+ $B_ARGS}; load average at end $(cut -d' ' -f1-3 /proc/loadavg). Logs: $run"
