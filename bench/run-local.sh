#!/usr/bin/env bash
# Local inference benchmark: the gateway's in-process engine against llama.cpp's own llama-server built from the
# same tag, on the same models, threads and slots, in one run. Prints a Markdown table and writes it to
# bench/results/local-<timestamp>.md. See bench/README.md.
#
# Settings (environment):
#   BENCH_THREADS=2            CPU threads for both servers
#   BENCH_SLOTS=8              parallel sequences (llama-server -np, gateway --slots) = concurrent streams
#   BENCH_SLOT_CTX=512         context per slot (llama-server -c is SLOTS x this, with -kvu)
#   BENCH_TOKENS=128           tokens per throughput run
#   BENCH_SINGLE_RUNS=5  BENCH_CONCURRENT_RUNS=5  BENCH_TTFT_RUNS=10
#   BENCH_INTERLEAVE=0         1: run a round's servers at once and take every sample on each in turn (A B, B A, ...),
#                              so that drift in the machine's speed moves both alike (see bench/README.md for what co-residence costs)
#   BENCH_CLIENT=async         how the driver reads streams: "async" (.NET's async I/O; its thread-pool workers spin in
#                              sched_yield after events) or "blocking" (a thread per stream asleep in the socket's read
#                              between events, as curl); bench/README.md, local inference, "Stop 20"
#   BENCH_ROUNDS=1             measure every model on every server this many times, the server order reversed in
#                              every other round (A B, B A, ...); the report pools the runs of all rounds
#   BENCH_MODELS="stories260K bench-134M-Q8_0 bench-134M-Q4_K_M"
#   BENCH_SERVERS="llama-server gateway"
#   BENCH_MODELS_DIR=../shared/models   where stories260K.gguf is (relative to the repository root)
#   GATEWAY_BIN=""             use this gateway executable instead of building src/Gateway (e.g. a copied build)
#   GATEWAY_BASELINE_BIN=""    also measure this (older) gateway build as server "gateway-baseline" in the same run,
#                              for before/after ratios under the same conditions
#   GATEWAY_EXTRA_ARGS=""      appended to the gateway's command line
#   LLAMA_SERVER_EXTRA_ARGS="" appended to llama-server's command line
#   BENCH_BUSY=0               N: run N CPU-bound processes (shell busy loops) beside the servers while they are measured,
#                              for the "busy machine" rows (a build beside the IDE; bench/README.md, "A busy machine")
#   BENCH_REFERENCE=native     which llama-server: "native" (bench/build-llama.sh: -march=native, OpenMP) or
#                              "samelib" (bench/build-llama-samelib.sh: the same prebuilt libraries the gateway loads)
set -euo pipefail

bench="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$bench/.." && pwd)"
cd "$root"

threads="${BENCH_THREADS:-2}"
slots="${BENCH_SLOTS:-8}"
slot_ctx="${BENCH_SLOT_CTX:-512}"
tokens="${BENCH_TOKENS:-128}"
single_runs="${BENCH_SINGLE_RUNS:-5}"
concurrent_runs="${BENCH_CONCURRENT_RUNS:-5}"
ttft_runs="${BENCH_TTFT_RUNS:-10}"
rounds="${BENCH_ROUNDS:-1}"
client="${BENCH_CLIENT:-async}"
interleave="${BENCH_INTERLEAVE:-0}"
models="${BENCH_MODELS:-stories260K bench-134M-Q8_0 bench-134M-Q4_K_M}"
servers="${BENCH_SERVERS:-llama-server gateway}"
baseline_bin="${GATEWAY_BASELINE_BIN:-}"
if [ -n "$baseline_bin" ] && [[ " $servers " != *" gateway-baseline "* ]]; then servers="$servers gateway-baseline"; fi
shared_models="${BENCH_MODELS_DIR:-$root/../shared/models}"
busy="${BENCH_BUSY:-0}"

cache="$bench/.cache"
stamp="$(date -u +%Y%m%dT%H%M%SZ)"
logs="$cache/logs/$stamp"
results="$bench/results"
jsonl="$logs/results.jsonl"
mkdir -p "$cache/models" "$logs" "$results"
load_at_start="$(cut -d' ' -f1-3 /proc/loadavg)"

