#!/usr/bin/env bash
# Builds the gateway's Linux packages from this checkout:
#   OUT/inference-mesh-VERSION-linux-x64.tar.gz   any x64 Linux with glibc 2.31+; ./install.sh inside installs it for
#                                                 the current user without root (installers/README.md)
#   OUT/inference-mesh_VERSION_amd64.deb          Debian 12+ / Ubuntu 22.04+ (built when dpkg-deb is present)
# Both hold the same self-contained, ReadyToRun-compiled publish: no .NET is needed on the target machine.
# Needs what the build needs (the .NET 10 SDK, npm for llama.cpp's libraries).
#
# Usage: installers/linux/build-packages.sh [OUT_DIR]      (default: artifacts/packages)
#   PACKAGE_COMPRESSION=fast   quicker, larger packages (gzip -1), for tests
set -euo pipefail

root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
here="$root/installers/linux"
out="${1:-$root/artifacts/packages}"
mkdir -p "$out"
out="$(cd "$out" && pwd)"
work="$(mktemp -d "${TMPDIR:-/tmp}/inference-mesh-package.XXXXXX")"
trap 'rm -rf "$work"' EXIT

project="$root/src/Gateway/InferenceMesh.Gateway.csproj"
version="$(dotnet msbuild "$project" -nologo -getProperty:Version)"
[[ "$version" =~ ^[0-9]+\.[0-9]+\.[0-9]+ ]] || { echo "build-packages: no version from $project (got '$version')" >&2; exit 1; }

echo "Publishing inference-mesh $version (self-contained, linux-x64)…" >&2
publish="$work/publish"
dotnet publish "$project" -c Release -r linux-x64 --self-contained true -nologo -v:quiet \
  -p:UseAppHost=true -o "$publish" >&2
[ -x "$publish/inference-mesh" ] || { echo "build-packages: the publish has no inference-mesh executable" >&2; exit 1; }
[ -d "$publish/native/linux-x64" ] || { echo "build-packages: the publish has no llama.cpp libraries (native/linux-x64)" >&2; exit 1; }
# The publish's own record of what it compiled, not needed at run time.
rm -f "$publish"/*.pdb "$publish"/*.staticwebassets.endpoints.json

# Tarball: inference-mesh-VERSION-linux-x64/{inference-mesh/, install.sh, inference-mesh.service, README.md}
tar_name="inference-mesh-$version-linux-x64"
tar_root="$work/$tar_name"
mkdir -p "$tar_root"
cp -R "$publish" "$tar_root/inference-mesh"
cp "$here/install.sh" "$here/inference-mesh.service" "$tar_root/"
cp "$root/installers/README.md" "$tar_root/README.md"
gzip_level=9
[ "${PACKAGE_COMPRESSION:-}" = fast ] && gzip_level=1
tar -C "$work" --owner=0 --group=0 --numeric-owner -cf - "$tar_name" | gzip "-$gzip_level" > "$out/$tar_name.tar.gz.tmp"
mv "$out/$tar_name.tar.gz.tmp" "$out/$tar_name.tar.gz"
echo "$out/$tar_name.tar.gz"

if ! command -v dpkg-deb >/dev/null 2>&1; then
  echo "build-packages: dpkg-deb not found, no .deb built" >&2
  exit 0
fi

# Debian package: /usr/lib/inference-mesh, /usr/bin/inference-mesh, a user unit, the docs.
deb="$work/deb"
mkdir -p "$deb/DEBIAN" "$deb/usr/lib" "$deb/usr/bin" "$deb/usr/lib/systemd/user" "$deb/usr/share/doc/inference-mesh"
cp -R "$publish" "$deb/usr/lib/inference-mesh"
ln -s ../lib/inference-mesh/inference-mesh "$deb/usr/bin/inference-mesh"
sed 's|@BIN@|/usr/bin/inference-mesh|g' "$here/inference-mesh.service" > "$deb/usr/lib/systemd/user/inference-mesh.service"
cp "$root/README.md" "$deb/usr/share/doc/inference-mesh/README.md"
cp "$root/installers/README.md" "$deb/usr/share/doc/inference-mesh/INSTALL.md"
size_kib="$(du -sk --exclude=DEBIAN "$deb" | cut -f1)"
# Debian versions may not contain '+' metadata from .NET's informational version; the plain version is used.
cat > "$deb/DEBIAN/control" <<CONTROL
Package: inference-mesh
Version: $version
Architecture: amd64
Maintainer: Inference Mesh developers <inference-mesh@localhost>
Installed-Size: $size_kib
Depends: libc6 (>= 2.31), libgcc-s1, libstdc++6, libssl3 | libssl1.1, zlib1g
Recommends: qbittorrent-nox, serf
Suggests: aria2
Section: net
Priority: optional
Description: local-first AI inference gateway with an OpenAI-compatible API
 Serves GGUF models in process through llama.cpp on 127.0.0.1:8080, routes requests between the local
 model, peers of a private mesh and cloud APIs by privacy policy (a confidential prompt never leaves the
 machine), and keeps a checksummed model cache, conversations and RAG stores on this machine.
 Each user starts their own: systemctl --user enable --now inference-mesh
CONTROL
compression=(-Zxz)
[ "${PACKAGE_COMPRESSION:-}" = fast ] && compression=(-Zgzip -z1)
deb_file="$out/inference-mesh_${version}_amd64.deb"
dpkg-deb --root-owner-group "${compression[@]}" --build "$deb" "$deb_file.tmp" >/dev/null
mv "$deb_file.tmp" "$deb_file"
echo "$deb_file"
