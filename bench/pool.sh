#!/usr/bin/env bash
# bench/pool.sh [N] [WORKERS]: package pool against Python 3's process
# pools on the same work in one run: N (default 100000) identity tasks on
# a 64-byte payload with WORKERS (default 2) workers. Also pool's one-task
# round-trip latency and the time from a worker's SIGKILL to its
# replacement being ready. Last line: ratio = pool's tasks/s (Map,
# unordered) over Python's best per-task figure without batching
# (Pool.imap_unordered with chunksize 1, ProcessPoolExecutor.submit).
# Run it as bench/run.sh pool.
set -euo pipefail
here=$(cd "$(dirname "$0")" && pwd)
n=${1:-100000}
workers=${2:-2}
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT

echo "# pool benchmark: $n identity tasks (64-byte payloads), $workers workers; $(nproc) CPUs; $(python3 --version 2>&1); $(go version | cut -d' ' -f3)"
(cd "$here/.." && go build -o "$tmp/poolbench" ./bench/pool)
"$tmp/poolbench" -n "$n" -workers "$workers" | tee "$tmp/go.txt"
python3 "$here/pool/pybench.py" "$n" "$workers" | tee "$tmp/py.txt"

rate() { sed -n "s/.*$1.*tasks\/s=\([0-9.]*\).*/\1/p" "$2" | head -1; }
ours=$(rate 'pool.Map(unordered)' "$tmp/go.txt")
imap=$(rate 'imap_unordered' "$tmp/py.txt")
exe=$(rate 'ProcessPoolExecutor' "$tmp/py.txt")
best=$(awk -v a="$imap" -v b="$exe" 'BEGIN { print (a > b) ? a : b }')
which=$(awk -v a="$imap" -v b="$exe" 'BEGIN { print (a > b) ? "Pool.imap_unordered(chunksize=1)" : "ProcessPoolExecutor.submit" }')
awk -v o="$ours" -v p="$best" -v w="$which" 'BEGIN {
	printf "pool tasks/s=%.0f python best per-task (%s) tasks/s=%.0f ratio=%.2f\n", o, w, p, o / p
}'
