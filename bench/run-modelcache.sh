#!/usr/bin/env bash
# Model cache benchmark: the in-process quantiser vs llama-quantize (same llama.cpp tag, same input, same threads),
# and the store's SHA-256 streaming vs sha256sum on a 1 GiB file. Markdown table on stdout and in
# bench/results/modelcache-<timestamp>.md; then the BitTorrent transfer (bench/run-torrent.sh, skipped with
# BENCH_TORRENT=0). See bench/README.md.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bench="$root/bench"
cache="$bench/.cache"
stamp="$(date -u +%Y%m%dT%H%M%SZ)"
logs="$cache/logs/modelcache-$stamp"
results="$bench/results"
threads="${BENCH_THREADS:-2}"
runs="${BENCH_RUNS:-3}"
types="${BENCH_QUANT_TYPES:-Q8_0 Q4_K_M}"
hash_mib="${BENCH_HASH_MIB:-1024}"
mkdir -p "$cache/models" "$logs" "$results"
load_at_start="$(cut -d' ' -f1-3 /proc/loadavg)"
log() { printf '[bench %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

log "reference llama.cpp build (first time: long)"
llama_bin="$(bash "$bench/build-llama.sh")"

log "building the benchmark tools"
dotnet build -c Release -nologo -v q -m:2 "$bench/ModelCache" >"$logs/build.log" 2>&1 || { tail -30 "$logs/build.log" >&2; exit 1; }
dotnet build -c Release -nologo -v q -m:2 "$bench/ModelGen" >"$logs/build-modelgen.log" 2>&1 || { tail -30 "$logs/build-modelgen.log" >&2; exit 1; }
tool=(dotnet "$bench/ModelCache/bin/Release/net10.0/bench-modelcache.dll")

# The models quantised: 134M (bench/ModelGen, as in run-local.sh; ~0.7 s for Q8_0, so fixed costs show) and a
# TinyLlama-shaped 1.1B (2.1 GiB F16; what quantising a real small model costs).
model_sizes="${BENCH_QUANT_MODELS:-134M 1B}"
f16_of() { echo "$cache/models/bench-$1-F16.gguf"; }
for size in $model_sizes; do
  f16="$(f16_of "$size")"
  [ -s "$f16" ] && continue
  case "$size" in
    134M) shape=(--embd 768 --layers 12 --heads 12 --kv-heads 12 --ff 2048) ;;
    1B) shape=(--embd 2048 --layers 22 --heads 32 --kv-heads 4 --ff 5632) ;;
    *) log "unknown model size $size (134M or 1B)"; exit 2 ;;
  esac
  log "generating $f16 (random weights)"
  dotnet "$bench/ModelGen/bin/Release/net10.0/bench-modelgen.dll" --vocab "$root/artifacts/llama.cpp-v0.5.0/models/ggml-vocab-llama-spm.gguf" \
    --out "$f16" "${shape[@]}" --ctx 2048 --seed 1234 --type f16 >&2
done

work="$cache/modelcache-work"
mkdir -p "$work"
median() { sort -n | awk '{a[NR]=$1} END {if (NR%2) print a[(NR+1)/2]; else printf "%.1f\n", (a[NR/2]+a[NR/2+1])/2}'; }
# Before each timed run: the tool's previous output is removed and the dirty pages of the previous run are written
# back, so that no run writes while the kernel is still flushing another run's output (which slowed whichever
# came next by 10-30 %), and neither tool replaces an existing file (ext4 flushes a file renamed over another
# synchronously: 60 ms of the rename in a 700 ms run; llama-quantize truncates instead, which it does not).
quiet() { rm -f "$1"; sync; }
ms_of() { local s e; s=$(date +%s%N); "$@" >>"$logs/commands.log" 2>&1; e=$(date +%s%N); echo $(( (e - s) / 1000000 )); }