hog_pids=()
stop_hogs() {
  local pid
  for pid in "${hog_pids[@]}"; do kill -KILL "$pid" 2>/dev/null || true; done
  for pid in "${hog_pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  hog_pids=()
}

server_pids=()
stop_server() {
  local pid
  for pid in "${server_pids[@]}"; do
    if kill -0 "$pid" 2>/dev/null; then
      kill -TERM "$pid" 2>/dev/null || true
      for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
      kill -KILL "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
  done
  server_pids=()
}
trap 'stop_server; stop_hogs' EXIT
trap 'stop_server; stop_hogs; exit 130' INT TERM

log() { printf '[bench %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

# --- 1. builds (each cached; heavy ones limited to 2 jobs) -------------------------------------------------------
# The native build (llama-server, llama-quantize) only when it is the reference or a model still needs quantising.
llama_bin=""
native_build() {
  if [ -z "$llama_bin" ]; then
    log "reference llama.cpp build (first time: long)"
    llama_bin="$(bash "$bench/build-llama.sh")"
    log "llama binaries: $llama_bin"
  fi
}
reference="${BENCH_REFERENCE:-native}"
case "$reference" in
  native) native_build; reference_bin="$llama_bin" ;;
  samelib)
    log "reference llama-server on the gateway's own prebuilt libraries (first time: long)"
    reference_bin="$(bash "$bench/build-llama-samelib.sh")"
    export LD_LIBRARY_PATH="$reference_bin${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}" ;;
  *) log "BENCH_REFERENCE must be native or samelib"; exit 2 ;;
esac

log "building the benchmark tools"
dotnet build -c Release -nologo -v q -m:2 "$bench/LocalInference" >"$logs/build-driver.log" 2>&1 \
  || { tail -30 "$logs/build-driver.log" >&2; exit 1; }
dotnet build -c Release -nologo -v q -m:2 "$bench/ModelGen" >"$logs/build-modelgen.log" 2>&1 \
  || { tail -30 "$logs/build-modelgen.log" >&2; exit 1; }
# shellcheck disable=SC2206
driver=(env ${BENCH_DRIVER_ENV:-} dotnet "$bench/LocalInference/bin/Release/net10.0/local-inference-bench.dll")
modelgen=(dotnet "$bench/ModelGen/bin/Release/net10.0/bench-modelgen.dll")

gateway_bin="${GATEWAY_BIN:-}"
if [ -n "$gateway_bin" ]; then
  [ -x "$gateway_bin" ] || { log "GATEWAY_BIN=$gateway_bin is not executable"; exit 1; }
  log "gateway: using $gateway_bin (not rebuilt)"
elif [[ " $servers " == *" gateway "* ]]; then
  log "building the gateway (Release)"
  if dotnet build -c Release -nologo -v q -m:2 "$root/src/Gateway" >"$logs/build-gateway.log" 2>&1; then
    gateway_bin="$root/src/Gateway/bin/Release/net10.0/inference-mesh"
    [ -x "$gateway_bin" ] || gateway_bin=""
  fi
  [ -n "$gateway_bin" ] || log "gateway build failed or no inference-mesh binary; see $logs/build-gateway.log (gateway rows stay empty)"
fi

