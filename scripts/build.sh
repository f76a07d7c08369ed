#!/usr/bin/env bash
# SPDX-License-Identifier: BSD-3-Clause
# Configure (once) and build a tree. Usage: scripts/build.sh [release|asan]
set -euo pipefail
cd "$(dirname "$0")/.."
kind=${1:-release}
case "$kind" in
  release) dir=build;      opts=(--buildtype=release) ;;
  asan)    dir=build-asan; opts=(--buildtype=debug -Db_sanitize=address,undefined -Db_lundef=false) ;;
  *) echo "build: unknown kind '$kind' (allowed: release, asan)" >&2; exit 2 ;;
esac
if [[ ! -f $dir/build.ninja ]]; then
  meson setup "$dir" "${opts[@]}" >/dev/null
fi
ninja -C "$dir" >/dev/null || ninja -C "$dir"   # on failure, show the errors
echo "build: $dir ok"
