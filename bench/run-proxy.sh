#!/usr/bin/env bash
# Proxy-path benchmark: what each proxy adds in front of the SAME loopback OpenAI upstream, in one run:
# direct, through our gateway (routed to a cloud backend), through nginx (proxy_pass, no buffering, keep-alive)
# and through the Portkey AI gateway (npm @portkey-ai/gateway, pinned in bench/Proxy/package-lock.json).
# Prints a Markdown table and writes it to bench/results/proxy-<timestamp>.md. See bench/README.md ("Proxy path").
#
# Settings (environment; defaults in brackets):
#   PROXY_PATHS="direct gateway nginx portkey"   which paths to measure (direct is always measured); add
#                          gateway-quiet for a second gateway with Information logging off (Logging__LogLevel__Default=Warning),
#                          gateway-ref for a second gateway build (GATEWAY_REF_BIN) and/or environment (GATEWAY_REF_ENV)
#                          yarp-bare for Kestrel + YARP's forwarder alone (bench/Proxy/BareYarpForwarder: the stack's floor)
#   PROXY_REQUESTS_C1=2000  PROXY_REQUESTS_CN=4000  PROXY_CONCURRENCY=16  PROXY_WARMUP=300  PROXY_WARMUP_SECONDS=1
#   PROXY_INITIAL_WARMUP_SECONDS=20 (once per path before anything is measured: load at PROXY_CONCURRENCY until the JIT settles)
#   PROXY_STREAMS=40  PROXY_CHUNKS=64  PROXY_GAP_MS=1  PROXY_ROUNDS=2
#   PROXY_RATES="50,100,250,500,1000,1500,2000,3000,4000,6000"  PROXY_RATE_SECONDS=3  PROXY_P99_LIMIT_MS=10
#   GATEWAY_BIN=""          use this gateway executable (its folder is copied) instead of building src/Gateway
#   GATEWAY_EXTRA_ARGS=""   appended to the gateway's command line
#   GATEWAY_REF_BIN=""      gateway-ref's executable (its folder is copied; default: the same build as gateway)
#   GATEWAY_REF_ENV=""      gateway-ref's extra environment, space-separated VAR=VALUE pairs (e.g. DOTNET_TieredPGO=0)
#   GATEWAY_REF_ARGS        gateway-ref's extra flags instead of GATEWAY_EXTRA_ARGS (default: GATEWAY_EXTRA_ARGS)
#   PROXY_TIMEOUT=1800      the measuring step is killed after this many seconds
# Quick check of the harness: PROXY_REQUESTS_C1=200 PROXY_REQUESTS_CN=400 PROXY_WARMUP=50 PROXY_STREAMS=6 \
#   PROXY_RATES=250,500 PROXY_RATE_SECONDS=1 bash bench/run-proxy.sh
set -euo pipefail

bench="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$bench/.." && pwd)"
proxy_dir="$bench/Proxy"
cd "$root"

paths="${PROXY_PATHS:-direct gateway nginx portkey}"
requests_c1="${PROXY_REQUESTS_C1:-2000}"
requests_cn="${PROXY_REQUESTS_CN:-4000}"
concurrency="${PROXY_CONCURRENCY:-16}"
warmup="${PROXY_WARMUP:-300}"
warmup_seconds="${PROXY_WARMUP_SECONDS:-1}"
initial_warmup_seconds="${PROXY_INITIAL_WARMUP_SECONDS:-20}"
streams="${PROXY_STREAMS:-40}"
chunks="${PROXY_CHUNKS:-64}"
gap_ms="${PROXY_GAP_MS:-1}"
rounds="${PROXY_ROUNDS:-2}"
rates="${PROXY_RATES:-50,100,250,500,1000,1500,2000,3000,4000,6000}"
rate_seconds="${PROXY_RATE_SECONDS:-3}"
p99_limit="${PROXY_P99_LIMIT_MS:-10}"
bench_timeout="${PROXY_TIMEOUT:-1800}"
portkey_version="1.15.2"
local_model="${BENCH_MODELS_DIR:-$root/../shared/models}/stories260K.gguf"

