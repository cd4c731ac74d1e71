#!/usr/bin/env bash
# Fetches the llama.cpp source of the pinned tag (v0.5.0) and checks it out under
# artifacts/llama.cpp-v0.5.0. The source ships inside the npm package node-llama-cpp@3.22.1 as a
# git bundle; `npm pack` fetches the tarball by name and version (no dependencies, no scripts)
# and its integrity is checked against the hash pinned here. Idempotent: prints the checkout path.
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
dest="$root/artifacts/llama.cpp-v0.5.0"
pkg="node-llama-cpp@3.22.1"
integrity="sha512-bltIipuWmc123H7tMIgDGKSsSrhmhlQYeVUC48XTjVW7XGJJiJJyCdlTMzQ/LiWoPkGDpcL4FviDpgw7qfTiDw=="

if [ -f "$dest/include/llama.h" ]; then echo "$dest"; exit 0; fi
command -v npm >/dev/null || { echo "npm is required to fetch the llama.cpp source ($pkg)" >&2; exit 1; }
command -v git >/dev/null || { echo "git is required to unpack the llama.cpp source bundle" >&2; exit 1; }

cache="$root/artifacts/cache"
mkdir -p "$cache"
# Two test classes may ask at once on a fresh checkout: one fetches, the other waits and then finds it done.
exec 9>"$cache/.fetch-llama-source.lock"
flock 9
if [ -f "$dest/include/llama.h" ]; then echo "$dest"; exit 0; fi
tgz="$cache/node-llama-cpp-3.22.1.tgz"
if [ ! -f "$tgz" ]; then
  (cd "$cache" && npm pack "$pkg" --silent >/dev/null)
fi
actual="sha512-$(openssl dgst -sha512 -binary "$tgz" | base64 -w0)"
if [ "$actual" != "$integrity" ]; then
  rm -f "$tgz"
  echo "integrity mismatch for $pkg: expected $integrity, got $actual" >&2
  exit 1
fi
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
tar -xzf "$tgz" -C "$tmp" package/llama/gitRelease.bundle
rm -rf "$dest.tmp"
git clone --quiet "$tmp/package/llama/gitRelease.bundle" "$dest.tmp" 2>/dev/null
mv "$dest.tmp" "$dest"
echo "$dest"
