#!/usr/bin/env bash
# Mesh benchmarks (loopback only): convergence of 3 and 10 serf agents from one bootstrap address, time until a
# killed agent is marked failed by every other node, and the latency one peer hop adds over a local call (two real
# gateway processes, stories260K). Prints a Markdown table and writes it to bench/results/mesh-<timestamp>.md.
# See bench/README.md ("Mesh").
#
# Settings (environment; defaults in brackets):
#   MESH_SIZES=3,10  MESH_ROUNDS=3  MESH_REQUESTS=200  MESH_WARMUP=20  MESH_SKIP_SERF=  MESH_SKIP_HOP=
#   GATEWAY_BIN=""   use this gateway executable instead of building src/Gateway
#   MESH_TIMEOUT=900 the measuring step is killed after this many seconds
# Quick check of the harness: MESH_SIZES=3 MESH_ROUNDS=1 MESH_REQUESTS=20 MESH_WARMUP=5 bash bench/run-mesh.sh
set -euo pipefail

bench="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$bench/.." && pwd)"
cd "$root"
command -v serf >/dev/null || { echo "serf is not installed (Debian package serf)" >&2; exit 1; }

model="${BENCH_MODELS_DIR:-$root/../shared/models}/stories260K.gguf"
[ -f "$model" ] || { echo "missing $model" >&2; exit 1; }

if [ -z "${GATEWAY_BIN:-}" ]; then
  dotnet build src/Gateway -c Release -v quiet -nologo >/dev/null
  GATEWAY_BIN="$root/src/Gateway/bin/Release/net10.0/inference-mesh"
fi
dotnet build bench/Mesh -c Release -v quiet -nologo >/dev/null

mkdir -p bench/results
out="bench/results/mesh-$(date -u +%Y%m%dT%H%M%SZ).md"
GATEWAY_BIN="$GATEWAY_BIN" MODEL="$model" timeout "${MESH_TIMEOUT:-900}" \
  dotnet bench/Mesh/bin/Release/net10.0/bench-mesh.dll | tee "$out"
echo "written to $out" >&2
