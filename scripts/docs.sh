#!/usr/bin/env bash
# Builds the API reference (Doxygen, docs/Doxyfile.in) into build/docs/html and fails on any warning
# about a public header, except the headers still waiting for their Doxygen comments (listed below:
# their warnings are counted and shown, not fatal). Expects the dependencies from scripts/setup.sh.
# Usage: scripts/docs.sh [BUILD_DIR]   (default: build)
set -euo pipefail
cd "$(dirname "$0")/.."
build="${1:-build}"

# Headers whose comments are still plain `//` (issue #15 point 4 is open until this list is empty);
# remove a header from here once every declaration in it has a Doxygen comment.
pending=()

[ -f "$build/CMakeCache.txt" ] ||
  cmake -S . -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$build" --target docs
log="$build/docs/warnings.log"
if ((${#pending[@]} > 0)); then
  pattern="/($(IFS='|'; echo "${pending[*]//./\\.}")):"
  fatal="$(grep -Ev "$pattern" "$log" || true)"
  waiting="$(grep -Ec "$pattern" "$log" || true)"
  echo "docs: $build/docs/html/index.html;" \
    "$waiting warnings in headers still to document (${pending[*]})"
else
  # Nothing pending: every warning is fatal (no pattern is built from an empty list).
  fatal="$(cat "$log")"
  echo "docs: $build/docs/html/index.html"
fi
if [ -n "$fatal" ]; then
  echo "docs: FAILED: undocumented or badly documented public declarations:" >&2
  echo "$fatal" >&2
  exit 1
fi
echo "docs: no warnings in the documented headers"
