"""Python's process pools on the pool benchmark's work: N identity tasks on a
small payload with W workers. Prints one line per variant:
    python <variant> tasks=N workers=W seconds=S tasks/s=R
"""
import multiprocessing as mp
import sys
import time
from concurrent.futures import ProcessPoolExecutor


def identity(x):
    return x


def run(name, fn, n, w):
    t0 = time.perf_counter()
    got = fn()
    dt = time.perf_counter() - t0
    if got != n:
        raise SystemExit(f"{name}: {got} results, want {n}")
    print(f"python {name} tasks={n} workers={w} seconds={dt:.3f} tasks/s={n/dt:.0f}", flush=True)


def main():
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 100000
    w = int(sys.argv[2]) if len(sys.argv) > 2 else 2
    which = sys.argv[3].split(",") if len(sys.argv) > 3 else ["imap_unordered", "map", "latency", "executor"]
    # distinct 64-byte payloads: one shared object would let pickle's memo
    # shrink map's chunks to nothing.
    items = [b"%064d" % i for i in range(n)]
    ctx = mp.get_context("fork")
    if "imap_unordered" in which:
        with ctx.Pool(w) as p:
            p.map(identity, range(w))  # workers up
            run("Pool.imap_unordered(chunksize=1)", lambda: sum(1 for _ in p.imap_unordered(identity, items, chunksize=1)), n, w)
    if "map" in which:
        with ctx.Pool(w) as p:
            p.map(identity, range(w))
            run("Pool.map(default chunks)", lambda: len(p.map(identity, items)), n, w)
    if "latency" in which:
        with ctx.Pool(w) as p:
            p.map(identity, range(w))
            ds = []
            for _ in range(2000):
                t = time.perf_counter()
                p.apply(identity, (items[0],))
                ds.append(time.perf_counter() - t)
            ds.sort()
            print(f"python Pool.apply latency round_trips={len(ds)} p50_us={ds[len(ds)//2]*1e6:.1f} p99_us={ds[len(ds)*99//100]*1e6:.1f}", flush=True)
    if "executor" in which:
        with ProcessPoolExecutor(w, mp_context=ctx) as ex:
            list(ex.map(identity, range(w)))
            run("ProcessPoolExecutor.submit", lambda: sum(1 for f in [ex.submit(identity, x) for x in items] if f.result() is not None), n, w)


if __name__ == "__main__":
    main()