# --- 2. models: one folder per model, because the gateway serves every *.gguf in its folder ---------------------
model_file() { echo "$cache/models/$1/$1.gguf"; }
prepare_model() {
  local name="$1" file
  file="$(model_file "$name")"
  [ -s "$file" ] && return 0
  mkdir -p "$(dirname "$file")"
  case "$name" in
    stories260K)
      [ -f "$shared_models/stories260K.gguf" ] || { log "missing $shared_models/stories260K.gguf"; return 1; }
      cp "$shared_models/stories260K.gguf" "$file" ;;
    bench-134M-*)
      local f16="$cache/models/bench-134M-F16.gguf" quant="${name#bench-134M-}"
      if [ ! -s "$f16" ]; then
        log "generating $f16 (random weights, 134M parameters)"
        "${modelgen[@]}" --vocab "$root/artifacts/llama.cpp-v0.5.0/models/ggml-vocab-llama-spm.gguf" --out "$f16" \
          --embd 768 --layers 12 --heads 12 --kv-heads 12 --ff 2048 --ctx 2048 --seed 1234 --type f16 >&2
      fi
      native_build
      log "quantising to $quant with llama-quantize"
      "$llama_bin/llama-quantize" "$f16" "$file.partial" "$quant" "$threads" >"$logs/quantize-$quant.log" 2>&1 \
        || { tail -20 "$logs/quantize-$quant.log" >&2; return 1; }
      mv "$file.partial" "$file" ;;
    *) log "unknown model $name"; return 1 ;;
  esac
}
for m in $models; do prepare_model "$m"; done

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

# --- 3. servers: all of a round at once, measured interleaved (or one at a time) ---------------------------------
# start_server MODEL SERVER: starts it in the background on a free port; sets started_pid, started_port,
# started_log; prints nothing. Returns 1 when the server has no executable.
start_server() {
  local model="$1" server="$2" file port
  file="$(model_file "$model")"
  port="$(free_port)"
  local out="$logs/$model-$server-r$round.log"
  case "$server" in
    llama-server)
      # shellcheck disable=SC2086
      "$reference_bin/llama-server" -m "$file" --host 127.0.0.1 --port "$port" -t "$threads" -np "$slots" -kvu \
        -c $((slots * slot_ctx)) ${LLAMA_SERVER_EXTRA_ARGS:-} >"$out" 2>&1 &
      started_pid=$! ;;
    gateway|gateway-baseline)
      local bin="$gateway_bin"
      [ "$server" = gateway-baseline ] && bin="$baseline_bin"
      if [ -z "$bin" ] || [ ! -x "$bin" ]; then log "skipping $server on $model: no executable"; return 1; fi
      # shellcheck disable=SC2086
      "$bin" --models "$(dirname "$file")" --port "$port" --threads "$threads" --slots "$slots" \
        --ctx "$slot_ctx" --data "$out.data" ${GATEWAY_EXTRA_ARGS:-} >"$out" 2>&1 &
      started_pid=$! ;;
  esac
  server_pids+=("$started_pid")
  started_port="$port"
  started_log="$out"
  log "$server on $model: pid $started_pid, port $port, log $out"
}

# wait_ready PORT PID: seconds from now until GET /health answers 200 (50 ms polls, at most 300 s); fails when
# the process exits first.
wait_ready() {
  local port="$1" pid="$2" t0
  t0="$(date +%s.%N)"
  for _ in $(seq 1 6000); do
    if curl -sf -o /dev/null --max-time 5 "http://127.0.0.1:$port/health"; then
      awk -v a="$t0" -v b="$(date +%s.%N)" 'BEGIN { printf "%.2f", b - a }'
      return 0
    fi
    kill -0 "$pid" 2>/dev/null || return 1
    sleep 0.05
  done
  return 1
}

# run_group MODEL SERVER...: starts the servers one after the other (each timed until ready, the next started only
# then, so start-up is measured alone), then measures them all in one driver call, sample by sample in turn.
run_group() {
  local model="$1" file names="" urls="" pids="" readies="" logs_of=() server ready
  shift
  file="$(model_file "$model")"
  for server in "$@"; do
    start_server "$model" "$server" || continue
    if ! ready="$(wait_ready "$started_port" "$started_pid")"; then
      log "$server on $model did not become ready; last lines of its log:"$'\n'"$(tail -5 "$started_log")"
      continue
    fi
    names="$names${names:+,}$server"; urls="$urls${urls:+,}http://127.0.0.1:$started_port"
    pids="$pids${pids:+,}$started_pid"; readies="$readies${readies:+,}$ready"; logs_of+=("$started_log")
  done
  if [ -n "$names" ]; then
    "${driver[@]}" measure --server "$names" --model "$model" --url "$urls" --pid "$pids" --ready-seconds "$readies" \
      --gguf "$file" --out "$jsonl" --threads "$threads" --tokens "$tokens" --single-runs "$single_runs" \
      --concurrency "$slots" --concurrent-runs "$concurrent_runs" --ttft-runs "$ttft_runs" --client "$client" \
      || log "$names on $model: a server failed; last lines of the logs:"$'\n'"$(for l in "${logs_of[@]}"; do tail -3 "$l"; done)"
  fi
  stop_server
}

