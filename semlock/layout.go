package semlock

import "time"

// The layout of every set this package creates. Each SemLock is one set
// of nsems semaphores, so that every state change is a single atomic semop
// over several of them (docs/design.md, rule 1).
const (
	semValue  = 0  // units available
	semRoom   = 1  // maxvalue - value: a release past the max fails atomically
	semFree   = 2  // mutex: 1 when no holder has marked it; 0 from acquire to release, kept by a dead holder (no undo)
	semAbort  = 3  // raised briefly to wake a cancelled waiter
	semTok    = 4  // generation token, 15 bits, never touched after init
	semCTok   = 5  // 32767 - token: with semMagic, marks our layout
	semTok2   = 6  // 15 more token bits, checked by Attach
	semMagic  = 7  // layoutMagic; GETPID names the creating process
	semConfig = 8  // kind | undo<<4
	semMax    = 9  // maxvalue
	semName1  = 10 // name fingerprint, high 15 bits (0 for a private set)
	semName2  = 11 // name fingerprint, low 15 bits
	nsems     = 12
)

// layoutMagic identifies a poolrun set and its layout version ("PR" + 2).
// It is written last when a set is created, so a set whose magic is in
// place is fully initialised.
const layoutMagic = 0x5202

const (
	flagUndo   = 0x1000 // SEM_UNDO on Linux and darwin
	flagNowait = 0x800  // IPC_NOWAIT on Linux and darwin
)

// maxOps bounds every op array built here, so they live on the stack.
// The longest is a cancellable wait: token check (3), abort (1), unit (2).
// darwin accepts at most 5 ops a semop (MAX_SOPS) and has no abort op.
const maxOps = 6

// tokOps is how many ops tokenCheck writes; unitOps how many take or give
// back a unit (acquireOps, recoverOps, Release).
const (
	tokOps  = 3
	unitOps = 2
)

// sembuf is struct sembuf: the same layout on Linux and darwin.
type sembuf struct {
	num uint16
	op  int16
	flg int16
}

// setStat is what this package reads from IPC_STAT.
type setStat struct {
	key          int32
	uid, cuid    int
	mode         uint32
	nsems        int
	otime, ctime time.Time
}

// tokenCheck writes the three ops that fail with EAGAIN, touching nothing,
// unless the set's token semaphore is exactly tok: take tok (fails if the
// value is lower), test for zero (fails if it was higher), give tok back.
// The kernel applies the ops of one semop in order to a scratch state
// (Linux takes its sequential path when a semaphore appears twice; BSD and
// darwin always work so), so the zero test sees the value less tok. Every
// op on an attached set starts with them, so a handle whose semid was
// reused by a newer set can never change that set.
func tokenCheck(ops []sembuf, tok int16) {
	ops[0] = sembuf{semTok, -tok, flagNowait}
	ops[1] = sembuf{semTok, 0, flagNowait}
	ops[2] = sembuf{semTok, tok, 0}
}

// Every blocking op array (block.go) fits maxOps: the token check, the
// abort op and at most two ops. This fails to compile if one does not.
const _ = uint(maxOps - (tokOps + 1 + max(eventWaitOps, barrierWaitOps, condTakeOps)))
