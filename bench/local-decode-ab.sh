#!/usr/bin/env bash
# Where a single stream's time per token goes, gateway vs llama-server on the same libraries: both servers run at
# once (idle one costs nothing), the benchmark driver alternates single-stream runs between them, and perf uprobes
# on llama_decode's entry and return (in each server's own copy of libllama) give, per server, the time inside
# llama_decode and the time between two decodes (sampling, detokenising, handing the token on). Interleaving makes
# the comparison robust on a noisy machine, where run-local.sh's one-server-at-a-time medians drift.
# Needs root (uprobes) and perf (apt-get install linux-perf). Prints a Markdown table.
#   AB_MODEL=bench-134M-Q8_0   a model folder under bench/.cache/models/ (run run-local.sh once to create it)
#   AB_ROUNDS=5                alternations; each is AB_RUNS single-stream runs of 128 tokens per server
#   AB_RUNS=2  AB_THREADS=2  AB_SLOTS=8  AB_SLOT_CTX=512
#   GATEWAY_ENV=""             environment for the gateway (e.g. "DOTNET_TieredPGO=0"), to try runtime settings
set -euo pipefail

bench="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$bench/.." && pwd)"
cd "$root"
model="${AB_MODEL:-bench-134M-Q8_0}"
rounds="${AB_ROUNDS:-5}"
runs="${AB_RUNS:-2}"
threads="${AB_THREADS:-2}"
slots="${AB_SLOTS:-8}"
slot_ctx="${AB_SLOT_CTX:-512}"
file="$bench/.cache/models/$model/$model.gguf"
log() { printf '[ab %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

[ "$(id -u)" = 0 ] || { log "needs root (perf uprobes)"; exit 2; }
command -v perf >/dev/null || { log "needs perf (apt-get install linux-perf)"; exit 2; }
[ -s "$file" ] || { log "no $file: run bench/run-local.sh once (it generates the model)"; exit 2; }

reference="$(bash "$bench/build-llama-samelib.sh")"
dotnet build -c Release -nologo -v q -m:2 "$bench/LocalInference" >/dev/null
dotnet build -c Release -nologo -v q -m:2 "$root/src/Gateway" >/dev/null
gateway="$root/src/Gateway/bin/Release/net10.0/inference-mesh"
driver=(dotnet "$bench/LocalInference/bin/Release/net10.0/local-inference-bench.dll")
lib_gateway="$(readlink -f "$root/src/Gateway/bin/Release/net10.0/native/linux-x64/libllama.v0.5.0.so")"
lib_reference="$(readlink -f "$reference/libllama.v0.5.0.so")"

work="$(mktemp -d)"
pids=()
cleanup() {
  for pid in "${pids[@]}"; do kill "$pid" 2>/dev/null || true; done
  wait 2>/dev/null || true
  perf probe -q -d 'probe_imab:*' 2>/dev/null || true
  rm -rf "$work"
}
trap cleanup EXIT

# One probe pair per library file (uprobes attach to an inode; the two copies are distinct files).
perf probe -q -d 'probe_imab:*' 2>/dev/null || true
perf probe -q -x "$lib_reference" -a 'probe_imab:ref_in=llama_decode' -a 'probe_imab:ref_out=llama_decode%return'
perf probe -q -x "$lib_gateway" -a 'probe_imab:gw_in=llama_decode' -a 'probe_imab:gw_out=llama_decode%return'

port_ref="$(free_port)"; port_gw="$(free_port)"
LD_LIBRARY_PATH="$reference" "$reference/llama-server" -m "$file" --host 127.0.0.1 --port "$port_ref" -t "$threads" \
  -np "$slots" -kvu -c $((slots * slot_ctx)) >"$work/llama-server.log" 2>&1 &
pid_ref=$!; pids+=("$pid_ref")
# shellcheck disable=SC2086
env ${GATEWAY_ENV:-} "$gateway" --models "$(dirname "$file")" --port "$port_gw" --threads "$threads" --slots "$slots" \
  --ctx "$slot_ctx" --data "$work/gateway-data" >"$work/gateway.log" 2>&1 &
pid_gw=$!; pids+=("$pid_gw")
for _ in $(seq 1 300); do
  curl -sf "http://127.0.0.1:$port_ref/health" >/dev/null && curl -sf "http://127.0.0.1:$port_gw/health" >/dev/null && break
  sleep 0.1
done

one() { # port pid -> the runs' tok/s, comma-separated
  "${driver[@]}" measure --server ab --model "$model" --url "http://127.0.0.1:$1" --pid "$2" --gguf "$file" \
    --out "$work/driver.jsonl" --threads "$threads" --tokens 128 --single-runs "$runs" --concurrent-runs 0 --ttft-runs 0 2>&1 \
    | sed -n 's/.*1 stream:.*runs \[\(.*\)\]/\1/p'
}
log "warm-up"
one "$port_ref" "$pid_ref" >/dev/null; one "$port_gw" "$pid_gw" >/dev/null
perf record -q -a -e 'probe_imab:*' -o "$work/perf.data" 2>/dev/null &
pid_perf=$!
sleep 0.5
tps_ref=""; tps_gw=""
for r in $(seq 1 "$rounds"); do
  log "round $r of $rounds"
  if (( r % 2 )); then
    tps_ref+="$(one "$port_ref" "$pid_ref"),"; tps_gw+="$(one "$port_gw" "$pid_gw"),"
  else
    tps_gw+="$(one "$port_gw" "$pid_gw"),"; tps_ref+="$(one "$port_ref" "$pid_ref"),"
  fi
done
kill -INT "$pid_perf"; wait "$pid_perf" 2>/dev/null || true

echo "# Single stream, per decode: gateway vs llama-server (samelib), $model, $(date -u +%Y-%m-%dT%H:%MZ)"
echo
echo "$(nproc) CPUs, load average $(cut -d' ' -f1-3 /proc/loadavg); $rounds alternations of $runs runs; gateway env: ${GATEWAY_ENV:-none}"
echo
perf script -i "$work/perf.data" -F time,event 2>/dev/null | python3 -c '
import statistics as st, sys
tps = {"llama-server": sys.argv[1], "gateway": sys.argv[2]}
open_at, dur, gap, last = {}, {}, {}, {}
for line in sys.stdin:
    t, event = line.split()[:2]
    t = float(t.rstrip(":"))
    who = "llama-server" if "ref_" in event else "gateway"
    if event.rstrip(":").endswith("_in"):
        if who in last and t - last[who] < 0.005:
            gap.setdefault(who, []).append(t - last[who])
        open_at[who] = t
    elif who in open_at:
        dur.setdefault(who, []).append(t - open_at.pop(who))
        last[who] = t
print("| server | tok/s, median of runs | decodes | llama_decode p50 (ms) | p25 (ms) | between decodes p50 (ms) | decode + between (ms) |")
print("|---|---:|---:|---:|---:|---:|---:|")
for who in ("llama-server", "gateway"):
    d, g = sorted(dur.get(who, [0])), gap.get(who, [0])
    runs = [float(x) for x in tps[who].split(",") if x.strip()]
    print("| %s | %.1f | %d | %.3f | %.3f | %.3f | %.3f |" % (who, st.median(runs) if runs else 0, len(d), st.median(d) * 1e3,
          d[len(d) // 4] * 1e3, st.median(g) * 1e3, (st.median(d) + st.median(g)) * 1e3))
' "$tps_ref" "$tps_gw"
