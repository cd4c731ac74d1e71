#!/usr/bin/env bash
# RAG benchmark: ingest throughput (chunks/s with embeddings from the local engine) against the engine embedding the
# same chunks alone; then the same 100k chunks written into sqlite-vec + FTS5 and into PostgreSQL + pgvector, each
# with write throughput, search latency p50/p99 (vector, full text, hybrid) against an exact brute-force scan, and
# recall@10 against that brute force. Markdown tables on stdout and in bench/results/rag-<timestamp>.md.
# pgvector needs the server of tools/setup-test-postgres.sh (or INFERENCE_MESH_RAG_POSTGRES). See bench/README.md.
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
backends="${BENCH_RAG_BACKENDS:-sqlite,postgres}"
# The test server's role and database (tools/setup-test-postgres.sh); a schema of this run's own, dropped at the end.
export INFERENCE_MESH_RAG_POSTGRES="${INFERENCE_MESH_RAG_POSTGRES:-Host=127.0.0.1;Port=5432;Database=inference_mesh_test;Username=inference_mesh_test;Password=inference_mesh_test}"
export BENCH_RAG_PG_SCHEMA="bench_rag_$(echo "$stamp" | tr 'A-Z' 'a-z')"
mkdir -p "$logs" "$results"
load_at_start="$(cut -d' ' -f1-3 /proc/loadavg)"
log() { printf '[bench %s] %s\n' "$(date -u +%H:%M:%S)" "$*" >&2; }

log "building bench/Rag"
dotnet build -c Release -nologo -v q -m:2 "$bench/Rag" >"$logs/build.log" 2>&1 || { tail -30 "$logs/build.log" >&2; exit 1; }

data="$cache/rag-data-$stamp"   # a fresh data folder per run
rm -rf "$data"
log "running: $ingest chunks to ingest, $search chunks to search, $queries queries, $threads threads, model $model, backends $backends"
table="$(dotnet "$bench/Rag/bin/Release/net10.0/bench-rag.dll" "$data" "$models" "$model" "$ingest" "$search" "$queries" "$threads" "$backends" 2>"$logs/bench-rag.log")" \
  || { tail -30 "$logs/bench-rag.log" >&2; exit 1; }
db_mib="$(du -sm "$data" | cut -f1)"
rm -rf "$data"

psql_version() { /usr/lib/postgresql/15/bin/postgres --version 2>/dev/null | awk '{print "PostgreSQL " $3}' || echo "PostgreSQL ?"; }
pgvector_version() { sed -n "s/^default_version = '\(.*\)'/\1/p" /usr/share/postgresql/15/extension/vector.control 2>/dev/null || echo "?"; }
report="$results/rag-$stamp.md"
{
  echo "# RAG benchmark $stamp"
  echo
  echo "- Machine: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | xargs), $(nproc) CPUs visible; load average at start $load_at_start, at end $(cut -d' ' -f1-3 /proc/loadavg)"
  echo "- Embedding model: $model ($threads threads). sqlite: SQLite (WAL) + sqlite-vec 0.1.9 (vec0, cosine, exact) + FTS5; data folders ${db_mib} MiB at the end."
  echo "- postgres: $(psql_version) + pgvector $(pgvector_version) (HNSW m=16, ef_construction=64, ef_search=400, cosine) + tsvector/GIN (ts_rank_cd), on this machine over loopback TCP."
  echo "- Search store: synthetic text (Zipf-distributed made-up words) and random unit vectors of the model's dimension; queries: 2-4 words, random unit vectors (the hybrid search embeds the words)."
  echo
  echo "$table"
} | tee "$report"
log "report: $report (logs: $logs)"
