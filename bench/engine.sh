#!/usr/bin/env bash
# bench/engine.sh — run via `bench/run.sh engine [REPS]`: the goals of the batch engine.
#
# Side by side, in one run, on this machine:
#   1. 5 000 x `echo {}`, 4 at a time, output grouped (poolrun's default):
#      poolrun -j 4 vs `xargs -P4 -n1 echo`, REPS interleaved runs (default
#      5), median wall time. Goal: poolrun/xargs <= 1.05.
#   2. Start-up: `poolrun --version` vs a hello-world Go binary built here,
#      200 calls each, in interleaved blocks of 20, REPS times; median of
#      the per-call means. Goal: poolrun/hello <= 1.1.
# The last line holds ratio= (echo) and start= ratios. About 1-2 minutes.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
reps=${1:-5}
n=5000
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

(cd "$root" && go build -o "$work/poolrun" ./cmd/poolrun)
mkdir -p "$work/hello"
cat > "$work/hello/main.go" <<'GO'
package main

import "fmt"

func main() { fmt.Println("hello 0.1.0") }
GO
(cd "$work/hello" && cat > go.mod <<'MOD'
module hello

go 1.22
MOD
go build -o "$work/hello-bin" .)
P="$work/poolrun"
seq "$n" > "$work/in"

ms() { # ms CMD...: wall milliseconds of CMD (stdin from $work/in, stdout discarded)
  local s e
  s=$(date +%s%N)
  "$@" < "$work/in" > /dev/null
  e=$(date +%s%N)
  echo $(( (e - s) / 1000000 ))
}
us_per_call() { # us_per_call CMD...: mean wall microseconds of 20 calls
  local s e i
  s=$(date +%s%N)
  for ((i = 0; i < 20; i++)); do "$@" > /dev/null; done
  e=$(date +%s%N)
  echo $(( (e - s) / 20000 ))
}
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }
div() { awk -v a="$1" -v b="$2" 'BEGIN{ if (b > 0) printf "%.3f", a/b; else print "n/a" }'; }

echo "== $n x echo {}, 4 at a time, grouped (median of $reps interleaved; wall ms) on $(nproc) CPUs, $(date -u +%FT%TZ)"
pr=(); xr=()
for ((i = 0; i < reps; i++)); do
  pr+=("$(ms "$P" -j 4 echo {})")
  xr+=("$(ms xargs -P4 -n1 echo)")
done
pm=$(median "${pr[@]}"); xm=$(median "${xr[@]}")
echo "poolrun -j 4 echo {}  $pm ms (${pr[*]})"
echo "xargs -P4 -n1 echo    $xm ms (${xr[*]})"

echo "== start-up: poolrun --version vs a hello-world Go binary (median of $reps x 10 blocks of 20 calls; us a call)"
vr=(); hr=()
for ((i = 0; i < reps * 10; i++)); do
  vr+=("$(us_per_call "$P" --version)")
  hr+=("$(us_per_call "$work/hello-bin")")
done
vm=$(median "${vr[@]}"); hm=$(median "${hr[@]}")
echo "poolrun --version  $vm us"
echo "hello world        $hm us"
echo "ratio=$(div "$pm" "$xm") (poolrun/xargs, goal <= 1.05)  start=$(div "$vm" "$hm") (poolrun --version / hello, goal <= 1.1)"
