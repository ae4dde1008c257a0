#!/usr/bin/env bash
# bench/jobserver.sh — run via `bench/run.sh jobserver [REPS] [TARGETS]`: the
# cost of poolrun's GNU make jobserver (docs/jobserver.md).
#
# Side by side, in one run, on this machine:
#   1. A build of TARGETS (default 600) small independent make targets
#      (each runs /bin/true), 4 at a time: `poolrun -j 4 make -f many.mk`
#      (make takes its 3 tokens from the job's jobserver, backed by
#      poolrun's cap) vs plain `make -j4 -f many.mk` (make's own pipe),
#      REPS interleaved runs (default 7), median wall time.
#      Goal: poolrun/make <= 1.05.
#   2. The cost of one token, taken and given back (go test -bench): a
#      unit of poolrun's cap, a byte of make's pipe through the Client,
#      and a token of a Server refilled from the cap.
# The last line holds ratio= (the build) and the per-token figures.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
reps=${1:-7}
n=${2:-600}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
unset MAKEFLAGS MFLAGS CARGO_MAKEFLAGS MAKELEVEL POOLRUN_SEMLOCKS POOLRUN_CAP_HELD POOLRUN_JOBSERVER

(cd "$root" && go build -o "$work/poolrun" ./cmd/poolrun)
P="$work/poolrun"
{
  printf 'all:'
  for ((i = 1; i <= n; i++)); do printf ' t%d' "$i"; done
  printf '\n'
  for ((i = 1; i <= n; i++)); do printf 't%d:\n\t@true\n' "$i"; done
} > "$work/many.mk"

ms() { # ms CMD...: wall milliseconds of CMD
  local s e
  s=$(date +%s%N)
  "$@" > /dev/null
  e=$(date +%s%N)
  echo $(( (e - s) / 1000000 ))
}
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }
div() { awk -v a="$1" -v b="$2" 'BEGIN{ if (b > 0) printf "%.3f", a/b; else print "n/a" }'; }

echo "== $n small make targets, 4 at a time (median of $reps interleaved; wall ms) on $(nproc) CPUs, $(date -u +%FT%TZ)"
pr=(); mr=()
for ((i = 0; i < reps; i++)); do
  pr+=("$(ms "$P" -j 4 make -s -f "$work/many.mk" ::: all)")
  mr+=("$(ms make -s -j4 -f "$work/many.mk" all)")
done
pm=$(median "${pr[@]}"); mm=$(median "${mr[@]}")
echo "poolrun -j 4 make   $pm ms (${pr[*]})"
echo "make -j4            $mm ms (${mr[*]})"

echo "== one token, taken and given back (go test -bench Token ./jobserver/)"
tok=$(cd "$root" && go test -run XXX -bench Token -benchtime 1s ./jobserver/ | awk '/^BenchmarkToken/ {sub(/^BenchmarkToken/, "", $1); sub(/-[0-9]+$/, "", $1); printf "%s=%sns ", tolower($1), $3}')
echo "$tok"
echo "ratio=$(div "$pm" "$mm") (poolrun -j 4 make / make -j4, goal <= 1.05)  token: $tok"
