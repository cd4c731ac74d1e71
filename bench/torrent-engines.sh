#!/usr/bin/env bash
# Torrent engines on loopback, without the gateway: one file (random bytes, default 1 GiB) moved between two
# transmission-daemons and between two bare aria2c processes, against curl downloading it from nginx (sendfile on) in
# the same run. Markdown table on stdout and in bench/results/engines-<timestamp>.md. See bench/README.md.
#   ENGINES_MIB=1024        file size                      ENGINES_RUNS=3   runs per engine (median)
#   ENGINES_PIECE_KIB=1024  torrent piece size (the gateway's choice for 1 GiB)
#   ENGINES_TR_VARIANTS="name:encryption:cache-mb ..."  transmission settings to compare (encryption 0 = prefer
#                           clear, 1 = prefer encrypted, 2 = require), default "clear:0:256"; a 1 GiB run takes ~2.5 min;
#                           "none" skips transmission
#   ENGINES_ARIA2=1         also time two bare aria2c (0 skips them)
#   ENGINES_LIBTORRENT=1    also time two libtorrent sessions (bench/torrent-libtorrent.py) when python3-libtorrent is installed
#   ENGINES_KEEP=0          1 keeps the run folder with every log (TR_MSG_LEVEL=3: transmission debug log)
#   ENGINES_LOAD_WAIT_MIN=10  minutes to wait for a 1-minute load <= 1.5 before measuring anyway
# Timing of a torrent run: from the add request on the puller (the seeder is already seeding and announced) until the
# puller reports every byte (transmission percentDone 1, aria2 completedLength = totalLength); "first byte" is the
# first 50 ms poll that shows downloaded data. A fresh puller process per run, started before the clock.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bench="$root/bench"
cache="$bench/.cache/engines"
stamp="$(date -u +%Y%m%dT%H%M%SZ)"
run="$cache/run-$stamp"
results="$bench/results"
mib="${ENGINES_MIB:-1024}"
runs="${ENGINES_RUNS:-3}"
piece_kib="${ENGINES_PIECE_KIB:-1024}"
variants="${ENGINES_TR_VARIANTS:-clear:0:256}"
[ "$variants" = none ] && variants=""
with_aria2="${ENGINES_ARIA2:-1}"
# libtorrent when Debian's python3-libtorrent is installed (apt-get install python3-libtorrent), unless ENGINES_LIBTORRENT=0
lt_version="$(/usr/bin/python3 -c 'import libtorrent; print(libtorrent.__version__)' 2>/dev/null || true)"
with_libtorrent="${ENGINES_LIBTORRENT:-$([ -n "$lt_version" ] && echo 1 || echo 0)}"
mkdir -p "$run" "$results"
log() { printf '[engines %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1]); s.close()'; }
median() { sort -n | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else print int((a[NR/2]+a[NR/2+1])/2)}'; }
now_ms() { echo $(( $(date +%s%N) / 1000000 )); }

for tool in nginx curl transmission-daemon transmission-create aria2c python3; do
  command -v "$tool" >/dev/null || { log "missing $tool (apt: nginx curl transmission-daemon transmission-cli aria2)"; exit 1; }
done

# Everything started here is stopped on exit, by pid (TERM, then KILL after 10 s).
pids=()
stop_pid() {
  local pid="$1"
  kill -TERM "$pid" 2>/dev/null || true
  for _ in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || { wait "$pid" 2>/dev/null || true; return 0; }; sleep 0.2; done
  kill -KILL "$pid" 2>/dev/null || true
  wait "$pid" 2>/dev/null || true
}
stop_all() { local pid; for pid in "${pids[@]}"; do stop_pid "$pid"; done; pids=(); }
stop_one() { # stops one pid and forgets it (a later stop_all must not signal a reused pid)
  local pid rest=()
  stop_pid "$1"
  for pid in "${pids[@]}"; do [ "$pid" = "$1" ] || rest+=("$pid"); done
  pids=("${rest[@]}")
}
stop_engines() { local pid; for pid in "${pids[@]}"; do [ "$pid" = "$tracker_pid" ] || stop_one "$pid"; done; }
trap stop_all EXIT
trap 'exit 130' INT TERM

