#!/usr/bin/env bash
# Builds and installs the pgvector extension (0.8.0, Debian's source package pgvector 0.8.0-1 of trixie) into
# PostgreSQL 15. Debian bookworm has no postgresql-15-pgvector, but the machine's own Debian mirror serves trixie's
# source packages: the source index is fetched into a private apt state under a temporary folder (the system's
# sources and lists stay untouched), `apt-get source` downloads the files and checks them against the signed
# index and the .dsc checksums, and the orig tarball is built with PGXS against postgresql-server-dev-15.
# The mirror's address is read from this machine's apt configuration, never written here.
# PGVECTOR_VERSION (default 0.8.0) picks the upstream version; when trixie no longer has it, its current one is taken.
# Idempotent: does nothing when vector.control is already installed. Needs root (apt-get, make install).
set -euo pipefail

pg_major="${PG_MAJOR:-15}"
pg_config="/usr/lib/postgresql/$pg_major/bin/pg_config"
version="${PGVECTOR_VERSION:-0.8.0}"
source_suite="trixie"

if [ -x "$pg_config" ] && [ -f "$("$pg_config" --sharedir)/extension/vector.control" ]; then
  echo "pgvector: already installed in PostgreSQL $pg_major"
  exit 0
fi

log() { printf 'pgvector: %s\n' "$*" >&2; }

# The URI of the Debian entry serving bookworm main: deb822 files first, then the one-line format.
debian_uri() {
  local file uri
  for file in /etc/apt/sources.list.d/*.sources; do
    [ -f "$file" ] || continue
    uri="$(awk '
      function flush() { if (uris != "" && suites ~ /(^| )bookworm( |$)/) { print uris; found = 1; exit } uris = ""; suites = "" }
      /^[ \t]*$/ { flush(); next }
      /^[ \t]*#/ { next }
      tolower($1) == "uris:" { uris = $2 }
      tolower($1) == "suites:" { suites = ""; for (i = 2; i <= NF; i++) suites = suites " " $i; suites = suites " " }
      END { if (!found) flush() }' "$file")"
    if [ -n "$uri" ]; then echo "$uri"; return 0; fi
  done
  for file in /etc/apt/sources.list /etc/apt/sources.list.d/*.list; do
    [ -f "$file" ] || continue
    uri="$(awk '$1 == "deb" { i = 2; if ($2 ~ /^\[/) { while (i <= NF && $i !~ /\]$/) i++; i++ } if ($(i + 1) == "bookworm") { print $i; exit } }' "$file")"
    if [ -n "$uri" ]; then echo "$uri"; return 0; fi
  done
  return 1
}

export DEBIAN_FRONTEND=noninteractive
need=()
dpkg -s "postgresql-server-dev-$pg_major" >/dev/null 2>&1 || need+=("postgresql-server-dev-$pg_major")
command -v make >/dev/null 2>&1 || need+=(make)
command -v gcc >/dev/null 2>&1 || need+=(gcc)
command -v dpkg-source >/dev/null 2>&1 || need+=(dpkg-dev)
if [ "${#need[@]}" -gt 0 ]; then
  log "installing ${need[*]}"
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${need[@]}" >/dev/null
fi

uri="$(debian_uri)" || { echo "pgvector: no Debian bookworm entry found in /etc/apt/sources.list.d/*.sources or /etc/apt/sources.list" >&2; exit 1; }
keyring=/usr/share/keyrings/debian-archive-keyring.gpg
[ -f "$keyring" ] || { echo "pgvector: $keyring is missing (apt-get install debian-archive-keyring)" >&2; exit 1; }

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
mkdir -p "$work/lists/partial" "$work/src"
cat >"$work/src.sources" <<EOF
Types: deb-src
URIs: $uri
Suites: $source_suite
Components: main
Signed-By: $keyring
EOF
# APT::Sandbox::User=root: the private folders belong to root, so apt's _apt user could not write to them.
apt_private=(-o "Dir::Etc::sourcelist=$work/src.sources" -o Dir::Etc::sourceparts=- -o "Dir::State::Lists=$work/lists" -o APT::Sandbox::User=root)

log "fetching the $source_suite source index (private apt state in $work)"
apt-get "${apt_private[@]}" update -qq
log "downloading pgvector $version source (checked against the signed index and the .dsc)"
if ! (cd "$work/src" && apt-get "${apt_private[@]}" source --download-only -qq "pgvector=$version-1"); then
  # A stable update replaces the suite's version: take the one it has now rather than fail the whole CI run.
  log "pgvector $version-1 is no longer in $source_suite; taking the version $source_suite has"
  (cd "$work/src" && apt-get "${apt_private[@]}" source --download-only -qq pgvector)
fi
dsc="$(find "$work/src" -maxdepth 1 -name 'pgvector_*.dsc' | head -n 1)"
[ -n "$dsc" ] || { echo "pgvector: no source package was downloaded" >&2; exit 1; }
# dpkg-source checks every file's size and checksums against the .dsc once more while it extracts (it also warns
# that it cannot verify the uploader's signature without debian-keyring: the archive's signed index vouches for it).
(cd "$work/src" && dpkg-source -x "$(basename "$dsc")" build >"$work/extract.log" 2>&1) || { cat "$work/extract.log" >&2; exit 1; }

log "building against $pg_config"
make -s -C "$work/src/build" PG_CONFIG="$pg_config" >"$work/build.log" 2>&1 || { tail -30 "$work/build.log" >&2; exit 1; }
make -s -C "$work/src/build" PG_CONFIG="$pg_config" install >>"$work/build.log" 2>&1 || { tail -30 "$work/build.log" >&2; exit 1; }
echo "pgvector: $(basename "$dsc" .dsc | sed 's/^pgvector_//') installed in PostgreSQL $pg_major"
