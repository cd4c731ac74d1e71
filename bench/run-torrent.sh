#!/usr/bin/env bash
# BitTorrent transfer of a generated GGUF (random bytes, default 1 GiB) between two local gateways (each with its own
# engine) vs a plain HTTP download of the same file from nginx, all on loopback. Called by run-modelcache.sh; also runs
# alone. Markdown table on stdout and in bench/results/torrent-<timestamp>.md. See bench/README.md.
#   BENCH_TORRENT_MIB=1024   file size      BENCH_TORRENT_RUNS=3   runs per path (median)
#   BENCH_TORRENT_ENGINE=qbittorrent   the gateways' --torrent-engine (qbittorrent, the gateway's default, or aria2)
#   BENCH_TORRENT_PIECE_KIB=           the seeder's --torrent-piece-kib (empty: the gateway's choice)
#   BENCH_TORRENT_ENGINE_START=eager   the puller's --torrent-engine-start: eager (the engine runs before the pull
#                                      is timed, as on a gateway meant to take part in a swarm) or on-demand (the
#                                      engine's start is inside the timed pull)
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bench="$root/bench"
cache="$bench/.cache"
stamp="$(date -u +%Y%m%dT%H%M%SZ)"
run="$cache/logs/torrent-$stamp"
results="$bench/results"
mib="${BENCH_TORRENT_MIB:-1024}"
runs="${BENCH_TORRENT_RUNS:-3}"
engine="${BENCH_TORRENT_ENGINE:-qbittorrent}"
piece_kib="${BENCH_TORRENT_PIECE_KIB:-}"
engine_start="${BENCH_TORRENT_ENGINE_START:-eager}"
case "$engine_start" in eager|on-demand) ;; *) echo "BENCH_TORRENT_ENGINE_START must be eager or on-demand" >&2; exit 2 ;; esac
case "$engine" in
  qbittorrent) engine_tool=qbittorrent-nox; engine_package=qbittorrent-nox ;;
  aria2) engine_tool=aria2c; engine_package=aria2 ;;
  *) echo "BENCH_TORRENT_ENGINE must be qbittorrent or aria2 (got '$engine')" >&2; exit 2 ;;