# A quiet machine: wait (up to 10 minutes) for the 1-minute load to fall to 1.5 or below, then note it.
wait_min="${ENGINES_LOAD_WAIT_MIN:-10}"
for i in $(seq 0 "$wait_min"); do
  load="$(cut -d' ' -f1 /proc/loadavg)"
  awk -v l="$load" 'BEGIN {exit !(l <= 1.5)}' && break
  [ "$i" = "$wait_min" ] && { log "load still $load after $wait_min minutes; measuring anyway"; break; }
  log "load $load > 1.5, waiting a minute"; sleep 60
done
load_at_start="$(cut -d' ' -f1-3 /proc/loadavg)"
log "load at start: $load_at_start"

# The file, reused while its size matches, and read once so every sender serves it from the page cache.
data="$cache/data"
file="$data/blob.bin"
mkdir -p "$data"
if [ ! -s "$file" ] || [ "$(stat -c %s "$file")" -ne $(( mib << 20 )) ]; then
  log "generating $file ($mib MiB of random bytes)"
  head -c $(( mib << 20 )) /dev/urandom >"$file.tmp" && mv "$file.tmp" "$file"
fi
bytes="$(stat -c %s "$file")"
cat "$file" >/dev/null

# One poller process per run for both RPCs (a curl per 50 ms poll would add process start-ups to the measured CPU).
rpc="$run/rpc.py"
cat >"$rpc" <<'PY'
import base64, json, sys, time, urllib.error, urllib.request

def post(url, body, headers):
    request = urllib.request.Request(url, data=json.dumps(body).encode(), headers=headers)
    return json.load(urllib.request.urlopen(request, timeout=30))

class Transmission:
    def __init__(self, port, user, password):
        self.url = f"http://127.0.0.1:{port}/transmission/rpc"
        auth = base64.b64encode(f"{user}:{password}".encode()).decode()
        self.headers = {"content-type": "application/json", "authorization": "Basic " + auth, "x-transmission-session-id": ""}

    def call(self, method, arguments):
        for _ in range(3):
            try:
                answer = post(self.url, {"method": method, "arguments": arguments}, self.headers)
            except urllib.error.HTTPError as error:  # 409 hands out the session id to repeat the call with
                if error.code != 409:
                    raise
                self.headers["x-transmission-session-id"] = error.headers["X-Transmission-Session-Id"]
                continue
            if answer["result"] != "success":
                raise SystemExit(f"{method}: {answer['result']}")
            return answer["arguments"]
        raise SystemExit(f"{method}: no session id")

    def add(self, torrent, folder):
        metainfo = base64.b64encode(open(torrent, "rb").read()).decode()
        added = self.call("torrent-add", {"metainfo": metainfo, "download-dir": folder, "paused": False})
        return (added.get("torrent-added") or added["torrent-duplicate"])["id"]

    def get(self, ident, fields):
        return self.call("torrent-get", {"ids": [ident], "fields": fields})["torrents"][0]

class Aria2:
    def __init__(self, port):
        self.url = f"http://127.0.0.1:{port}/jsonrpc"

    def call(self, method, *params):
        answer = post(self.url, {"jsonrpc": "2.0", "id": "1", "method": method, "params": ["token:bench", *params]}, {"content-type": "application/json"})
        if "error" in answer:
            raise SystemExit(f"{method}: {answer['error']}")
        return answer["result"]

    def add(self, torrent, options):
        return self.call("aria2.addTorrent", base64.b64encode(open(torrent, "rb").read()).decode(), [], options)

def timed_pull(add, poll):
    """add() -> handle, poll(handle) -> (bytes received, done, error); prints total and first-byte ms from add()."""
    start = time.monotonic()
    handle = add()
    first = None
    while True:
        received, done, error = poll(handle)
        elapsed = (time.monotonic() - start) * 1000
        if error:
            raise SystemExit(error)
        if first is None and received > 0:
            first = elapsed
        if done:
            print(f"{elapsed:.0f} {first if first is not None else elapsed:.0f}")
            return
        if elapsed > 600_000:
            raise SystemExit("no completion within 600 s")
        time.sleep(0.05)

