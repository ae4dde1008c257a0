#!/usr/bin/env bash
# bench/etcd.sh [REPS] — run via `bench/run.sh etcd [REPS]`: what the etcd cap
# costs, side by side in one run on this machine.
#   1. Weight, for users who never use etcd: per-call time of
#      `poolrun --version`, of a one-job run (`poolrun -j1 true ::: 1`) and
#      of the GNU sem personality (`poolrun --semaphore --fg --id X -j 4 true`),
#      200 calls each in interleaved blocks of 20, REPS times (default 3),
#      median of the per-call means, for three builds of poolrun: this tree
#      (etcd caps through the poolrun-etcd helper), the same without any
#      etcd support (etcd.go replaced by a stub), and the same with the etcd
#      client linked in (what a one-binary design would cost). Goal: this
#      tree / no etcd <= 1.05.
#   2. go test -bench AcquireRelease of the etcd module: acquire+release of
#      a one-slot cap at 1, 4 and 16 contenders beside etcd's
#      concurrency.Mutex, on an embedded etcd. Goal: cap/mutex p50 <= 1.2 at
#      one contender.
# Last line: ratio= (weight: this tree / no etcd, --version) and the others.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
reps=${1:-3}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
export GOFLAGS="${GOFLAGS:-} -buildvcs=false" GOTOOLCHAIN=local

(cd "$root" && go build -o "$work/tree" ./cmd/poolrun)
# The same sources, twice, in copies: without etcd support, and with the
# etcd client linked in.
for v in noetcd linked; do
  mkdir -p "$work/$v"
  (cd "$root" && tar --exclude=./etcd --exclude=./.git -cf - .) | (cd "$work/$v" && tar -xf -)
done
cat > "$work/noetcd/cmd/poolrun/etcd.go" <<'GO'
package main

import (
	"github.com/poolrun/poolrun/internal/remotecap"
	"github.com/poolrun/poolrun/slots"
)

func isEtcd(string) bool                                        { return false }
func etcdURL(string) string                                     { return "" }
func openEtcdCap(*options, string) (slots.Cap, bool, error)     { return nil, false, nil }
func startEtcdHelper([]string, string) (*remotecap.Cap, error) { return nil, nil }
func etcdLs(string) int                                         { return 255 }
func redactURL(s string) string                                 { return s }

type capLoss struct{}

func (*capLoss) watch(slots.Cap, func()) {}
func (*capLoss) lost() bool              { return false }
GO
cat > "$work/noetcd/cmd/poolrun/gnusem_etcd.go" <<'GO'
package main

import (
	"context"
	"time"

	"github.com/poolrun/poolrun/internal/remotecap"
	"github.com/poolrun/poolrun/slots"
)

func semEtcdOpen(*semOptions, string, int) (*remotecap.Cap, error) { return nil, nil }
func semEtcdEnter(context.Context, *remotecap.Cap, string, time.Duration) (slots.Slot, int) {
	return nil, 255
}
func etcdMessage(err error) string                             { return err.Error() }
func semEtcdRun(*semJob, *remotecap.Cap, slots.Slot, func()) int { return 255 }
func semEtcdFg(*semOptions, string, int) int                   { return 255 }
func semEtcdWait(string) int                                   { return 255 }
GO
cat > "$work/linked/cmd/poolrun/etcdlinked.go" <<'GO'
package main

import _ "go.etcd.io/etcd/client/v3" // what linking the client costs at start
GO
(cd "$work/noetcd" && go build -o "$work/noetcd.bin" ./cmd/poolrun)
(cd "$work/linked" && go get go.etcd.io/etcd/client/v3@v3.7.3 >/dev/null 2>&1 && go build -o "$work/linked.bin" ./cmd/poolrun)
for b in tree noetcd.bin linked.bin; do
  echo "# binary $b: $(stat -c %s "$work/$b" | awk '{ printf "%.1f MB", $1 / 1e6 }')"
done

# percall BIN ARGS...: mean µs of 20 calls.
percall() {
  local t0 t1 i
  t0=$(date +%s%N)
  for i in $(seq 20); do "$@" >/dev/null 2>&1 </dev/null; done
  t1=$(date +%s%N)
  echo $(( (t1 - t0) / 20000 ))
}
median() { sort -n | awk '{ a[NR] = $1 } END { print a[int((NR + 1) / 2)] }'; }
declare -A res
for what in version run sem; do
  for b in tree noetcd linked; do : > "$work/$what.$b"; done
  for r in $(seq "$reps"); do
    for blk in $(seq 10); do
      for b in tree noetcd linked; do
        bin="$work/$b"; [ "$b" = tree ] || bin="$work/$b.bin"
        case $what in
        version) percall "$bin" --version >> "$work/$what.$b" ;;
        run) percall "$bin" -j1 true ::: 1 >> "$work/$what.$b" ;;
        sem) percall "$bin" --semaphore --fg --id "bench-etcd-$$" -j 4 true >> "$work/$what.$b" ;;
        esac
      done
    done
  done
  for b in tree noetcd linked; do res[$what.$b]=$(median < "$work/$what.$b"); done
  echo "# $what: per call µs: this tree ${res[$what.tree]}, no etcd ${res[$what.noetcd]}, etcd client linked ${res[$what.linked]}"
done

echo "# acquire+release on an embedded etcd (go test -bench AcquireRelease, 300 rounds each):"
(cd "$root/etcd" && go test -run '^$' -bench AcquireRelease -benchtime 300x ./etcdcap/) | grep '^Benchmark' | tee "$work/bench.txt" | sed 's/^/# /'
p50() { grep "$1/contenders=$2-" "$work/bench.txt" | sed -n 's/.* \([0-9.]*\) p50-ms.*/\1/p'; }
awk -v t="${res[version.tree]}" -v n="${res[version.noetcd]}" -v l="${res[version.linked]}" \
    -v rt="${res[run.tree]}" -v rn="${res[run.noetcd]}" -v rl="${res[run.linked]}" \
    -v st="${res[sem.tree]}" -v sn="${res[sem.noetcd]}" -v sl="${res[sem.linked]}" \
    -v c1="$(p50 cap 1)" -v m1="$(p50 mutex 1)" 'BEGIN {
  printf "ratio=%.3f (--version, this tree / no etcd) run=%.3f sem=%.3f linked-version=%.2f linked-run=%.2f linked-sem=%.2f acquire-p50-1=%.2f (cap / concurrency.Mutex)\n", t / n, rt / rn, st / sn, l / n, rl / rn, sl / sn, c1 / m1
}'
