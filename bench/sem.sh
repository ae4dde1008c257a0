#!/usr/bin/env bash
# bench/sem.sh — run via `bench/run.sh sem [CALLS] [REPS]`.
#
# The cost of one GNU sem call against flock(1) doing the same job, side by
# side in one run: a loop of CALLS (default 300) calls of
#   sem --fg --id NAME -j 4 true        (poolrun called as sem: a symlink)
# and as many of
#   flock LOCKFILE true
# interleaved call by call, each timed by the shell ($EPOCHREALTIME), REPS
# times (default 5); the medians of the per-call means are compared. For reference it also
# times `poolrun sem run NAME -j 4 -- true` (the sets-managing path, whose
# command shares its slot with nested runs: a tracker process per call)
# GNU's own sem when it is installed (fewer calls: it is slow), and a
# minimal Go binary that fork-execs true, the floor for any Go program.
# Goal: sem/flock within 1.3. The last line holds ratio= (sem/flock).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
calls=${1:-300}
reps=${2:-5}
work=$(mktemp -d)
name="bench-sem-$$"
trap '"$work/poolrun" sem rm "$name" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
(cd "$root" && go build -o "$work/poolrun" ./cmd/poolrun)
ln -s "$work/poolrun" "$work/sem"
# The floor for any Go binary: a minimal one that fork-execs true and
# waits (syscall.ForkExec, Wait4), the whole of what sem does besides its
# semop calls.
cat > "$work/floor.go" <<'GO'
package main

import (
	"os"
	"os/exec"
	"syscall"
)

func main() {
	p, _ := exec.LookPath(os.Args[1])
	pid, err := syscall.ForkExec(p, os.Args[1:], &syscall.ProcAttr{Env: os.Environ(), Files: []uintptr{0, 1, 2}})
	if err != nil {
		os.Exit(127)
	}
	var ws syscall.WaitStatus
	syscall.Wait4(pid, &ws, 0, nil)
	os.Exit(ws.ExitStatus())
}
GO
(cd "$work" && GOFLAGS=-mod=mod go build -o "$work/floor" floor.go)
sem="$work/sem"; pr="$work/poolrun"; lock="$work/lockfile"
median() { printf '%s\n' "$@" | sort -g | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }
semus=(); flockus=(); runus=(); floorus=()
echo "== sem on $(nproc) CPUs, $(date -u +%FT%TZ), $reps reps of $calls calls each"
"$sem" --fg --id "$name.gnu" -j 4 true; flock "$lock" true # warm the page cache
# Interleaved call by call, so a change of the machine's load (it is
# shared) falls on both alike; the timestamps are shell variables, no fork.
for ((r = 0; r < reps; r++)); do
  ts=0; tf=0; tu=0; tg=0
  for ((i = 0; i < calls; i++)); do
    a=${EPOCHREALTIME/./}; "$sem" --fg --id "$name.gnu" -j 4 true
    b=${EPOCHREALTIME/./}; flock "$lock" true
    c=${EPOCHREALTIME/./}; "$pr" sem run "$name" -j 4 -- true
    d=${EPOCHREALTIME/./}; "$work/floor" true
    e=${EPOCHREALTIME/./}
    ts=$((ts + b - a)); tf=$((tf + c - b)); tu=$((tu + d - c)); tg=$((tg + e - d))
  done
  semus+=($((ts / calls))); flockus+=($((tf / calls))); runus+=($((tu / calls))); floorus+=($((tg / calls)))
done
s=$(median "${semus[@]}"); f=$(median "${flockus[@]}"); u=$(median "${runus[@]}"); g=$(median "${floorus[@]}")
echo "sem --fg --id NAME -j 4 true: ${s} us a call (${semus[*]})"
echo "flock LOCKFILE true:          ${f} us a call (${flockus[*]})"
echo "a minimal Go fork-exec of true:  ${g} us a call (${floorus[*]}; $(awk -v a="$g" -v b="$f" 'BEGIN{printf "%.2f", a/b}')x flock: the floor for a Go binary)"
echo "poolrun sem run NAME -j 4 -- true: ${u} us a call (${runus[*]}; $(awk -v a="$u" -v b="$f" 'BEGIN{printf "%.2f", a/b}')x flock)"
if gnu=$(command -v sem) && [ "$gnu" != "$sem" ] && "$gnu" --version 2>/dev/null | grep -q 'GNU parallel'; then
  n=$((calls / 10)); export HOME="$work"
  t0=${EPOCHREALTIME/./}; for ((i = 0; i < n; i++)); do "$gnu" --fg --id "$name" -j 4 true; done; t1=${EPOCHREALTIME/./}
  echo "GNU sem --fg --id NAME -j 4 true: $(((t1 - t0) / n)) us a call ($n calls)"
fi
echo "ratio=$(awk -v a="$s" -v b="$f" 'BEGIN{printf "%.2f", a/b}') (sem/flock, goal <= 1.3)"