def main():
    kind, command, *rest = sys.argv[1:]
    if kind == "tr":
        port, user, password, torrent, folder = rest
        engine = Transmission(port, user, password)
        if command == "seed":  # until verified complete and announced to the tracker
            ident = engine.add(torrent, folder)
            for _ in range(6000):
                t = engine.get(ident, ["percentDone", "status", "error", "errorString", "trackerStats"])
                if t["error"]:
                    raise SystemExit(t["errorString"])
                stats = t["trackerStats"]
                if t["percentDone"] == 1 and t["status"] == 6 and stats and stats[0]["lastAnnounceSucceeded"]:
                    return
                time.sleep(0.1)
            raise SystemExit("seeder not ready within 600 s")
        fields = ["percentDone", "haveValid", "haveUnchecked", "rateDownload", "error", "errorString"]
        def poll(ident):
            t = engine.get(ident, fields)
            return t["haveValid"] + t["haveUnchecked"] + t["rateDownload"], t["percentDone"] == 1, t["errorString"] if t["error"] else None
        timed_pull(lambda: engine.add(torrent, folder), poll)
    else:
        port, torrent, folder = rest
        engine = Aria2(port)
        if command == "seed":  # the gateway's SeedOptions
            engine.add(torrent, {"dir": folder, "seed-ratio": "0", "bt-seed-unverified": "true", "check-integrity": "false"})
            time.sleep(1.5)  # its first announce (aria2 announces at its next one-second refresh)
            return
        def poll(gid):
            s = engine.call("aria2.tellStatus", gid, ["completedLength", "totalLength", "status", "errorMessage"])
            done = int(s["totalLength"]) > 0 and s["completedLength"] == s["totalLength"]
            return int(s["completedLength"]), done, s.get("errorMessage") if s["status"] == "error" else None
        # the gateway's pull options
        timed_pull(lambda: engine.add(torrent, {"dir": folder, "seed-time": "0", "check-integrity": "true"}), poll)

main()
PY

wait_port() { # name port pid [address]: until something listens on address:port (default 127.0.0.1)
  local name="$1" port="$2" pid="$3" address="${4:-127.0.0.1}"
  for _ in $(seq 1 150); do
    kill -0 "$pid" 2>/dev/null || { log "$name exited during start-up (logs in $run)"; exit 1; }
    (exec 3<>"/dev/tcp/$address/$port") 2>/dev/null && return 0
    sleep 0.1
  done
  log "$name did not listen on $port within 15 s"; exit 1
}

# --- nginx (reference) -------------------------------------------------------------------------------------------
nginx_port="$(free_port)"
ngx="$run/nginx"
mkdir -p "$ngx/tmp" "$ngx/logs"
cat >"$ngx/nginx.conf" <<EOF
daemon off;
user $(id -un);
worker_processes auto;
pid $ngx/nginx.pid;
error_log $ngx/logs/error.log warn;
events { worker_connections 1024; }
http {
  access_log off;
  sendfile on;
  client_body_temp_path $ngx/tmp/body;
  proxy_temp_path $ngx/tmp/proxy;
  fastcgi_temp_path $ngx/tmp/fastcgi;
  uwsgi_temp_path $ngx/tmp/uwsgi;
  scgi_temp_path $ngx/tmp/scgi;
  server { listen 127.0.0.1:$nginx_port; root $data; }
}
EOF
nginx -p "$ngx" -c "$ngx/nginx.conf" >"$ngx/stdout.log" 2>&1 &
pids+=($!)
wait_port nginx "$nginx_port" "${pids[-1]}"

out="$run/out"
http_ms=()
for ((i = 1; i <= runs; i++)); do
  rm -rf "$out"; mkdir -p "$out"; sync
  s="$(now_ms)"
  curl -sf -o "$out/blob.bin" "http://127.0.0.1:$nginx_port/blob.bin"
  http_ms+=($(( $(now_ms) - s )))
  [ "$(stat -c %s "$out/blob.bin")" = "$bytes" ] || { log "curl: wrong size"; exit 1; }
  log "nginx run $i: ${http_ms[-1]} ms"
done
rm -rf "$out"
stop_all