esac
mkdir -p "$run" "$results"
load_at_start="$(cut -d' ' -f1-3 /proc/loadavg)"
log() { printf '[bench %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
median() { sort -n | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else printf "%.1f\n", (a[NR/2]+a[NR/2+1])/2}'; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

# Everything started here is stopped on exit, by pid (TERM, then KILL after 10 s).
pids=()
stop_pid() {
  local pid="$1"
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || return 0; sleep 0.2; done
  kill -KILL "$pid" 2>/dev/null || true
}
stop_all() { local pid; for pid in "${pids[@]}"; do stop_pid "$pid"; done; }
trap stop_all EXIT

wait_http() {
  local name="$1" url="$2" pid="$3"
  for _ in $(seq 1 300); do
    kill -0 "$pid" 2>/dev/null || { log "$name exited during start-up (log: $run/$name.log)"; tail -20 "$run/$name.log" >&2; exit 1; }
    if [ "$(curl -s -o /dev/null -w '%{http_code}' --max-time 2 "$url" || true)" = 200 ]; then return 0; fi
    sleep 0.2
  done
  log "$name did not answer $url within 60 s (log: $run/$name.log)"; exit 1
}

wait_log() { # name log-file text: waits until the gateway's log holds the text (its engine's start, event 600)
  local name="$1" file="$2" text="$3"
  for _ in $(seq 1 300); do
    grep -qF "$text" "$file" 2>/dev/null && return 0
    sleep 0.2
  done
  log "$name did not log '$text' within 60 s (log: $file)"; exit 1
}

for tool in "$engine_tool" nginx; do
  if ! command -v "$tool" >/dev/null; then
    package=$([ "$tool" = "$engine_tool" ] && echo "$engine_package" || echo nginx)
    log "installing $package (apt-get)"
    { apt-get install -y --no-install-recommends "$package" || { apt-get update && apt-get install -y --no-install-recommends "$package"; }; } >"$run/apt-$package.log" 2>&1
  fi
done

log "building the gateway and the benchmark tools"
dotnet build -c Release -nologo -v q -m:2 "$root/src/Gateway" >"$run/build.log" 2>&1 || { tail -30 "$run/build.log" >&2; exit 1; }
dotnet build -c Release -nologo -v q -m:2 "$bench/ModelCache" >>"$run/build.log" 2>&1 || { tail -30 "$run/build.log" >&2; exit 1; }
gateway=(dotnet "$root/src/Gateway/bin/Release/net10.0/inference-mesh.dll")

work="$cache/torrent-work"
served="$work/served"
mkdir -p "$served"
file="$served/bench-blob.gguf"
if [ ! -s "$file" ] || [ "$(( $(stat -c %s "$file") >> 20 ))" -ne "$mib" ]; then
  log "generating $file ($mib MiB of random bytes in one GGUF tensor)"
  dotnet "$bench/ModelCache/bin/Release/net10.0/bench-modelcache.dll" blob "$file" "$mib"
fi
bytes="$(stat -c %s "$file")"
sha="$(sha256sum "$file" | cut -c1-64)"

start_gateway() { # name models-dir [extra flags] -> sets gw_port, gw_pid
  local name="$1" models="$2"
  shift 2
  gw_port="$(free_port)"
  "${gateway[@]}" --models "$models" --data "$models/data" --port "$gw_port" --torrent-engine "$engine" "$@" >"$run/$name.log" 2>&1 &
  gw_pid=$!; pids+=("$gw_pid")
  wait_http "$name" "http://127.0.0.1:$gw_port/v1/models" "$gw_pid"
}

# Seeder: gateway A with the file as a loose model (sharing hashes it into the manifest and seeds it read-only).
seeder="$work/seeder"
rm -rf "$seeder"; mkdir -p "$seeder"
ln "$file" "$seeder/bench-blob.gguf" 2>/dev/null || cp "$file" "$seeder/bench-blob.gguf"
start_gateway seeder "$seeder" ${piece_kib:+--torrent-piece-kib "$piece_kib"}; a_port="$gw_port"
magnet="$("${gateway[@]}" models share bench-blob --gateway "http://127.0.0.1:$a_port" 2>>"$run/commands.log" | tail -1)"
log "seeding: $magnet"

# nginx serving the same file.
nginx_port="$(free_port)"
mkdir -p "$run/nginx/tmp" "$run/nginx/logs"
chmod 0777 "$run/nginx/tmp"
cat >"$run/nginx/nginx.conf" <<EOF
daemon off;
worker_processes auto;
pid $run/nginx/nginx.pid;
error_log $run/nginx/logs/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  client_body_temp_path $run/nginx/tmp/body;
  proxy_temp_path $run/nginx/tmp/proxy;
  fastcgi_temp_path $run/nginx/tmp/fastcgi;
  uwsgi_temp_path $run/nginx/tmp/uwsgi;
  scgi_temp_path $run/nginx/tmp/scgi;
  server {
    listen 127.0.0.1:$nginx_port;
    root $served;
  }
}
EOF
nginx -p "$run/nginx" -c "$run/nginx/nginx.conf" >"$run/nginx.log" 2>&1 &
nginx_pid=$!; pids+=("$nginx_pid")
wait_http nginx "http://127.0.0.1:$nginx_port/bench-blob.gguf" "$nginx_pid"

cat "$file" >/dev/null # page cache warm for both senders
http_ms=() bt_ms=() phases=() bt_ok=yes http_ok=yes
for ((i = 1; i <= runs; i++)); do
  # HTTP: curl writes the file to disk, like the torrent path does (no verification: that is ours only).
  rm -f "$work/http.gguf"
  s="$(now_ms)"
  curl -sf -o "$work/http.gguf" "http://127.0.0.1:$nginx_port/bench-blob.gguf"
  http_ms+=($(( $(now_ms) - s )))
  [ "$(stat -c %s "$work/http.gguf")" = "$bytes" ] || http_ok=no
  rm -f "$work/http.gguf"

  # BitTorrent: a fresh gateway B (its own engine) pulls the magnet; timed from POST /v1/models/pull to "done",
  # which includes the metadata exchange, the download into staging and B's SHA-256 check before registering.
  puller="$work/puller-$i"
  rm -rf "$puller"; mkdir -p "$puller"
  start_gateway "puller-$i" "$puller" --torrent-engine-start "$engine_start"; b_port="$gw_port"; b_pid="$gw_pid"
  [ "$engine_start" = eager ] && wait_log "puller-$i" "$run/puller-$i.log" "started (pid"
  # One poller process (not a curl and a python per poll: on 2 cores their start-up would slow the transfer measured).
  s="$(now_ms)"
  state="$(python3 - "$b_port" "$magnet" <<'PY'
