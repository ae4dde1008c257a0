#!/usr/bin/env bash
# bench/semlock.sh (proposed by H1): the semlock pair benchmarks beside the raw
# SysV semop pair, interleaved rounds in one binary; prints medians, and a last
# line with ratio= (library Semaphore pair / raw pair, median of per-round ratios).
set -euo pipefail
cd "$(dirname "$0")/../semlock"
rounds=${ROUNDS:-7}
bin=$(mktemp -d)/semlock.test
go test -c -o "$bin" .
for i in $(seq "$rounds"); do
  "$bin" -test.run '^$' -test.bench 'Pair|PingPong|CancelLatency' -test.count 1
done | awk '
  /^Benchmark/ { name=$1; sub(/-[0-9]+$/, "", name)
    for (i = 3; i < NF; i += 2) v[name " " $(i+1), ++n[name " " $(i+1)]] = $i }
  function median(k,   m, i, j, a, t) { m = n[k]; for (i = 1; i <= m; i++) a[i] = v[k, i]
    for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++) if (a[j] < a[i]) { t = a[i]; a[i] = a[j]; a[j] = t }
    return m % 2 ? a[(m + 1) / 2] : (a[m / 2] + a[m / 2 + 1]) / 2 }
  END {
    for (k in n) printf "%-45s median %.1f\n", k, median(k)
    m = n["BenchmarkSemaphorePair ns/op"]
    for (i = 1; i <= m; i++) r[i] = v["BenchmarkSemaphorePair ns/op", i] / v["BenchmarkRawSemopPair ns/op", i]
    for (i = 1; i <= m; i++) for (j = i + 1; j <= m; j++) if (r[j] < r[i]) { t = r[i]; r[i] = r[j]; r[j] = t }
    printf "semlock Semaphore pair vs raw semop pair: ratio=%.3f\n", m % 2 ? r[(m + 1) / 2] : (r[m / 2] + r[m / 2 + 1]) / 2
  }'
