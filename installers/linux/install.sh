#!/bin/sh
# Installs the gateway from this unpacked archive for the current user, without root:
#   PREFIX/lib/inference-mesh/      the self-contained gateway (no .NET needed)
#   PREFIX/bin/inference-mesh       a link to it (PREFIX/bin should be on PATH; ~/.local/bin usually is)
#   ~/.config/systemd/user/inference-mesh.service   (when systemd is there; not enabled: see the last lines printed)
# Models and data stay where the gateway keeps them (~/.local/share/inference-mesh); neither install nor
# uninstall touches them.
#
# Usage: ./install.sh [--prefix DIR] [--no-service]      install or upgrade (default prefix: ~/.local)
#        ./install.sh --uninstall [--prefix DIR]          remove what install put there
set -eu

here="$(cd "$(dirname "$0")" && pwd)"
prefix="${HOME:?HOME is not set}/.local"
service=1
action=install
while [ $# -gt 0 ]; do
  case "$1" in
    --prefix) [ $# -ge 2 ] || { echo "install.sh: --prefix needs a folder" >&2; exit 2; }; prefix="$2"; shift 2 ;;
    --prefix=*) prefix="${1#--prefix=}"; shift ;;
    --no-service) service=0; shift ;;
    --uninstall) action=uninstall; shift ;;
    -h|--help) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) echo "install.sh: unknown argument '$1' (see --help)" >&2; exit 2 ;;
  esac
done
case "$prefix" in
  /*) ;;
  *) echo "install.sh: --prefix must be an absolute path (got '$prefix')" >&2; exit 2 ;;
esac

lib="$prefix/lib/inference-mesh"
bin="$prefix/bin/inference-mesh"
unit_dir="${XDG_CONFIG_HOME:-$HOME/.config}/systemd/user"
unit="$unit_dir/inference-mesh.service"

if [ "$action" = uninstall ]; then
  if [ -f "$unit" ] && grep -q "^ExecStart=$bin\$" "$unit"; then
    if command -v systemctl >/dev/null 2>&1; then systemctl --user disable --now inference-mesh >/dev/null 2>&1 || true; fi
    rm -f "$unit"
  fi
  [ -L "$bin" ] && rm -f "$bin"
  if [ -x "$lib/inference-mesh" ]; then rm -rf "$lib"; fi
  echo "Removed inference-mesh from $prefix. Models and data (~/.local/share/inference-mesh) were kept."
  exit 0
fi

[ -x "$here/inference-mesh/inference-mesh" ] || { echo "install.sh: $here/inference-mesh/inference-mesh is missing: run install.sh from the unpacked archive" >&2; exit 2; }
if [ -e "$bin" ] && [ ! -L "$bin" ]; then
  echo "install.sh: $bin exists and is not a link made by install.sh: move it away first" >&2; exit 2
fi

# A new copy beside the old one, then one rename each way: a running gateway keeps its files until it restarts,
# and an interrupted install leaves the previous version working.
mkdir -p "$prefix/lib" "$prefix/bin"
rm -rf "$lib.new" "$lib.old"
cp -R "$here/inference-mesh" "$lib.new"
if [ -d "$lib" ]; then mv "$lib" "$lib.old"; fi
mv "$lib.new" "$lib"
rm -rf "$lib.old"
ln -sfn "$lib/inference-mesh" "$bin"

version="$("$bin" --version)"
echo "Installed $version: $bin"

if [ "$service" = 1 ] && command -v systemctl >/dev/null 2>&1; then
  mkdir -p "$unit_dir"
  sed "s|@BIN@|$bin|g" "$here/inference-mesh.service" > "$unit.new"
  mv "$unit.new" "$unit"
  echo "User service: $unit"
  echo "  start now and at login:  systemctl --user daemon-reload && systemctl --user enable --now inference-mesh"
fi
case ":${PATH:-}:" in
  *":$prefix/bin:"*) ;;
  *) echo "Add $prefix/bin to PATH to run 'inference-mesh' by name." ;;
esac
echo "Models: put *.gguf files in ~/.local/share/inference-mesh/models (or run with --models DIR); API: http://127.0.0.1:8080/v1"
