#!/usr/bin/env bash
# bench/xargs.sh — run via `bench/run.sh xargs [REPS]`: poolrun called as
# xargs against GNU xargs, side by side, REPS interleaved runs each
# (default 5), median wall time:
#   1. 3 000 x `xargs -n1 -P4 true` (a process per input, 4 at a time);
#   2. 300 000 short inputs packed into command lines: `xargs echo`
#      (the splitter and the builder; a handful of echo processes);
#   3. 2 000 x `xargs -I{} echo x{}y` (one command per line).
# The last line holds the three ratios (poolrun/GNU, lower is better).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
reps=${1:-5}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$root" && go build -o "$work/bin/poolrun" ./cmd/poolrun)
ln -s poolrun "$work/bin/xargs"
gnu=$(command -v xargs)
seq 3000 > "$work/n1"
seq 300000 > "$work/pack"
seq 2000 > "$work/repl"

ms() { # ms IN XARGS ARGS...: wall milliseconds
  local in=$1 s e
  shift
  s=$(date +%s%N)
  "$@" < "$in" > /dev/null
  e=$(date +%s%N)
  echo $(( (e - s) / 1000000 ))
}
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }

ratio() { # ratio NAME IN ARGS...
  local name=$1 in=$2
  shift 2
  local p=() g=()
  for _ in $(seq "$reps"); do
    p+=("$(ms "$in" "$work/bin/xargs" "$@")")
    g+=("$(ms "$in" "$gnu" "$@")")
  done
  local pm gm
  pm=$(printf '%s\n' "${p[@]}" | median)
  gm=$(printf '%s\n' "${g[@]}" | median)
  echo "$name: poolrun-as-xargs ${pm} ms, GNU xargs ${gm} ms" >&2
  awk -v a="$pm" -v b="$gm" 'BEGIN {printf "%.2f", a / (b > 0 ? b : 1)}'
}
r1=$(ratio "n1 -P4 true x3000" "$work/n1" -n1 -P4 true)
r2=$(ratio "echo x300000 packed" "$work/pack" echo)
r3=$(ratio "-I{} echo x2000" "$work/repl" -I{} echo 'x{}y')
echo "ratio=$r1 (n1 -P4) pack=$r2 replace=$r3"