import json, sys, time, urllib.request
base = f"http://127.0.0.1:{sys.argv[1]}"
request = urllib.request.Request(base + "/v1/models/pull", data=json.dumps({"source": sys.argv[2]}).encode(), headers={"content-type": "application/json"})
start = time.monotonic()
job = json.load(urllib.request.urlopen(request))["id"]
# Phases, in ms since the POST was sent: accepted, metadata known (downloading), first bytes, all bytes (verifying), done.
marks = {"accepted": (time.monotonic() - start) * 1000}
while True:
    status = json.load(urllib.request.urlopen(f"{base}/v1/models/pulls/{job}"))
    state, at = status["state"], (time.monotonic() - start) * 1000
    if state != "metadata":
        marks.setdefault("metadata", at)
    if status.get("bytes_done", 0) > 0:
        marks.setdefault("first_bytes", at)
    if state in ("verifying", "done"):
        marks.setdefault("all_bytes", at)
    if state in ("done", "failed"):
        marks.setdefault("done", at)
        print(state, *(round(marks.get(k, -1)) for k in ("accepted", "metadata", "first_bytes", "all_bytes", "done")))
        break
    time.sleep(0.05)
PY
)"
  bt_ms+=($(( $(now_ms) - s )))
  read -r state p_accepted p_metadata p_first p_all p_done <<<"$state"
  phases+=("$p_accepted $p_metadata $p_first $p_all $p_done")
  if [ "$state" != done ] || [ "$(sha256sum "$puller/blobs/sha256-$sha" 2>/dev/null | cut -c1-64)" != "$sha" ]; then bt_ok=no; fi
  stop_pid "$b_pid"
  rm -rf "$puller"
  log "run $i: HTTP ${http_ms[-1]} ms, BitTorrent ${bt_ms[-1]} ms ($state; ms after the POST: accepted, metadata, first bytes, all bytes, done: ${phases[-1]})"
done

h="$(printf '%s\n' "${http_ms[@]}" | median)"; b="$(printf '%s\n' "${bt_ms[@]}" | median)"
tp() { awk -v ms="$1" -v mib="$mib" 'BEGIN{printf "%.0f", mib / (ms / 1000)}'; }
report="$results/torrent-$stamp.md"
if [ "$engine" = qbittorrent ]; then
  engine_name="qBittorrent-nox $(qbittorrent-nox --version | awk '{print $2}') (libtorrent $(dpkg-query -W -f '${Version}' 'libtorrent-rasterbar2.0*' 2>/dev/null | head -1 | cut -d- -f1)), BitTorrent v2"
else
  engine_name="aria2 $(aria2c --version | head -1 | awk '{print $3}'), BitTorrent v1"
fi
piece_text="${piece_kib:+, $piece_kib KiB pieces}"
{
  echo "# BitTorrent benchmark $stamp"
  echo
  echo "- Machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs), $(nproc) CPUs visible; load average at start $load_at_start, at end $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "- File: $mib MiB GGUF of random bytes (bench-modelcache blob), sha256 \`${sha:0:16}…\`. Engine: $engine_name$piece_text. Seeder: gateway A + its engine seeding from its store. Puller: a fresh gateway B + its own engine per run (\`--torrent-engine-start $engine_start\`$([ "$engine_start" = eager ] && echo ': the engine runs before the pull is timed')), pulling the magnet (metadata exchange, download, SHA-256 check, register). Reference: \`curl\` from nginx $(nginx -v 2>&1 | sed 's/.*\///') (sendfile) to a file. All on 127.0.0.1, page cache warm."
  echo
  echo "| Measurement | BitTorrent (ours, $engine) | HTTP from nginx | ratio | output |"
  echo "|---|---|---|---|---|"
  echo "| transfer of $mib MiB (MiB/s, median of $runs) | $(tp "$b") | $(tp "$h") | $(awk -v a="$h" -v b="$b" 'BEGIN{printf "%.3f", a/b}') (goal ≥ 0.5) | verified and listed: $bt_ok; curl complete: $http_ok |"
  echo
  echo "Phases of each pull (ms after \`POST /v1/models/pull\` was sent, job state polled every 50 ms):"
  echo
  echo "| run | pull accepted | metadata known | first bytes | all bytes (verifying) | done |"
  echo "|---|---:|---:|---:|---:|---:|"
  for ((i = 0; i < ${#phases[@]}; i++)); do echo "| $((i + 1)) | $(tr ' ' '|' <<<"${phases[$i]}" | sed 's/|/ | /g') |"; done
} | tee "$report"
log "report: $report (logs: $run)"
