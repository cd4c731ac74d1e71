#!/usr/bin/env bash
# Builds the reference llama-server and llama-quantize from the pinned llama.cpp source (the same
# tag the engine's prebuilt libraries come from), once, under bench/.cache/llama-<tag>/.
# Release, CPU only, no network at configure or build time (no web UI download, no OpenSSL).
# Prints the directory holding the two binaries. Idempotent.
set -euo pipefail
bench="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$bench/.." && pwd)"
tag="v0.5.0"
src="$("$root/tools/fetch-llama-source.sh")"
out="$bench/.cache/llama-$tag"
bin="$out/build/bin"
jobs="${BENCH_BUILD_JOBS:-2}"

# Keep in step with bench/README.md ("Reference build").
flags=(
  -DCMAKE_BUILD_TYPE=Release
  -DBUILD_SHARED_LIBS=OFF
  -DGGML_NATIVE=ON
  -DLLAMA_BUILD_TESTS=OFF
  -DLLAMA_BUILD_EXAMPLES=OFF
  -DLLAMA_BUILD_TOOLS=ON
  -DLLAMA_BUILD_SERVER=ON
  -DLLAMA_BUILD_UI=OFF
  -DLLAMA_USE_PREBUILT_UI=OFF
  -DLLAMA_OPENSSL=OFF
)

if [ -x "$bin/llama-server" ] && [ -x "$bin/llama-quantize" ]; then echo "$bin"; exit 0; fi
mkdir -p "$out"
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
cmake -S "$src" -B "$out/build" "${generator[@]}" "${flags[@]}" >"$out/configure.log" 2>&1 \
  || { echo "cmake configure failed, see $out/configure.log" >&2; exit 1; }
printf '%s\n' "${flags[@]}" >"$out/cmake-flags.txt"
cmake --build "$out/build" --config Release -j "$jobs" --target llama-server llama-quantize >"$out/build.log" 2>&1 \
  || { echo "build failed, see $out/build.log" >&2; tail -20 "$out/build.log" >&2; exit 1; }
echo "$bin"