cache="$bench/.cache/proxy"
stamp="$(date -u +%Y%m%dT%H%M%SZ)"
run="$cache/run-$stamp"
results="$bench/results"
mkdir -p "$run" "$results"
load_at_start="$(cut -d' ' -f1-3 /proc/loadavg)"

log() { printf '[proxy %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
has_path() { [[ " $paths " == *" $1 "* ]]; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }

# Everything started here is stopped on exit, by pid (TERM, then KILL after 10 s).
pids=()
stop_all() {
  local pid
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do
    for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.2; done
    kill -KILL "$pid" 2>/dev/null || true
    wait "$pid" 2>/dev/null || true
  done
  pids=()
}
trap stop_all EXIT
trap 'stop_all; exit 130' INT TERM

# wait_http NAME URL PID: up to 60 s for URL to answer 200 while PID lives.
wait_http() {
  local name="$1" url="$2" pid="$3"
  for _ in $(seq 1 300); do
    kill -0 "$pid" 2>/dev/null || { log "$name exited during start-up (log: $run/$name.log)"; tail -20 "$run/$name.log" >&2; exit 1; }
    if [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$url" || true)" = 200 ]; then return 0; fi
    sleep 0.2
  done
  log "$name did not answer $url within 60 s (log: $run/$name.log)"; exit 1
}

# CPU seconds (user + system) used so far by a process and its direct children (nginx's workers).
cpu_seconds() {
  local tck pid total=0 s
  tck="$(getconf CLK_TCK)"
  for pid in "$1" $(ps -o pid= --ppid "$1" 2>/dev/null); do
    s="$(awk -v t="$tck" '{ sub(/^.*\) /, ""); printf "%.2f", ($12 + $13) / t }' "/proc/$pid/stat" 2>/dev/null || echo 0)"
    total="$(awk -v a="$total" -v b="$s" 'BEGIN { printf "%.2f", a + b }')"
  done
  echo "$total"
}

# --- 1. installs (only when missing) -----------------------------------------------------------------------------
if has_path nginx && ! command -v nginx >/dev/null; then
  log "installing nginx (apt-get)"
  { apt-get install -y --no-install-recommends nginx || { apt-get update && apt-get install -y --no-install-recommends nginx; }; } \
    >"$run/apt.log" 2>&1 || { tail -20 "$run/apt.log" >&2; exit 1; }
fi
portkey_js="$proxy_dir/node_modules/@portkey-ai/gateway/build/start-server.js"
if has_path portkey; then
  # npm ci again when Portkey or the pinned @hono/node-server (package.json "overrides") differ from what is installed.
  installed="$(node -p "require('$proxy_dir/node_modules/@portkey-ai/gateway/package.json').version + ' ' + require('$proxy_dir/node_modules/@hono/node-server/package.json').version" 2>/dev/null || true)"
  wanted="$portkey_version $(node -p "require('$proxy_dir/package.json').overrides['@hono/node-server']")"
  if [ "$installed" != "$wanted" ]; then
    log "installing @portkey-ai/gateway@$portkey_version (npm ci in bench/Proxy)"
    (cd "$proxy_dir" && npm ci --no-audit --no-fund) >"$run/npm.log" 2>&1 || { tail -20 "$run/npm.log" >&2; exit 1; }
  fi
fi

# --- 2. builds ---------------------------------------------------------------------------------------------------
log "building the upstream and the driver (Release)"
projects="LoopbackOpenAiUpstream ProxyBench"
has_path yarp-bare && projects+=" BareYarpForwarder"
for project in $projects; do
  dotnet build -c Release -nologo -v q -m:1 "$proxy_dir/$project" >"$run/build-$project.log" 2>&1 \
    || { tail -30 "$run/build-$project.log" >&2; exit 1; }
done
upstream_dll="$proxy_dir/LoopbackOpenAiUpstream/bin/Release/net10.0/loopback-openai-upstream.dll"
driver_dll="$proxy_dir/ProxyBench/bin/Release/net10.0/proxy-bench.dll"

gateway_bin=""
if has_path gateway || has_path gateway-quiet || has_path gateway-ref; then
  if [ -n "${GATEWAY_BIN:-}" ]; then
    source_dir="$(dirname "$GATEWAY_BIN")"
  else
    log "building the gateway (Release)"
    dotnet build -c Release -nologo -v q -m:1 "$root/src/Gateway" >"$run/build-gateway.log" 2>&1 \
      || { tail -30 "$run/build-gateway.log" >&2; exit 1; }
    source_dir="$root/src/Gateway/bin/Release/net10.0"
  fi
  # A private copy, so that other rebuilds of src/Gateway do not change the binary under the benchmark.
  if [ "$(cd "$source_dir" && pwd -P)" != "$(mkdir -p "$cache/gateway" && cd "$cache/gateway" && pwd -P)" ]; then
    rm -rf "$cache/gateway"
    cp -a "$source_dir" "$cache/gateway"
  fi
  gateway_bin="$cache/gateway/inference-mesh"
  [ -x "$gateway_bin" ] || { log "no gateway executable at $gateway_bin"; exit 1; }
fi
# gateway-ref: another build (e.g. the commit before a change) measured in the same run, for before/after ratios.
gateway_ref_bin="$gateway_bin"
if has_path gateway-ref && [ -n "${GATEWAY_REF_BIN:-}" ]; then
  rm -rf "$cache/gateway-ref"
  cp -a "$(dirname "$GATEWAY_REF_BIN")" "$cache/gateway-ref"
  gateway_ref_bin="$cache/gateway-ref/$(basename "$GATEWAY_REF_BIN")"
  [ -x "$gateway_ref_bin" ] || { log "no gateway executable at $gateway_ref_bin"; exit 1; }
fi

# --- 3. start the upstream and the proxies -----------------------------------------------------------------------
log "starting the loopback upstream ($chunks chunks, ${gap_ms} ms apart)"
dotnet "$upstream_dll" --port 0 --chunks "$chunks" --gap-ms "$gap_ms" >"$run/upstream.log" 2>&1 &
upstream_pid=$!; pids+=("$upstream_pid")
upstream_url=""
for _ in $(seq 1 150); do
  upstream_url="$(sed -n 's/^listening on \(http:\/\/127\.0\.0\.1:[0-9]*\).*/\1/p' "$run/upstream.log" | head -1)"
  [ -n "$upstream_url" ] && break
  kill -0 "$upstream_pid" 2>/dev/null || { cat "$run/upstream.log" >&2; exit 1; }
  sleep 0.2
done
[ -n "$upstream_url" ] || { log "the upstream did not start"; exit 1; }
wait_http upstream "$upstream_url/v1/models" "$upstream_pid"
log "upstream: $upstream_url (pid $upstream_pid)"
targets=(--target "direct=$upstream_url/v1")
procs=("upstream:$upstream_pid")

# start_gateway NAME BIN [ENV=VALUE...]: one gateway process with the acceptance block's cloud-a backend.
start_gateway() {
  local name="$1" bin="$2"; shift 2
  local port pid first_step policies=() args="${GATEWAY_EXTRA_ARGS:-}"
  [ "$name" = gateway-ref ] && args="${GATEWAY_REF_ARGS-$args}"
  port="$(free_port)"
  [ -d "$(dirname "$bin")/policies" ] && policies=(--policies "$(dirname "$bin")/policies")
  # shellcheck disable=SC2086
  env CLOUD_A_KEY=bench-key "$@" "$bin" --models "$run/models" --port "$port" --config "$run/gateway.yaml" --data "$run/$name-data" \
    "${policies[@]}" $args >"$run/$name.log" 2>&1 &
  pid=$!; pids+=("$pid")
  wait_http "$name" "http://127.0.0.1:$port/health" "$pid"
  curl -s --max-time 10 "http://127.0.0.1:$port/v1/route" -H 'content-type: application/json' \
    -d '{"model":"auto","messages":[{"role":"user","content":"Write a short poem about the sea at night."}]}' >"$run/$name-route.json"
  first_step="$(jq -r '(.plan.steps // .steps // [])[0].backend // empty' "$run/$name-route.json" 2>/dev/null || true)"
  if [ "$first_step" != "cloud-a" ]; then
    log "$name: the plan for the benchmark prompt does not start with cloud-a (got '${first_step}'): $(head -c 600 "$run/$name-route.json")"
    exit 1
  fi
  log "$name: http://127.0.0.1:$port (pid $pid); POST /v1/route: plan starts with cloud-a, privacy $(jq -r '.privacy.level // "?"' "$run/$name-route.json")"
  targets+=(--target "$name=http://127.0.0.1:$port/v1" --expect-backend "$name=cloud-a")
  procs+=("$name:$pid")
}

if has_path gateway || has_path gateway-quiet || has_path gateway-ref; then
  mkdir -p "$run/models"
  if [ -f "$local_model" ]; then cp "$local_model" "$run/models/"; else log "no $local_model: the gateway runs without a local model"; fi
  cat >"$run/gateway.yaml" <<EOF
backends:
  - name: cloud-a
    type: openai
    baseUrl: $upstream_url/v1
    apiKeyEnv: CLOUD_A_KEY
    sovereignty: 0.2
    quality: 0.95
    models: ["*"]
EOF
  if has_path gateway; then start_gateway gateway "$gateway_bin"; fi
  # Optional (PROXY_PATHS): the same build with Information logging off, to show what per-request log lines cost.
  if has_path gateway-quiet; then start_gateway gateway-quiet "$gateway_bin" Logging__LogLevel__Default=Warning; fi
  # Optional: another build and/or environment, for a before/after comparison in one run.
  # shellcheck disable=SC2086
  if has_path gateway-ref; then start_gateway gateway-ref "$gateway_ref_bin" ${GATEWAY_REF_ENV:-}; fi
fi

# Optional (PROXY_PATHS): the floor of the gateway's stack, Kestrel + YARP's forwarder and nothing else.
if has_path yarp-bare; then
  bare_port="$(free_port)"
  dotnet "$proxy_dir/BareYarpForwarder/bin/Release/net10.0/bare-yarp-forwarder.dll" --port "$bare_port" --upstream "$upstream_url" \
    >"$run/yarp-bare.log" 2>&1 &
  bare_pid=$!; pids+=("$bare_pid")
  wait_http yarp-bare "http://127.0.0.1:$bare_port/v1/models" "$bare_pid"
  log "yarp-bare: http://127.0.0.1:$bare_port (pid $bare_pid)"
  targets+=(--target "yarp-bare=http://127.0.0.1:$bare_port/v1")
  procs+=("yarp-bare:$bare_pid")
fi

if has_path nginx; then
  nginx_port="$(free_port)"
  mkdir -p "$run/nginx/tmp" "$run/nginx/logs"
  chmod 0777 "$run/nginx/tmp"
  cat >"$run/nginx/nginx.conf" <<EOF
daemon off;
worker_processes auto;
pid $run/nginx/nginx.pid;
error_log $run/nginx/logs/error.log warn;
events { worker_connections 4096; }
http {
  access_log off;
  client_body_temp_path $run/nginx/tmp/body;
  proxy_temp_path $run/nginx/tmp/proxy;
  fastcgi_temp_path $run/nginx/tmp/fastcgi;
  uwsgi_temp_path $run/nginx/tmp/uwsgi;
  scgi_temp_path $run/nginx/tmp/scgi;
  upstream bench_upstream {
    server ${upstream_url#http://};
    keepalive 256;
  }
  server {
    listen 127.0.0.1:$nginx_port;
    keepalive_requests 1000000;
    location / {
      proxy_pass http://bench_upstream;
      proxy_http_version 1.1;
      proxy_set_header Connection "";
      proxy_buffering off;
    }
  }
}
EOF
  nginx -p "$run/nginx" -c "$run/nginx/nginx.conf" >"$run/nginx.log" 2>&1 &
  nginx_pid=$!; pids+=("$nginx_pid")
  wait_http nginx "http://127.0.0.1:$nginx_port/v1/models" "$nginx_pid"
  log "nginx $(nginx -v 2>&1 | sed 's/.*\///'): http://127.0.0.1:$nginx_port (pid $nginx_pid)"
  targets+=(--target "nginx=http://127.0.0.1:$nginx_port/v1")
  procs+=("nginx:$nginx_pid")
fi

if has_path portkey; then
  portkey_port="$(free_port)"
  # --headless: no UI; loopback-only.cjs makes its listen() bind 127.0.0.1 instead of every interface.
  NODE_ENV=production node --require "$proxy_dir/loopback-only.cjs" "$portkey_js" --port="$portkey_port" --headless \
    >"$run/portkey.log" 2>&1 &
  portkey_pid=$!; pids+=("$portkey_pid")
  wait_http portkey "http://127.0.0.1:$portkey_port/" "$portkey_pid"
  log "Portkey $portkey_version (node $(node --version)): http://127.0.0.1:$portkey_port (pid $portkey_pid)"
  # Portkey's OpenAI provider with a custom base URL (header names from the package's x-portkey-* constants).
  targets+=(--target "portkey=http://127.0.0.1:$portkey_port/v1"
            --header "portkey=x-portkey-provider:openai"
            --header "portkey=x-portkey-custom-host:$upstream_url/v1")
  procs+=("portkey:$portkey_pid")
fi

# --- 4. measure --------------------------------------------------------------------------------------------------
declare -A cpu_before
for entry in "${procs[@]}"; do cpu_before[$entry]="$(cpu_seconds "${entry#*:}")"; done
report="$results/proxy-$stamp.md"
commit="$(git -C "$root" rev-parse --short HEAD 2>/dev/null || echo unknown)"
dirty="$(git -C "$root" status --porcelain -- src 2>/dev/null | wc -l)"
[ "$dirty" -gt 0 ] && commit="$commit + $dirty uncommitted paths under src/ (the gateway was built from the working tree)"
log "measuring (load average $load_at_start); raw logs in $run"
timeout --kill-after=10 "$bench_timeout" dotnet "$driver_dll" "${targets[@]}" \
  --warmup "$warmup" --warmup-seconds "$warmup_seconds" --initial-warmup-seconds "$initial_warmup_seconds" --requests-c1 "$requests_c1" --requests-cn "$requests_cn" --concurrency "$concurrency" \
  --streams "$streams" --chunks "$chunks" --rounds "$rounds" --rates "$rates" --rate-seconds "$rate_seconds" \
  --p99-limit-ms "$p99_limit" --out "$report.body" \
  --title "Proxy path: direct vs gateway vs nginx vs Portkey" \
  --note "Commit $commit. Upstream: bench/Proxy/LoopbackOpenAiUpstream (Kestrel, fixed JSON; streams of $chunks chunks ${gap_ms} ms apart). Load average when the script started: $load_at_start." \
  >"$run/driver.out" 2>"$run/driver.err" || { cat "$run/driver.err" >&2; exit 1; }

{
  cat "$report.body"
  echo "## CPU used by each server during the measurement (user + system seconds)"
  echo
  echo "| process | CPU s |"
  echo "|---|---:|"
  for entry in "${procs[@]}"; do
    after="$(cpu_seconds "${entry#*:}")"
    echo "| ${entry%%:*} | $(awk -v a="$after" -v b="${cpu_before[$entry]}" 'BEGIN { printf "%.1f", a - b }') |"
  done
  echo
  for name in gateway gateway-quiet gateway-ref; do
    [ -f "$run/$name.log" ] && echo "Log lines written by $name: $(wc -l <"$run/$name.log")."
  done
  echo "Raw logs: bench/.cache/proxy/run-$stamp/."
} >"$report"
rm -f "$report.body"
cat "$report"
log "report: $report"
