#!/usr/bin/env bash
# bench/pipe.sh — run via `bench/run.sh pipe [REPS] [SIZE_MB]`.
#
# Splitting a 1 GB file of lines into blocks for 4 jobs of `wc -l`, on
# this machine, side by side:
#   cat F | wc -l                          the floor: one reader, one counter
#   poolrun --pipe -j4 wc -l < F           stdin a regular file: parts spliced
#   cat F | poolrun --pipe -j4 wc -l       stdin a pipe: blocks read into memory
#   poolrun --pipepart -a F -j4 wc -l      parts of the file, spliced
#   parallel --pipe -j4 wc -l < F          GNU parallel 20221122
#   parallel --pipepart -a F -j4 wc -l
# Runs are interleaved, REPS times (default 3), and the best wall time of
# each is reported, with MB/s; then poolrun's peak memory (GNU time's max
# RSS) for 64 MB and the whole file through a pipe, which stays flat. Every run's line count is checked against
# wc -l's. The file lives in a temporary directory removed at the end.
# The last line holds ratio=: poolrun --pipe's time over cat | wc -l's
# (goal: at most 2), then parallel --pipe's time over poolrun --pipe's
# (goal: at least 5).
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
reps=${1:-3}
mb=${2:-1024}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
avail=$(df -Pm "$work" | awk 'NR==2{print $4}')
if [ "$avail" -lt $((mb + 200)) ]; then
  echo "bench/pipe.sh: $work has ${avail} MB free, want $((mb + 200))" >&2
  exit 1
fi
have_parallel=0
command -v parallel >/dev/null && have_parallel=1

(cd "$root" && go build -o "$work/poolrun" ./cmd/poolrun)
P="$work/poolrun"
F="$work/lines"
{ seq 1 200000000 || true; } | head -c "$((mb * 1024 * 1024))" > "$F" # seq dies of SIGPIPE
want=$(wc -l < "$F")
size=$(stat -c %s "$F")

ms() { # ms NAME CMD: wall ms of the shell command CMD; checks the total line count
  local s e got
  s=$(date +%s%N)
  got=$(bash -c "$2" | awk '{n += $1} END {print n}')
  e=$(date +%s%N)
  if [ "$got" != "$want" ]; then
    echo "bench/pipe.sh: $1 counted $got lines, want $want" >&2
    exit 1
  fi
  echo $(( (e - s) / 1000000 ))
}
best() { printf '%s\n' "$@" | sort -n | head -1; }
div() { awk -v a="$1" -v b="$2" 'BEGIN{ if (b > 0) printf "%.2f", a/b; else print "n/a" }'; }
mbs() { awk -v ms="$1" -v sz="$size" 'BEGIN{ printf "%.0f", sz / 1048576 / (ms / 1000) }'; }

names=(cat poolrun-pipe poolrun-pipe-stdin-pipe poolrun-pipepart)
declare -A cmd=(
  [cat]="cat '$F' | wc -l"
  [poolrun-pipe]="'$P' --pipe -j4 wc -l < '$F'"
  [poolrun-pipe-stdin-pipe]="cat '$F' | '$P' --pipe -j4 wc -l"
  [poolrun-pipepart]="'$P' --pipepart -a '$F' -j4 wc -l"
)
if [ "$have_parallel" = 1 ]; then
  names+=(parallel-pipe parallel-pipepart)
  cmd[parallel-pipe]="parallel --will-cite --pipe -j4 wc -l < '$F'"
  cmd[parallel-pipepart]="parallel --will-cite --pipepart -a '$F' -j4 wc -l"
fi
declare -A runs
cat "$F" > /dev/null # into the page cache: every run reads it from memory
echo "== $(( size / 1048576 )) MB of lines ($want lines) into wc -l at -j4, best of $reps (wall ms) on $(nproc) CPUs, $(date -u +%FT%TZ)"
for ((i = 0; i < reps; i++)); do
  for n in "${names[@]}"; do
    runs[$n]="${runs[$n]:-} $(ms "$n" "${cmd[$n]}")"
  done
done
declare -A b
for n in "${names[@]}"; do
  # shellcheck disable=SC2086
  b[$n]=$(best ${runs[$n]})
  printf '%-26s %7s ms  %5s MB/s   (%s)\n' "$n" "${b[$n]}" "$(mbs "${b[$n]}")" "${runs[$n]# }"
done
if [ -x /usr/bin/time ]; then
  # Memory stays bounded: a few blocks a slot, whatever the input's size.
  peak() { /usr/bin/time -f '%M' "$P" --pipe -j4 wc -l 2>&1 >/dev/null | tail -1; }
  small=$(head -c 64M "$F" | peak)
  big=$(cat "$F" | peak)
  infile=$(/usr/bin/time -f '%M' "$P" --pipe -j4 wc -l < "$F" 2>&1 >/dev/null | tail -1)
  echo "peak memory (max RSS) of poolrun --pipe -j4 wc -l: stdin a pipe, 64 MB in: ${small} KB, $(( size / 1048576 )) MB in: ${big} KB; stdin the file: ${infile} KB"
fi
pp=${b[parallel-pipe]:-0}
ppp=${b[parallel-pipepart]:-0}
echo "poolrun --pipe / cat|wc -l: $(div "${b[poolrun-pipe]}" "${b[cat]}")   (stdin a pipe: $(div "${b[poolrun-pipe-stdin-pipe]}" "${b[cat]}"))"
echo "parallel --pipe / poolrun --pipe: $(div "$pp" "${b[poolrun-pipe]}")   parallel --pipepart / poolrun --pipepart: $(div "$ppp" "${b[poolrun-pipepart]}")"
echo "ratio=$(div "${b[poolrun-pipe]}" "${b[cat]}") (poolrun --pipe / cat|wc -l, goal <= 2)  parallel_pipe_over_poolrun=$(div "$pp" "${b[poolrun-pipe]}") (goal >= 5)  stdin_pipe_ratio=$(div "${b[poolrun-pipe-stdin-pipe]}" "${b[cat]}")"