# --- tracker and torrent -----------------------------------------------------------------------------------------
# A minimal HTTP tracker on a free loopback port (Debian's opentracker 1:0~git20190529 aborted with heap corruption on
# transmission's announces here): it answers every announce with the other peers of that info hash, compact.
# transmission 3.00 never connects to a peer in 127.0.0.0/8 (it treats it as a martian address), so the tracker
# listens on the host's own address (ENGINES_PEER_ADDR, default its first non-loopback IPv4): the peers announce from
# it and connect to it, which the kernel still routes over the loopback interface.
peer_addr="${ENGINES_PEER_ADDR:-$(hostname -I | tr ' ' '\n' | grep -m1 -E '^[0-9.]+$' || true)}"
[ -n "$peer_addr" ] || { log "no non-loopback IPv4 address for the peers; set ENGINES_PEER_ADDR"; exit 1; }
tracker_port="$(free_port)"
announce="http://$peer_addr:$tracker_port/announce"
torrent="$run/blob.torrent"
transmission-create -p -t "$announce" -s "$piece_kib" -o "$torrent" "$file" >"$run/create.log" 2>&1
mkdir -p "$run/tracker"
cat >"$run/tracker/tracker.py" <<'PY'
import socket, struct, sys, urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
swarms = {}
class Tracker(BaseHTTPRequestHandler):
    # Answers a puller with the seeder that announced last, only: transmission 3.00 keeps one peer per IP address, so
    # an earlier puller (stopped, same address) in the answer could hide the seeder from it.
    def do_GET(self):
        query = urllib.parse.parse_qs(urllib.parse.urlsplit(self.path).query, keep_blank_values=True, encoding="latin-1")
        if "port" not in query or "info_hash" not in query:  # scrape and anything else
            self.send_error(404)
            return
        me = (self.client_address[0], int(query["port"][0]))
        swarm = swarms.setdefault(query["info_hash"][0], {})
        swarm.pop(me, None)
        if query.get("event", [""])[0] != "stopped":
            swarm[me] = query.get("left", ["1"])[0] == "0"  # insertion order: the last announce comes last
        seeders = [peer for peer, seeding in swarm.items() if seeding and peer != me]
        peers = b"".join(socket.inet_aton(ip) + struct.pack(">H", port) for ip, port in seeders[-1:])
        body = b"d8:intervali1800e5:peers%d:%se" % (len(peers), peers)
        self.send_response(200)
        self.send_header("content-length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
    def log_message(self, *args):
        pass
ThreadingHTTPServer((sys.argv[2], int(sys.argv[1])), Tracker).serve_forever()
PY
python3 "$run/tracker/tracker.py" "$tracker_port" "$peer_addr" >"$run/tracker/log" 2>&1 &
tracker_pid=$!; pids+=("$tracker_pid")
wait_port tracker "$tracker_port" "$tracker_pid" "$peer_addr"
log "torrent: ${piece_kib} KiB pieces, tracker $announce"

rows=()
row() { # engine ms-array... ; uses totals and firsts arrays
  local engine="$1" total first mibs
  total="$(printf '%s\n' "${totals[@]}" | median)"
  first="$(printf '%s\n' "${firsts[@]}" | median)"
  mibs="$(awk -v b="$bytes" -v t="$total" 'BEGIN {printf "%.0f", b / 1048576 / (t / 1000)}')"
  rows+=("| $engine | $(awk -v t="$total" 'BEGIN {printf "%.2f", t / 1000}') | $mibs | $(awk -v h="$http" -v t="$total" 'BEGIN {printf "%.2f", h / t}') | $([ "$first" = - ] && echo - || awk -v f="$first" 'BEGIN {printf "%.2f", f / 1000}') | $(printf '%s ' "${totals[@]}")|")
}
http="$(printf '%s\n' "${http_ms[@]}" | median)"
totals=("${http_ms[@]}") firsts=(-)
row "curl from nginx (sendfile)"

# --- transmission-daemon pairs -----------------------------------------------------------------------------------
start_transmission() { # name encryption cache-mb -> tr_rpc tr_pid
  local name="$1" encryption="$2" cache_mb="$3" dir="$run/$1"
  rm -rf "$dir"; mkdir -p "$dir/config" "$dir/data"
  tr_rpc="$(free_port)"
  local peer; peer="$(free_port)"
  cat >"$dir/config/settings.json" <<EOF
{
  "rpc-enabled": true, "rpc-bind-address": "127.0.0.1", "rpc-port": $tr_rpc,
  "rpc-authentication-required": true, "rpc-username": "bench", "rpc-password": "bench-$name",
  "rpc-whitelist-enabled": true, "rpc-whitelist": "127.0.0.1", "rpc-host-whitelist-enabled": false,
  "peer-port": $peer, "peer-port-random-on-start": false, "port-forwarding-enabled": false,
  "dht-enabled": false, "lpd-enabled": false, "pex-enabled": false, "utp-enabled": false,
  "encryption": $encryption,
  "speed-limit-down-enabled": false, "speed-limit-up-enabled": false, "alt-speed-enabled": false,
  "ratio-limit-enabled": false, "idle-seeding-limit-enabled": false,
  "cache-size-mb": $cache_mb, "prefetch-enabled": true, "preallocation": 1,
  "peer-limit-global": 200, "peer-limit-per-torrent": 50,
  "download-queue-enabled": false, "seed-queue-enabled": false, "queue-stalled-enabled": false,
  "start-added-torrents": true, "incomplete-dir-enabled": false, "rename-partial-files": false,
  "watch-dir-enabled": false, "blocklist-enabled": false, "script-torrent-done-enabled": false,
  "download-dir": "$dir/data", "message-level": ${TR_MSG_LEVEL:-1}
}
EOF
  ${TR_WRAP:-} transmission-daemon -f -g "$dir/config" >"$dir/log" 2>&1 &
  tr_pid=$!; pids+=("$tr_pid")
  wait_port "$name" "$tr_rpc" "$tr_pid"
}

for variant in $variants; do
  IFS=: read -r vname encryption cache_mb <<<"$variant"
  totals=() firsts=()
  for ((i = 1; i <= runs; i++)); do
    # A fresh pair per run: a seeder that has served one puller never connected to a second puller from the same
    # address in our runs (transmission 3.00 keeps one peer entry per IP address).
    start_transmission "tr-seed-$vname" "$encryption" "$cache_mb"; seed_rpc="$tr_rpc"; seed_pid="$tr_pid"
    ln "$file" "$run/tr-seed-$vname/data/blob.bin"
    s="$(now_ms)"
    python3 "$rpc" tr seed "$seed_rpc" bench "bench-tr-seed-$vname" "$torrent" "$run/tr-seed-$vname/data"
    log "transmission $vname: seeder verified and announced in $(( $(now_ms) - s )) ms"
    start_transmission "tr-pull-$vname" "$encryption" "$cache_mb"; pull_pid="$tr_pid"
    sync
    read -r total first < <(python3 "$rpc" tr pull "$tr_rpc" bench "bench-tr-pull-$vname" "$torrent" "$run/tr-pull-$vname/data")
    cmp -s "$file" "$run/tr-pull-$vname/data/blob.bin" || { log "transmission $vname run $i: file differs"; exit 1; }
    totals+=("$total") firsts+=("$first")
    log "transmission $vname run $i: $total ms (first byte $first ms)"
    stop_one "$pull_pid"; mv "$run/tr-pull-$vname/log" "$run/tr-pull-$vname-$i.log"; rm -rf "$run/tr-pull-$vname"
    stop_one "$seed_pid"; rm -rf "$run/tr-seed-$vname"
  done
  stop_engines
  row "transmission 3.00 $vname (encryption $encryption, cache $cache_mb MB)"
done

# --- two bare aria2c ---------------------------------------------------------------------------------------------
start_aria2() { # name -> a2_rpc a2_pid; the gateway's daemon options (Aria2Engine.cs)
  local name="$1" dir="$run/$1" peer
  rm -rf "$dir"; mkdir -p "$dir/data"
  a2_rpc="$(free_port)"; peer="$(free_port)"
  aria2c --no-conf --enable-rpc=true --rpc-listen-all=false --rpc-listen-port="$a2_rpc" --rpc-secret=bench \
    --rpc-save-upload-metadata=false --listen-port="$peer" --dht-listen-port="$peer" --enable-dht=false \
    --enable-dht6=false --bt-enable-lpd=false --enable-peer-exchange=false --seed-ratio=0 --follow-torrent=false \
    --auto-file-renaming=false --allow-overwrite=false --file-allocation=none --max-concurrent-downloads=64 \
    --bt-save-metadata=false --bt-load-saved-metadata=false --bt-request-peer-speed-limit=100M --disk-cache=32M \
    --max-upload-limit=0 --console-log-level=error --summary-interval=0 --show-console-readout=false \
    >"$dir/log" 2>&1 &
  a2_pid=$!; pids+=("$a2_pid")
  wait_port "$name" "$a2_rpc" "$a2_pid"
}

if [ "$with_aria2" = 1 ]; then
  start_aria2 a2-seed
  ln "$file" "$run/a2-seed/data/blob.bin"
  python3 "$rpc" a2 seed "$a2_rpc" "$torrent" "$run/a2-seed/data"
  totals=() firsts=()
  for ((i = 1; i <= runs; i++)); do
    start_aria2 a2-pull; pull_pid="$a2_pid"
    sync
    read -r total first < <(python3 "$rpc" a2 pull "$a2_rpc" "$torrent" "$run/a2-pull/data")
    cmp -s "$file" "$run/a2-pull/data/blob.bin" || { log "aria2 run $i: file differs"; exit 1; }
    totals+=("$total") firsts+=("$first")
    log "aria2 run $i: $total ms (first byte $first ms)"
    stop_one "$pull_pid"; rm -rf "$run/a2-pull"
  done
  stop_engines
  row "aria2 1.36 (the gateway's options)"
fi

# --- two libtorrent-rasterbar sessions (python3-libtorrent; not an engine the gateway drives) -----------------------
# The evidence for docs/torrents.md: the engine of qBittorrent and Deluge on the same torrent, with libtorrent's
# default socket buffers and with 4 MiB ones. A fresh puller process per run; the seeder checked the file once.
if [ "$with_libtorrent" = 1 ]; then
  for buffers in 0 4194304; do
    dir="$run/lt-$buffers"; mkdir -p "$dir/seed" "$dir/pull"
    ln "$file" "$dir/seed/blob.bin"
    seed_port="$(free_port)"
    /usr/bin/python3 "$bench/torrent-libtorrent.py" seed "$torrent" "$dir/seed" "$seed_port" "$buffers" >"$dir/seed.log" 2>&1 &
    seed_pid=$!; pids+=("$seed_pid")
    for _ in $(seq 1 600); do grep -q seeding "$dir/seed.log" 2>/dev/null && break; kill -0 "$seed_pid" 2>/dev/null || break; sleep 0.1; done
    grep -q seeding "$dir/seed.log" || { log "libtorrent seeder did not start: $(tail -5 "$dir/seed.log")"; exit 1; }
    totals=() firsts=()
    for ((i = 1; i <= runs; i++)); do
      rm -rf "$dir/pull"; mkdir -p "$dir/pull"; sync
      read -r total first < <(/usr/bin/python3 "$bench/torrent-libtorrent.py" pull "$torrent" "$dir/pull" "$seed_port" "$buffers")
      cmp -s "$file" "$dir/pull/blob.bin" || { log "libtorrent run $i: file differs"; exit 1; }
      totals+=("$total") firsts+=("$first")
      log "libtorrent (socket buffers $buffers) run $i: $total ms (first byte $first ms)"
    done
    stop_one "$seed_pid"; rm -rf "$dir"
    row "libtorrent $lt_version, TCP, $([ "$buffers" = 0 ] && echo "default socket buffers" || echo "socket buffers $((buffers / 1048576)) MiB")"
  done
fi
stop_all

load_at_end="$(cut -d' ' -f1-3 /proc/loadavg)"
report="$results/engines-$stamp.md"
{
  echo "# Torrent engines on loopback, $stamp"
  echo
  echo "$mib MiB random file in the page cache, $runs runs each (median), torrent pieces $piece_kib KiB, a minimal HTTP tracker"
  echo "on the host address; $(nproc) cores, load (1/5/15 min) $load_at_start at start, $load_at_end at end."
  echo "Transmission variants (name:encryption:cache-mb): $variants; settings in the script (uTP, DHT, LPD, PEX off, no speed limits)."
  echo "Torrent time: add on a fresh puller until every byte is reported; first byte: first 50 ms poll with data."
  echo
  echo "| engine | median s | MiB/s | ratio to nginx | first byte s | runs (ms) |"
  echo "|---|---|---|---|---|---|"
  printf '%s\n' "${rows[@]}"
} | tee "$report"
log "written $report"
[ "${ENGINES_KEEP:-0}" = 1 ] && log "logs in $run" || rm -rf "$run"
