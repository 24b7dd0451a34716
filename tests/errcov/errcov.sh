#!/usr/bin/env bash
# tests/errcov/errcov.sh - lists every error message a user can reach
# (engine rkin_err_set formats, dsl lrk_error/luaL_error strings, the Lua
# prelude's error strings) and which of them some test asserts, per file,
# with the share (see errcov.lua for the rules). `make errcov`.
#
# usage: tests/errcov/errcov.sh [--verbose] [--strict]
#   --verbose  also list the checked, unreachable and pass-through messages
#   --strict   exit 1 when a reachable message is unchecked
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cd "$here/../.."
lua="${LUA:-lua5.4}"
command -v "$lua" >/dev/null || { echo "errcov: needs $lua" >&2; exit 2; }
mapfile -t src < <(find engine dsl -type f \( -name '*.c' -o -name '*.cc' \
                     -o -name '*.lua' \) | LC_ALL=C sort)
mapfile -t tst < <(find tests -type f \( -name '*.c' -o -name '*.cc' \
                     -o -name '*.h' -o -name '*.lua' \) \
                     -not -path 'tests/errcov/*' | LC_ALL=C sort)
exec "$lua" "$here/errcov.lua" --allow "$here/unreachable.txt" "$@" \
  --src "${src[@]}" --tests "${tst[@]}"
