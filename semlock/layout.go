package semlock

import "time"

// The layout of every set this package creates. Each SemLock is one set
// of nsems semaphores, so that every state change is a single atomic semop
// over several of them (DESIGN.md, rule 1).
const (
	semValue  = 0  // units available
	semRoom   = 1  // maxvalue - value: a release past the max fails atomically
	semHeld   = 2  // mutex: 1 while held; survives the holder's death (no undo)
	semAbort  = 3  // raised briefly to wake a cancelled waiter
	semTok    = 4  // generation token, 15 bits, never touched after init
	semCTok   = 5  // 32767 - token: with semTok makes the in-op check exact
	semTok2   = 6  // 15 more token bits, checked by Attach
	semMagic  = 7  // layoutMagic; GETPID names the creating process
	semConfig = 8  // kind | undo<<4
	semMax    = 9  // maxvalue
	semName1  = 10 // name fingerprint, high 15 bits (0 for a private set)
	semName2  = 11 // name fingerprint, low 15 bits
	nsems     = 12
)

// layoutMagic identifies a poolrun set and its layout version ("PR" + 1).
const layoutMagic = 0x5201

const (
	flagUndo   = 0x1000 // SEM_UNDO on Linux and darwin
	flagNowait = 0x800  // IPC_NOWAIT on Linux and darwin
)

// maxOps bounds every op array built here, so they live on the stack.
const maxOps = 8

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

// tokenCheck writes the four ops that fail with EAGAIN, touching nothing,
// unless the set's token is exactly tok: semTok >= tok and semCTok >=
// MaxValue-tok, and our sets keep semTok+semCTok == MaxValue. Every op on
// an attached set starts with them, so a handle whose semid was reused by
// a newer set can never change that set.
func tokenCheck(ops []sembuf, tok int16) {
	ctok := int16(MaxValue) - tok
	ops[0] = sembuf{semTok, -tok, flagNowait}
	ops[1] = sembuf{semTok, tok, 0}
	ops[2] = sembuf{semCTok, -ctok, flagNowait}
	ops[3] = sembuf{semCTok, ctok, 0}
}