reversed="$(printf '%s\n' $servers | tac | xargs)"
if [ "$busy" -gt 0 ]; then
  log "starting $busy CPU-bound processes beside the servers (BENCH_BUSY)"
  for _ in $(seq 1 "$busy"); do (while :; do :; done) & hog_pids+=($!); done
fi
for m in $models; do
  for round in $(seq 1 "$rounds"); do
    order="$servers"
    [ $((round % 2)) -eq 0 ] && order="$reversed"
    if [ "$interleave" = 1 ]; then
      # shellcheck disable=SC2086
      run_group "$m" $order
    else
      for s in $order; do run_group "$m" "$s"; done
    fi
  done
done

stop_hogs

# --- 4. report --------------------------------------------------------------------------------------------------
header="$logs/header.md"
{
  echo "# Local inference: gateway vs llama-server ($stamp)"
  echo
  echo "- Machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs), $(nproc) CPUs visible; load average at start $load_at_start, at end $(cut -d' ' -f1-3 /proc/loadavg)"
  if [ "$busy" -gt 0 ]; then
    echo "- **Busy machine on purpose (BENCH_BUSY=$busy): $busy CPU-bound shell loops ran beside the servers during every measurement, on $(nproc) CPUs.** Load at start $load_at_start."
  elif awk -v l="${load_at_start%% *}" -v n="$(nproc)" 'BEGIN { exit !(l > n * 0.5) }'; then
    echo "- **WARNING: the machine was busy (1-minute load ${load_at_start%% *} on $(nproc) CPUs). Other work competed for the cores; single runs vary many-fold and the ratios below are not meaningful. Re-run on an idle machine.**"
  fi
  echo "- Same for both: $threads threads, $slots slots ($slot_ctx tokens of context each; llama-server \`-np $slots -kvu -c $((slots * slot_ctx))\`), $tokens tokens per throughput run, temperature 0, EOS/control/byte tokens banned with logit_bias"
  echo "- Runs: 1 stream x $single_runs (median), $slots streams x $concurrent_runs (median), TTFT x $ttft_runs (4-token generations, short distinct prompts); client: $client reads; $rounds round(s) per model, server order reversed in every other round, runs pooled; $( [ "$interleave" = 1 ] && echo "servers of a round running at once, every sample taken on each in turn (order reversed every other sample)" || echo "one server at a time")"
  echo "- Repository commit: $(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)$(git -C "$root" diff --quiet 2>/dev/null || echo ' (with uncommitted changes)')"
  if [ "$reference" = samelib ]; then
    echo "- llama-server (reference \"samelib\"): llama.cpp v0.5.0's server built with \`$(tr '\n' ' ' <"$cache/llama-v0.5.0-samelib/cmake-flags.txt" | xargs)\`, running on the same prebuilt libllama/libggml/libggml-cpu-*.so as the gateway"
  else
    echo "- llama-server (reference \"native\"): llama.cpp v0.5.0 built with \`$(tr '\n' ' ' <"$cache/llama-v0.5.0/cmake-flags.txt" | xargs)\`"
  fi
  echo "- Gateway: \`${gateway_bin:-not built}\` (Release), engine = prebuilt llama.cpp v0.5.0 libraries from @node-llama-cpp/linux-x64"
  if [ -n "$baseline_bin" ]; then echo "- Baseline gateway (same run, same settings): \`$baseline_bin\`"; fi
} >"$header"
report="$results/local-$stamp.md"
if [ -s "$jsonl" ]; then
  "${driver[@]}" report --in "$jsonl" --out "$report" --header "$header"
  log "report: $report (raw results and server logs: $logs)"
else
  log "no results were recorded; see $logs"
  exit 1
fi
