#!/usr/bin/env bash
# RAG benchmark: ingest throughput (chunks/s with embeddings from the local engine) against the engine embedding the
# same chunks alone; search latency p50/p99 at 100k chunks (vector, full text, hybrid) against an exact brute-force
# scan; recall@10 of sqlite-vec against that brute force. Markdown table on stdout and in
# bench/results/rag-<timestamp>.md. See bench/README.md.
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bench="$root/bench"
cache="$bench/.cache"
stamp="$(date -u +%Y%m%dT%H%M%SZ)"
logs="$cache/logs/rag-$stamp"
results="$bench/results"
threads="${BENCH_THREADS:-2}"
models="${BENCH_MODELS_DIR:-$root/../shared/models}"
model="${BENCH_RAG_MODEL:-stories260K}"
ingest="${BENCH_RAG_INGEST_CHUNKS:-2000}"
search="${BENCH_RAG_SEARCH_CHUNKS:-100000}"
queries="${BENCH_RAG_QUERIES:-200}"
mkdir -p "$logs" "$results"
load_at_start="$(cut -d' ' -f1-3 /proc/loadavg)"
log() { printf '[bench %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

log "building bench/Rag"
dotnet build -c Release -nologo -v q -m:2 "$bench/Rag" >"$logs/build.log" 2>&1 || { tail -30 "$logs/build.log" >&2; exit 1; }

data="$cache/rag-data-$stamp"   # a fresh data folder per run
rm -rf "$data"
log "running: $ingest chunks to ingest, $search chunks to search, $queries queries, $threads threads, model $model"
table="$(dotnet "$bench/Rag/bin/Release/net10.0/bench-rag.dll" "$data" "$models" "$model" "$ingest" "$search" "$queries" "$threads" 2>"$logs/bench-rag.log")" \
  || { tail -30 "$logs/bench-rag.log" >&2; exit 1; }
db_mib="$(du -sm "$data" | cut -f1)"
rm -rf "$data"

report="$results/rag-$stamp.md"
{
  echo "# RAG benchmark $stamp"
  echo
  echo "- Machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs), $(nproc) CPUs visible; load average at start $load_at_start, at end $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "- Embedding model: $model ($threads threads). Store: SQLite (WAL) + sqlite-vec 0.1.9 (vec0, cosine) + FTS5; data folder ${db_mib} MiB at the end."
  echo "- Search store: synthetic text (Zipf-distributed made-up words) and random unit vectors of the model's dimension; queries: 2-4 words, random unit vectors."
  echo "- pgvector: not measured (not installable on this machine)."
  echo
  echo "$table"
} | tee "$report"
log "report: $report (logs: $logs)"
