#!/usr/bin/env bash
# Run a command while a CPU hog keeps one core busy, as on a shared, noisy CI machine.
# The hog is stopped whatever happens to the command; the command's exit code is kept.
set -euo pipefail
python3 -c 'while True: pass' &
hog=$!
trap 'kill "$hog" 2>/dev/null || true' EXIT
echo "with-busy-core: CPU hog $hog keeps one core busy"
"$@"
