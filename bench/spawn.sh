#!/usr/bin/env bash
# bench/spawn.sh — run via `bench/run.sh spawn [REPS]`.
#
# Side by side, in one run, on this machine (go test benchmarks of ./spawn):
#   1. spawn-to-attached latency: a re-exec'd worker that reattaches one set
#      from its environment (spawn.Worker, the whole path: fork thread,
#      handshake, tracker, rebuild.FromEnv) against a bare os/exec fork/exec
#      of the same binary, alternated in one loop (BenchmarkWorkerVsBare,
#      300 of each per rep); goal: ratio under 1.10.
#   2. spawn.Command("/bin/true").Run() against exec.Command("/bin/true").Run()
#      (BenchmarkCommandTrue vs BenchmarkExecTrue, 2000 runs each per rep).
# REPS (default 3) alternate the two; medians are reported. The last line
# holds ratio= (worker/bare spawn-to-attached) and command/exec.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
reps=${1:-3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
(cd "$root" && go test -c -o "$work/spawn.test" ./spawn)
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }
metric() { # metric NAME: the value printed before NAME on a benchmark line
  awk -v m="$1" '{for (i = 2; i <= NF; i++) if ($i == m) print $(i-1)}'
}
ratios=(); bare=(); att=(); cmdns=(); execns=()
echo "== spawn on $(nproc) CPUs, $(date -u +%FT%TZ), $reps reps"
for ((i = 0; i < reps; i++)); do
  out=$(cd "$root/spawn" && "$work/spawn.test" -test.run '^$' -test.bench 'WorkerVsBare' -test.benchtime 300x)
  ratios+=("$(metric ratio <<<"$out")"); bare+=("$(metric bare-µs <<<"$out")"); att+=("$(metric attached-µs <<<"$out")")
  out=$(cd "$root/spawn" && "$work/spawn.test" -test.run '^$' -test.bench 'CommandTrue|ExecTrue' -test.benchtime 2000x)
  cmdns+=("$(grep '^BenchmarkCommandTrue' <<<"$out" | metric ns/op)")
  execns+=("$(grep '^BenchmarkExecTrue' <<<"$out" | metric ns/op)")
done
r=$(median "${ratios[@]}")
c=$(median "${cmdns[@]}"); e=$(median "${execns[@]}")
echo "spawn-to-attached: worker $(median "${att[@]}") us, bare fork/exec $(median "${bare[@]}") us (ratios: ${ratios[*]})"
echo "run /bin/true: spawn.Command $((c / 1000)) us, os/exec $((e / 1000)) us"
echo "ratio=$r (worker/bare spawn-to-attached, goal < 1.10) command/exec=$(awk -v a="$c" -v b="$e" 'BEGIN{printf "%.2f", a/b}')"
