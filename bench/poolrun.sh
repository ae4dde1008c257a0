#!/usr/bin/env bash
# bench/poolrun.sh — run via `bench/run.sh poolrun [REPS]`.
#
# Side by side, in one run, on this machine:
#   1. 5 000 trivial jobs at 4 at a time: `true`, and `echo {}` (poolrun's
#      output grouping on, its default): poolrun -j 4 vs xargs -P4 vs GNU
#      parallel -j 4. Runs are interleaved, REPS times (default 3; GNU
#      parallel, much slower, once), and the median wall time is reported.
#   2. The per-slot overhead of `poolrun sem run NAME -j 4 -- true` vs GNU
#      `sem --fg --id NAME -j 4 true` (mean wall time per call).
#   3. Peak memory (VmHWM) of poolrun with 100 000 inputs queued in a file,
#      next to 1 000: inputs are streamed, never loaded first.
# The last line holds ratio= (poolrun/xargs wall time for `echo {}`, the
# goal being <= 1.1) and the other ratios. Default run: about 2-3 minutes.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
reps=${1:-3}
n=5000
work=$(mktemp -d)
trap '"$work/poolrun" sem rm "$semname" >/dev/null 2>&1 || true; rm -rf "$work"' EXIT
semname="poolrun-bench-$$"

# GNU parallel (and sem, and GNU time) come from Debian's packages.
if ! command -v parallel >/dev/null || ! command -v sem >/dev/null || [ ! -x /usr/bin/time ]; then
  if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
    echo "installing GNU parallel and GNU time (apt-get)..." >&2
    (apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq parallel time) >/dev/null 2>&1 || true
  fi
fi
have_parallel=0
command -v parallel >/dev/null && command -v sem >/dev/null && have_parallel=1

(cd "$root" && go build -o "$work/poolrun" ./cmd/poolrun)
P="$work/poolrun"
seq "$n" > "$work/in"
seq 100000 > "$work/in100k"
seq 1000 > "$work/in1k"

ms() { # ms CMD...: wall milliseconds of CMD (stdin from $work/in, stdout discarded)
  local s e
  s=$(date +%s%N)
  "$@" < "$work/in" > /dev/null
  e=$(date +%s%N)
  echo $(( (e - s) / 1000000 ))
}
median() { printf '%s\n' "$@" | sort -n | awk '{a[NR]=$1} END{print a[int((NR+1)/2)]}'; }
div() { awk -v a="$1" -v b="$2" 'BEGIN{ if (b > 0) printf "%.2f", a/b; else print "n/a" }'; }

echo "== $n trivial jobs, 4 at a time (median of $reps; wall ms) on $(nproc) CPUs, $(date -u +%FT%TZ)"
declare -A med
for job in true echo; do
  pr=(); xr=(); gr=()
  for ((i = 0; i < reps; i++)); do
    if [ "$job" = true ]; then
      pr+=("$(ms "$P" -j 4 true)")
      xr+=("$(ms xargs -P4 -n1 true)")
    else
      pr+=("$(ms "$P" -j 4 echo {})")
      xr+=("$(ms xargs -P4 -n1 echo)")
    fi
  done
  if [ "$have_parallel" = 1 ]; then
    if [ "$job" = true ]; then
      gr+=("$(ms parallel --will-cite -j 4 true)")
    else
      gr+=("$(ms parallel --will-cite -j 4 echo {})")
    fi
  fi
  med[$job.poolrun]=$(median "${pr[@]}")
  med[$job.xargs]=$(median "${xr[@]}")
  med[$job.parallel]=$( [ "$have_parallel" = 1 ] && median "${gr[@]}" || echo 0)
  printf '%-8s poolrun %6s ms (%s)   xargs -P4 %6s ms (%s)   GNU parallel %6s ms   poolrun/xargs %s   parallel/poolrun %s\n' \
    "$job" "${med[$job.poolrun]}" "${pr[*]}" "${med[$job.xargs]}" "${xr[*]}" "${med[$job.parallel]}" \
    "$(div "${med[$job.poolrun]}" "${med[$job.xargs]}")" "$(div "${med[$job.parallel]}" "${med[$job.poolrun]}")"
done

echo "== per-slot overhead: one call = take a slot of a named cap of 4, run true, give it back"
calls=50
s=$(date +%s%N)
for ((i = 0; i < calls; i++)); do "$P" sem run "$semname" -j 4 -- true; done
e=$(date +%s%N)
semrun_us=$(( (e - s) / 1000 / calls ))
s=$(date +%s%N)
for ((i = 0; i < calls; i++)); do true; done
e=$(date +%s%N)
gsem_us=0
if [ "$have_parallel" = 1 ]; then
  gcalls=15
  s=$(date +%s%N)
  for ((i = 0; i < gcalls; i++)); do sem --will-cite --id "$semname" -j 4 --fg true; done
  e=$(date +%s%N)
  gsem_us=$(( (e - s) / 1000 / gcalls ))
fi
printf 'poolrun sem run: %d us per call (%d calls)   GNU sem --fg: %d us per call   sem/poolrun %s\n' \
  "$semrun_us" "$calls" "$gsem_us" "$(div "$gsem_us" "$semrun_us")"

echo "== peak memory (VmHWM) with queued inputs in a file, 4 at a time, stopped after 400 jobs (--halt now,done=400)"
peak() { # peak FILE: VmHWM in KiB of a poolrun run over FILE
  if [ -x /usr/bin/time ]; then
    /usr/bin/time -f '%M' "$P" -j 4 --halt now,done=400 -a "$1" true 2>&1 >/dev/null | grep -E '^[0-9]+$' | tail -1
  else
    "$P" -j 4 --halt now,done=400 -a "$1" true >/dev/null 2>&1 &
    local pid=$! hwm=0 v
    while v=$(awk '/VmHWM/{print $2}' "/proc/$pid/status" 2>/dev/null); do [ -n "$v" ] && hwm=$v; sleep 0.01; done
    wait "$pid" || true
    echo "$hwm"
  fi
}
k1=$(peak "$work/in1k")
k100=$(peak "$work/in100k")
dry=$(/usr/bin/time -f '%M' "$P" --dry-run -a "$work/in100k" echo 2>&1 >/dev/null | grep -E '^[0-9]+$' | tail -1 || echo 0)
printf 'peak RSS: 1 000 queued inputs %s KiB, 100 000 queued inputs %s KiB; all 100 000 through --dry-run %s KiB\n' "$k1" "$k100" "$dry"

echo "ratio=$(div "${med[echo.poolrun]}" "${med[echo.xargs]}") (poolrun/xargs -P4, 5000 x echo {}, grouped)" \
  "true=$(div "${med[true.poolrun]}" "${med[true.xargs]}")" \
  "parallel/poolrun=$(div "${med[echo.parallel]}" "${med[echo.poolrun]}")" \
  "sem_fg/sem_run=$(div "$gsem_us" "$semrun_us")" \
  "rss_100k/rss_1k=$(div "$k100" "$k1")"
