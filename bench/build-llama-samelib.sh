#!/usr/bin/env bash
# Builds llama.cpp's own llama-server from the pinned tag so that it runs on the SAME prebuilt libraries as
# the gateway (libllama, libggml, libggml-base and the run-time-selected libggml-cpu-<variant>.so from
# @node-llama-cpp/linux-x64): shared libraries, backends loaded dynamically, no OpenMP, no CPU backend of its
# own. The server's own code (server, common, mtmd) is built here; llama.cpp and ggml come from the same files
# the gateway loads. Prints the folder holding llama-server and those libraries. Cached; idempotent.
set -euo pipefail
bench="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
root="$(cd "$bench/.." && pwd)"
src="$("$root/tools/fetch-llama-source.sh")"
out="$bench/.cache/llama-v0.5.0-samelib"
run="$out/run"
jobs="${BENCH_BUILD_JOBS:-2}"
prebuilt="$root/src/Engine/native/node_modules/@node-llama-cpp/linux-x64/bins/linux-x64"

if [ -x "$run/llama-server" ]; then echo "$run"; exit 0; fi
[ -f "$prebuilt/libllama.v0.5.0.so" ] || (cd "$root" && dotnet build src/Engine -v q >/dev/null)

flags=(
  -DCMAKE_BUILD_TYPE=Release -DBUILD_SHARED_LIBS=ON -DGGML_BACKEND_DL=ON -DGGML_CPU=OFF -DGGML_NATIVE=OFF
  -DGGML_OPENMP=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=ON
  -DLLAMA_BUILD_SERVER=ON -DLLAMA_BUILD_UI=OFF -DLLAMA_USE_PREBUILT_UI=OFF -DLLAMA_OPENSSL=OFF
)
mkdir -p "$out"
generator=()
command -v ninja >/dev/null && generator=(-G Ninja)
cmake -S "$src" -B "$out/build" "${generator[@]}" "${flags[@]}" >"$out/configure.log" 2>&1 \
  || { echo "cmake configure failed, see $out/configure.log" >&2; exit 1; }
printf '%s\n' "${flags[@]}" >"$out/cmake-flags.txt"
cmake --build "$out/build" -j "$jobs" --target llama-server >"$out/build.log" 2>&1 \
  || { echo "build failed, see $out/build.log" >&2; tail -20 "$out/build.log" >&2; exit 1; }

# The server's own shared libraries from this build; llama.cpp and ggml from the prebuilt package, under the
# names this build links against (same tag, same ABI).
rm -rf "$run.tmp" && mkdir -p "$run.tmp"
cp "$out/build/bin/llama-server" "$run.tmp/"
find "$out/build/bin" -maxdepth 1 -name '*.so*' ! -name 'libllama.so*' ! -name 'libggml*.so*' -exec cp -P {} "$run.tmp/" \;
cp "$prebuilt"/*.so "$run.tmp/"
for needed in $(readelf -d "$run.tmp/llama-server" "$run.tmp"/*.so 2>/dev/null | sed -n 's/.*NEEDED.*\[\(lib\(llama\|ggml\)[^]]*\)\].*/\1/p' | sort -u); do
  [ -e "$run.tmp/$needed" ] && continue
  case "$needed" in
    libllama.so*) ln -s libllama.v0.5.0.so "$run.tmp/$needed" ;;
    libggml-base.so*) ln -s libggml-base.so "$run.tmp/$needed" ;;
    libggml.so*) ln -s libggml.v0.5.0.so "$run.tmp/$needed" ;;
  esac
done
mv "$run.tmp" "$run"
echo "$run"
