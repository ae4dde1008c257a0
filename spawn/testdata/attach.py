#!/usr/bin/env python3
"""Attach to a semaphore a poolrun parent shared in POOLRUN_SEMLOCKS and
take one unit, with nothing but ctypes (Linux). Usage: attach.py NAME

Checks the set like semlock.Attach (layout marker, token, creator, kind,
max), then acquires without blocking and prints "value=V acquired=True".
"""
import ctypes, os, sys

IPC_NOWAIT, SEM_UNDO, GETPID, GETVAL, GETALL = 0o4000, 0x1000, 11, 12, 13
NSEMS, MAGIC = 12, 0x5202  # semlock/layout.go: layoutMagic
VALUE, ROOM, TOK, CTOK, TOK2, MARK, CONFIG, MAX = 0, 1, 4, 5, 6, 7, 8, 9


class Sembuf(ctypes.Structure):
    _fields_ = [("sem_num", ctypes.c_ushort), ("sem_op", ctypes.c_short), ("sem_flg", ctypes.c_short)]


def parse(value):
    """POOLRUN_SEMLOCKS v1 -> {name: dict}. Strict enough for a sketch."""
    version, _, rest = value.partition(";")
    if version != "v1":
        raise ValueError("POOLRUN_SEMLOCKS: unknown version %r" % version)
    out = {}
    for entry in filter(None, rest.split(";")):
        name, _, fields = entry.partition("=")
        f = fields.split(",")
        if name in out or len(f) not in (7, 8):
            raise ValueError("POOLRUN_SEMLOCKS: handle %r: malformed" % name)
        out[name] = dict(key=int(f[0]), id=int(f[1]), kind=f[2], max=int(f[3]), undo=f[4] == "u",
                         creator=int(f[5]), token=int(f[6]), set_name=f[7] if len(f) == 8 else "")
    return out


def main():
    libc = ctypes.CDLL(None, use_errno=True)
    h = parse(os.environ.get("POOLRUN_SEMLOCKS", "v1"))[sys.argv[1]]
    vals = (ctypes.c_ushort * NSEMS)()
    if libc.semctl(h["id"], 0, GETALL, vals) < 0:
        raise OSError(ctypes.get_errno(), "semctl GETALL: set %d is gone" % h["id"])
    token = vals[TOK] << 15 | vals[TOK2]
    kind = {1: "s", 2: "m"}.get(vals[CONFIG] & 0xF)
    if vals[MARK] != MAGIC or vals[TOK] + vals[CTOK] != 32767 or token != h["token"]:
        raise SystemExit("stale handle: set %d is not the one shared" % h["id"])
    if libc.semctl(h["id"], MARK, GETPID) != h["creator"] or kind != h["kind"] or vals[MAX] != h["max"]:
        raise SystemExit("handle does not match set %d" % h["id"])
    if kind != "s":
        raise SystemExit("this sketch takes semaphores only")
    undo = SEM_UNDO if h["undo"] else 0
    tok = h["token"] >> 15
    # The token check (the first three ops fail with EAGAIN, touching
    # nothing, unless semaphore 4 is exactly tok: this is still the
    # handle's set), then the acquire: value -1 and room +1, all in one
    # atomic semop.
    ops = (Sembuf * 5)((TOK, -tok, IPC_NOWAIT), (TOK, 0, IPC_NOWAIT), (TOK, tok, 0),
                       (VALUE, -1, undo | IPC_NOWAIT), (ROOM, 1, undo))
    ok = libc.semop(h["id"], ops, 5) == 0
    print("value=%d acquired=%s" % (vals[VALUE], ok))


main()