rows=()
for size in $model_sizes; do
f16="$(f16_of "$size")"
for type in $types; do
  ours=() ref=()
  for ((i = 1; i <= runs; i++)); do
    # alternate the order so neither tool always runs on a warmer page cache
    if (( i % 2 )); then
      quiet "$work/ref-$type.gguf"; ref+=("$(ms_of "$llama_bin/llama-quantize" "$f16" "$work/ref-$type.gguf" "$type" "$threads")")
      quiet "$work/ours-$type.gguf"; ours+=("$("${tool[@]}" quantize "$f16" "$work/ours-$type.gguf" "$type" "$threads" 2>>"$logs/commands.log")")
    else
      quiet "$work/ours-$type.gguf"; ours+=("$("${tool[@]}" quantize "$f16" "$work/ours-$type.gguf" "$type" "$threads" 2>>"$logs/commands.log")")
      quiet "$work/ref-$type.gguf"; ref+=("$(ms_of "$llama_bin/llama-quantize" "$f16" "$work/ref-$type.gguf" "$type" "$threads")")
    fi
    log "$size $type run $i: ours ${ours[-1]} ms, llama-quantize ${ref[-1]} ms"
  done
  o="$(printf '%s\n' "${ours[@]}" | median)"; r="$(printf '%s\n' "${ref[@]}" | median)"
  # Each run's two tools ran back to back: the median of their ratios is steadier than the ratio of the medians when
  # the machine's load moves between runs (shown beside it; the goal is judged on the ratio of the medians).
  paired="$(for ((i = 0; i < runs; i++)); do awk -v a="${ours[i]}" -v b="${ref[i]}" 'BEGIN{printf "%.4f\n", a/b}'; done | sort -n \
    | awk '{a[NR]=$1} END {if (NR%2) printf "%.3f", a[(NR+1)/2]; else printf "%.3f", (a[NR/2]+a[NR/2+1])/2}')"
  sha_o="$(sha256sum "$work/ours-$type.gguf" | cut -c1-64)"; sha_r="$(sha256sum "$work/ref-$type.gguf" | cut -c1-64)"
  same=$([ "$sha_o" = "$sha_r" ] && echo "yes" || echo "**no**")
  rows+=("| quantise bench-$size F16 → $type, $threads threads (ms, median of $runs) | $o | $r | $(awk -v a="$o" -v b="$r" 'BEGIN{printf "%.3f", a/b}') (goal ≤ 1.05; median of the $runs paired ratios $paired) | byte-identical: $same (\`${sha_o:0:16}…\`) |")
done
done
rm -f "$work"/ours-*.gguf "$work"/ref-*.gguf

hash_file="$work/hash-${hash_mib}MiB.bin"
if [ ! -s "$hash_file" ] || [ "$(stat -c %s "$hash_file")" -ne $((hash_mib * 1048576)) ]; then
  log "writing $hash_file"
  head -c $((hash_mib * 1048576)) /dev/urandom >"$hash_file"
fi
cat "$hash_file" >/dev/null # page cache warm for both: this measures hashing, not the disk
net=() ref=()
for ((i = 1; i <= runs; i++)); do
  out="$("${tool[@]}" hash "$hash_file")"; net+=("${out%% *}"); net_sha="${out##* }"
  ref+=("$(ms_of sha256sum "$hash_file")")
  log "hash run $i: .NET ${net[-1]} ms, sha256sum ${ref[-1]} ms"
done
ref_sha="$(sha256sum "$hash_file" | cut -c1-64)"
n="$(printf '%s\n' "${net[@]}" | median)"; r="$(printf '%s\n' "${ref[@]}" | median)"
tp() { awk -v ms="$1" -v mib="$hash_mib" 'BEGIN{printf "%.0f", mib / (ms / 1000)}'; }
rows+=("| SHA-256 of ${hash_mib} MiB, page cache warm (MiB/s, median of $runs) | $(tp "$n") | $(tp "$r") | $(awk -v a="$r" -v b="$n" 'BEGIN{printf "%.3f", a/b}') (goal ≥ 1.0) | same digest: $([ "$net_sha" = "$ref_sha" ] && echo yes || echo "**no**") |")

report="$results/modelcache-$stamp.md"
{
  echo "# Model cache benchmark $stamp"
  echo
  echo "- Machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs), $(nproc) CPUs visible; load average at start $load_at_start, at end $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "- Ours: LlamaQuantizer (llama_model_quantize in process, prebuilt llama.cpp v0.5.0 libraries), StreamHasher (IncrementalHash, 1 MiB reads). Reference: llama-quantize built from v0.5.0 (bench/build-llama.sh), coreutils sha256sum."
  echo "- Times are whole processes for llama-quantize and sha256sum, the QuantizeAsync / HashFileAsync call for ours (the .NET start-up, ~0.1 s, is not counted)."
  echo
  echo "| Measurement | ours | reference | ratio | output |"
  echo "|---|---|---|---|---|"
  printf '%s\n' "${rows[@]}"
} | tee "$report"
log "report: $report (logs: $logs)"

if [ "${BENCH_TORRENT:-1}" != 0 ]; then
  log "BitTorrent transfer vs nginx (bench/run-torrent.sh)"
  bash "$bench/run-torrent.sh"
fi
