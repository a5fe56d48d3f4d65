#!/usr/bin/env bash
# make bench: run every module's benchmark driver (bench/<module>/run.sh BUILD_DIR),
# each writing its tables and plots under bench/results/.
set -euo pipefail
build=$(cd "${1:-build/release}" && pwd)
here=$(cd "$(dirname "$0")" && pwd)
mkdir -p "$here/results"
for module in alloc stack gc gcg sched compare; do
    if [ -x "$here/$module/run.sh" ]; then
        echo "== bench/$module"
        "$here/$module/run.sh" "$build"
    fi
done
echo "results: $here/results/"
