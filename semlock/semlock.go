package semlock

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"sync/atomic"
	"syscall"
	"time"
)

// SemLock is a System V semaphore set used as a counting semaphore or a
// mutex, shared between processes. Its methods are safe for concurrent use
// by goroutines; goroutines of one process contend with each other just as
// processes do. Create one with New or Open, or attach to one created
// elsewhere with Attach.
type SemLock struct {
	h    Handle
	unit int16 // flagUndo or 0: the flag of unit operations
	tok  int16 // low token half, checked inside every op

	held   atomic.Int32 // mutex: times this process acquired minus released
	closed atomic.Bool
}

// New creates a private set (IPC_PRIVATE): only processes given its Handle
// can attach. A Mutex must be New(Mutex, 1, 1). A Semaphore needs
// 0 <= value <= maxValue <= MaxValue and maxValue >= 1.
func New(kind Kind, value, maxValue int, opts ...Option) (*SemLock, error) {
	o, err := checkArgs("new", kind, value, maxValue, opts)
	if err != nil {
		return nil, err
	}
	id, err := semget(0, nsems, int(o.mode)|ipcCreat|ipcExcl)
	if err != nil {
		return nil, getErr("new", err)
	}
	s, err := initSet(id, Handle{Kind: kind, MaxValue: maxValue, Undo: !o.noUndo}, value, 0)
	if err != nil {
		semRemove(id)
		return nil, err
	}
	return s, nil
}

// Open creates the named set, or attaches to it if it exists: many
// processes opening one new name at once get one set, initialised once.
// value and maxValue are used only when the set is created; compare
// Handle().MaxValue to see what an existing set has. An existing set of
// another kind is an ErrMismatch error.
func Open(name string, kind Kind, value, maxValue int, opts ...Option) (*SemLock, error) {
	if err := ValidateName(name); err != nil {
		return nil, err
	}
	o, err := checkArgs("open", kind, value, maxValue, opts)
	if err != nil {
		return nil, err
	}
	return openNamed(name, Handle{Kind: kind, MaxValue: maxValue, Undo: !o.noUndo}, o, func(h Handle, fp uint32) (*SemLock, error) {
		return initSet(h.ID, h, value, fp)
	})
}

// openNamed is Open for a set of kind want.Kind: it creates the named set
// with create (given the handle, its id filled in, and the name's
// fingerprint), or attaches to the existing one.
func openNamed(name string, want Handle, o options, create func(h Handle, fp uint32) (*SemLock, error)) (*SemLock, error) {
	kind := want.Kind
	uid := os.Geteuid()
	key, fp := nameKey(uid, name)
	want.Name, want.Key = name, key
	for attempt := 0; ; attempt++ {
		id, err := semget(key, nsems, int(o.mode)|ipcCreat|ipcExcl)
		if err == nil {
			want.ID = id
			s, err := create(want, fp)
			if err != nil {
				semRemove(id)
				return nil, err
			}
			return s, nil
		}
		if err != syscall.EEXIST {
			return nil, getErr("open "+name, err)
		}
		id, err = semget(key, 0, 0)
		if err == syscall.ENOENT && attempt < 10 {
			continue // removed between our two semgets: create it again
		}
		if err != nil {
			return nil, sysErr("open "+name, -1, err)
		}
		s, err := openExisting(id, name, key, fp, kind)
		if errors.Is(err, ErrRemoved) && attempt < 10 {
			continue
		}
		return s, err
	}
}

const (
	ipcCreat = 0o1000
	ipcExcl  = 0o2000
)

func checkArgs(op string, kind Kind, value, maxValue int, opts []Option) (options, error) {
	o, err := applyOpts(op, opts)
	if err != nil {
		return o, err
	}
	switch kind {
	case Mutex:
		if value != 1 || maxValue != 1 {
			return o, rangeErr(op, "a mutex has value 1 and max 1, not %d and %d", value, maxValue)
		}
		if o.noUndo {
			return o, rangeErr(op, "WithoutUndo applies to semaphores only: a mutex always uses undo")
		}
	case Semaphore:
		if maxValue < 1 || maxValue > MaxValue {
			return o, rangeErr(op, "max %d outside 1..%d", maxValue, MaxValue)
		}
		if value < 0 || value > maxValue {
			return o, rangeErr(op, "value %d outside 0..%d (its max)", value, maxValue)
		}
	case EventKind, BarrierKind, ConditionKind:
		return o, rangeErr(op, "New and Open make semaphores and mutexes: make a %v with New%s", kind, kindFunc(kind))
	case TallyKind:
		return o, rangeErr(op, "New and Open make semaphores and mutexes: open a tally with OpenTally")
	default:
		return o, rangeErr(op, "unknown kind %d (want Semaphore or Mutex)", kind)
	}
	return o, nil
}

// initSet writes the initial values of a new set with semop (never
// SETVAL, which wipes every process's undo records). Openers of a named set
// wait for the layout magic, which goes in last.
func initSet(id int, h Handle, value int, fp uint32) (*SemLock, error) {
	free := 0
	if h.Kind == Mutex {
		free = 1
	}
	var vals [nsems]int
	vals[semValue] = value
	vals[semRoom] = h.MaxValue - value
	vals[semFree] = free
	vals[semName1] = int(fp >> 15)
	vals[semName2] = int(fp & 0x7fff)
	return initVals(id, h, vals)
}

// initVals is initSet with the kind's values given: semValue, semRoom,
// semFree, semAbort and the name slots; it fills in the token, magic,
// config and max.
func initVals(id int, h Handle, vals [nsems]int) (*SemLock, error) {
	// The token tells this set from a later one that reuses its id: it
	// must be unpredictable across creations, not secret, so the
	// runtime's generator (math/rand/v2, seeded from the OS) serves, and
	// the binary does without crypto/rand's start-up cost.
	r := rand.Uint32()
	tok := 1 + int(uint16(r))%(MaxValue-1) // 1..32766
	tok2 := int(r>>16) & 0x7fff
	h.ID = id
	h.Creator = os.Getpid()
	h.Token = uint32(tok)<<15 | uint32(tok2)
	vals[semTok] = tok
	vals[semCTok] = MaxValue - tok
	vals[semTok2] = tok2
	vals[semMagic] = layoutMagic
	vals[semConfig] = config(h.Kind, h.Undo)
	vals[semMax] = h.MaxValue
	// One semop where the kernel allows it (Linux), else chunks of
	// maxInitOps (darwin: 5); the magic goes last, so a set whose magic
	// is in place is complete (openers wait for it).
	var ops [nsems]sembuf
	n := 0
	for i, v := range vals {
		if v != 0 && i != semMagic {
			ops[n] = sembuf{uint16(i), int16(v), 0}
			n++
		}
	}
	ops[n] = sembuf{semMagic, layoutMagic, 0}
	n++
	for done := 0; done < n; {
		end := min(n, done+maxInitOps)
		if err := semopNowait(id, ops[done:end]); err != nil {
			return nil, sysErr("new", id, err)
		}
		done = end
	}
	return fromHandle(h), nil
}

func config(k Kind, undo bool) int {
	c := int(k)
	if undo {
		c |= 1 << 4
	}
	return c
}

func fromHandle(h Handle) *SemLock {
	s := &SemLock{h: h, tok: int16(h.Token >> 15)}
	if h.Undo {
		s.unit = flagUndo
	}
	return s
}

// openExisting attaches to the named set id after waiting for its
// creator to initialise it: the creator writes the layout magic last.
func openExisting(id int, name string, key int32, fp uint32, kind Kind) (*SemLock, error) {
	op := "open " + name
	deadline := time.Now().Add(5 * time.Second)
	var info setInfo
	for pause := 50 * time.Microsecond; ; pause = min(2*pause, 20*time.Millisecond) {
		var err error
		if info, err = readSet(id); err != nil {
			return nil, sysErr(op, id, err)
		}
		if info.stat.nsems != nsems || info.vals[semMagic] != 0 {
			break // not ours, or initialised: ours() tells
		}
		if time.Now().After(deadline) {
			return nil, &Error{Op: op, ID: id, Kind: ErrStale,
				Msg: fmt.Sprintf("the set was never initialised (its creator died while creating it?): remove it with poolrun sem rm %d", id)}
		}
		time.Sleep(pause)
	}
	if err := info.ours(op, id); err != nil {
		return nil, err
	}
	if info.fingerprint() != fp {
		return nil, &Error{Op: op, ID: id, Kind: ErrMismatch,
			Msg: fmt.Sprintf("key %#x of name %q is taken by a set of another name (a hash collision): choose another name", uint32(key), name)}
	}
	if info.kind() != kind {
		return nil, &Error{Op: op, ID: id, Kind: ErrMismatch,
			Msg: fmt.Sprintf("%q exists as a %v, not a %v", name, info.kind(), kind)}
	}
	h := info.handle(id)
	h.Name = name
	return fromHandle(h), nil
}

// setInfo is a snapshot of a set: its kernel record and all its values.
type setInfo struct {
	stat    setStat
	vals    [nsems]uint16
	creator int
}

func readSet(id int) (setInfo, error) {
	var in setInfo
	var err error
	if in.stat, err = semStat(id); err != nil {
		return in, err
	}
	if in.stat.nsems != nsems {
		return in, nil // not ours; ours() says so
	}
	if err = semGetAll(id, &in.vals); err != nil {
		return in, err
	}
	in.creator, err = semctl(id, semMagic, cmdGETPID, nil)
	return in, err
}

// ours checks that the set has our layout and belongs to this user.
func (in *setInfo) ours(op string, id int) error {
	if in.stat.nsems != nsems || in.vals[semMagic] != layoutMagic ||
		int(in.vals[semTok])+int(in.vals[semCTok]) != MaxValue {
		return &Error{Op: op, ID: id, Kind: ErrStale, Msg: "not a poolrun set (another program's set, or another layout version)"}
	}
	if uid := os.Geteuid(); in.stat.uid != uid {
		return &Error{Op: op, ID: id, Kind: ErrMismatch, Msg: fmt.Sprintf("set belongs to uid %d, not to this user (uid %d)", in.stat.uid, uid)}
	}
	return nil
}

func (in *setInfo) kind() Kind    { return Kind(in.vals[semConfig] & 0xf) }
func (in *setInfo) undo() bool    { return in.vals[semConfig]&(1<<4) != 0 }
func (in *setInfo) token() uint32 { return uint32(in.vals[semTok])<<15 | uint32(in.vals[semTok2]) }
func (in *setInfo) fingerprint() uint32 {
	return uint32(in.vals[semName1])<<15 | uint32(in.vals[semName2])
}

func (in *setInfo) handle(id int) Handle {
	return Handle{
		Key: in.stat.key, ID: id, Kind: in.kind(), MaxValue: int(in.vals[semMax]),
		Undo: in.undo(), Creator: in.creator, Token: in.token(),
	}
}

// Attach attaches to the set h names, after checking that it is that
// very set (docs/design.md, rule 5): it exists, has our layout, belongs
// to this user, and has the handle's key, creator, token, kind, max and
// undo.
// What does not match is named in the error: ErrRemoved if the set is
// gone, ErrStale if the id now names another set, ErrMismatch if the set
// is the handle's but the handle's fields disagree with it.
func Attach(h Handle) (*SemLock, error) {
	const op = "attach"
	if err := checkID(op, h.ID); err != nil {
		return nil, err
	}
	if !h.Kind.valid() {
		return nil, rangeErr(op, "unknown kind %d", h.Kind)
	}
	info, err := readSet(h.ID)
	if err != nil {
		return nil, sysErr(op, h.ID, err)
	}
	if err := info.ours(op, h.ID); err != nil {
		return nil, err
	}
	got := info.handle(h.ID)
	stale := func(what string, want, have any) error {
		return &Error{Op: op, ID: h.ID, Kind: ErrStale,
			Msg: fmt.Sprintf("%s is %v, the handle says %v: the handle's set was removed and its id reused", what, have, want)}
	}
	mismatch := func(what string, want, have any) error {
		return &Error{Op: op, ID: h.ID, Kind: ErrMismatch, Msg: fmt.Sprintf("the handle says %s %v, the set has %v", what, want, have)}
	}
	switch {
	case got.Token != h.Token:
		return nil, stale("generation token", h.Token, got.Token)
	case got.Creator != h.Creator:
		return nil, stale("creator pid", h.Creator, got.Creator)
	case got.Key != h.Key:
		return nil, mismatch("key", fmt.Sprintf("%#x", uint32(h.Key)), fmt.Sprintf("%#x", uint32(got.Key)))
	case got.Kind != h.Kind:
		return nil, mismatch("kind", h.Kind, got.Kind)
	case got.MaxValue != h.MaxValue:
		return nil, mismatch("max", h.MaxValue, got.MaxValue)
	case got.Undo != h.Undo:
		return nil, mismatch("undo", h.Undo, got.Undo)
	}
	if h.Name != "" {
		key, fp := nameKey(os.Geteuid(), h.Name)
		if key != got.Key || fp != info.fingerprint() {
			return nil, mismatch("name", h.Name, "another name's key or fingerprint")
		}
	} else if got.Key != 0 {
		return nil, mismatch("a private set (no name)", "", "a named set's key")
	}
	return fromHandle(h), nil
}

// Handle returns what another process needs to Attach to this set.
func (s *SemLock) Handle() Handle { return s.h }

// Kind returns the set's kind.
func (s *SemLock) Kind() Kind { return s.h.Kind }

// ID returns the set's semid.
func (s *SemLock) ID() int { return s.h.ID }

// Close forgets the set in this process: later calls return ErrClosed.
// The set stays in the kernel (Remove deletes it). Units this process
// holds with undo stay held until it releases them or exits.
func (s *SemLock) Close() error {
	s.closed.Store(true)
	return nil
}

// Remove deletes the set from the kernel. Processes blocked in Acquire
// return ErrRemoved; later calls through any handle of it return
// ErrRemoved or ErrStale. The set's token is verified just before the
// removal, so a newer set that reuses the id is not removed.
func (s *SemLock) Remove() error {
	if s.closed.Load() {
		return s.closedErr("remove")
	}
	if _, err := s.values("remove"); err != nil {
		return err
	}
	if err := semRemove(s.h.ID); err != nil {
		return sysErr("remove", s.h.ID, err)
	}
	s.closed.Store(true)
	return nil
}

// usable says why op cannot run on s: it is closed, or its set is an
// Event, Barrier or Condition, which have their own types.
func (s *SemLock) usable(op string) error {
	if s.closed.Load() {
		return s.closedErr(op)
	}
	if k := s.h.Kind; k != Semaphore && k != Mutex {
		return &Error{Op: op, ID: s.h.ID, Kind: ErrMismatch,
			Msg: fmt.Sprintf("the set is a %v: use it through Attach%s(handle)", k, kindFunc(k))}
	}
	return nil
}

// kindFunc is the suffix of the constructor and attach functions of k.
func kindFunc(k Kind) string {
	switch k {
	case EventKind:
		return "Event"
	case BarrierKind:
		return "Barrier"
	case ConditionKind:
		return "Condition"
	case TallyKind:
		return "Tally"
	}
	return ""
}

func (s *SemLock) closedErr(op string) error {
	return &Error{Op: op, ID: s.h.ID, Kind: ErrClosed}
}

// nowait runs body after the token check as one semop that cannot block
// (each op of body carries IPC_NOWAIT or only raises a value). On EAGAIN it
// reads the set: the handle is stale or the set gone → that error; else
// syscall.EAGAIN itself, for the caller to read as "an IPC_NOWAIT op could
// not proceed". body has at most maxOps-tokOps ops.
func (s *SemLock) nowait(op string, body ...sembuf) error {
	var ops [maxOps]sembuf
	tokenCheck(ops[:], s.tok)
	n := tokOps + copy(ops[tokOps:], body)
	err := semopNowait(s.h.ID, ops[:n])
	if err == syscall.EAGAIN {
		if _, verr := s.values(op); verr != nil {
			return verr
		}
		return err
	}
	if err != nil {
		return opErr(op, s.h.ID, err)
	}
	return nil
}

// values reads every value of the set and checks that it is still ours.
func (s *SemLock) values(op string) (*[nsems]uint16, error) {
	var v [nsems]uint16
	if err := semGetAll(s.h.ID, &v); err != nil {
		return nil, sysErr(op, s.h.ID, err)
	}
	if v[semMagic] != layoutMagic || uint32(v[semTok])<<15|uint32(v[semTok2]) != s.h.Token {
		return nil, &Error{Op: op, ID: s.h.ID, Kind: ErrStale, Msg: "the handle's set was removed and its id reused by another set"}
	}
	return &v, nil
}

// Value returns the number of units available: for a Mutex 1 when free,
// 0 when held. It works on every platform (macOS included).
func (s *SemLock) Value() (int, error) {
	if s.closed.Load() {
		return 0, s.closedErr("value")
	}
	v, err := s.values("value")
	if err != nil {
		return 0, err
	}
	return int(v[semValue]), nil
}

// Waiters returns how many threads (in all processes) are blocked in
// Acquire on this set.
func (s *SemLock) Waiters() (int, error) {
	if s.closed.Load() {
		return 0, s.closedErr("waiters")
	}
	n, err := semctl(s.h.ID, semValue, cmdGETNCNT, nil)
	if err != nil {
		return 0, sysErr("waiters", s.h.ID, err)
	}
	if _, err := s.values("waiters"); err != nil {
		return 0, err
	}
	return n, nil
}

// TryAcquire takes a unit without blocking. It returns false if none is
// available (a Mutex held by anyone, this process included). For a Mutex
// whose holder died it returns true and ErrOwnerDead: the lock is held.
func (s *SemLock) TryAcquire() (bool, error) {
	if err := s.usable("try-acquire"); err != nil {
		return false, err
	}
	var ops [maxOps]sembuf
	tokenCheck(ops[:], s.tok)
	// A few rounds at most: between a failed op and the read of the values
	// another process may release, or recover a dead owner's mutex.
	for range 3 {
		n := tokOps + s.acquireOps(ops[tokOps:], flagNowait)
		err := semopNowait(s.h.ID, ops[:n])
		if err == nil {
			s.held.Add(1)
			return true, nil
		}
		if err != syscall.EAGAIN {
			return false, opErr("try-acquire", s.h.ID, err)
		}
		v, verr := s.values("try-acquire")
		if verr != nil {
			return false, verr
		}
		if v[semValue] == 0 {
			return false, nil
		}
		if s.ownerDied(v) {
			n := tokOps + s.recoverOps(ops[tokOps:], flagNowait)
			if err := semopNowait(s.h.ID, ops[:n]); err == nil {
				s.held.Add(1)
				return true, s.ownerDead("try-acquire")
			}
		}
	}
	return false, nil
}

// ownerDied reports whether v is the state a mutex holder leaves when it
// dies holding the lock: undo gave the unit back, the mark stayed.
func (s *SemLock) ownerDied(v *[nsems]uint16) bool {
	return s.h.Kind == Mutex && v[semValue] > 0 && v[semFree] == 0
}

// acquireOps writes the ops that take a unit after the token check;
// extra is or-ed into the value op's flags (IPC_NOWAIT for a try).
func (s *SemLock) acquireOps(ops []sembuf, extra int16) int {
	if s.h.Kind == Mutex {
		// The mark goes after the value op: the kernel stops at the first
		// op that cannot proceed, so a waiter sleeps on the value and,
		// once it can take it, fails with EAGAIN if the mark says the
		// last holder never released. The mark has no undo: it outlives
		// a holder that dies.
		ops[0] = sembuf{semValue, -1, flagUndo | extra}
		ops[1] = sembuf{semFree, -1, flagNowait}
		return 2
	}
	ops[0] = sembuf{semValue, -1, s.unit | extra}
	ops[1] = sembuf{semRoom, 1, s.unit}
	return 2
}

// recoverOps takes a mutex whose holder died: the value came back by undo
// but the mark stayed, and this op requires the mark (it fails with
// EAGAIN if someone else recovered and released meanwhile).
func (s *SemLock) recoverOps(ops []sembuf, extra int16) int {
	ops[0] = sembuf{semValue, -1, flagUndo | extra}
	ops[1] = sembuf{semFree, 0, flagNowait}
	return 2
}

func (s *SemLock) ownerDead(op string) error {
	return &Error{Op: op, ID: s.h.ID, Kind: ErrOwnerDead, Msg: "this process holds the lock now: repair what it guards, then Release"}
}

// Release gives a unit back. A Semaphore already at its max fails with
// ErrTooManyReleases and keeps its value; a Mutex this process does not
// hold fails with ErrNotOwner. Each is one atomic semop: processes
// releasing at once never push the value past the max.
func (s *SemLock) Release() error {
	if err := s.usable("release"); err != nil {
		return err
	}
	var ops [maxOps]sembuf
	tokenCheck(ops[:], s.tok)
	if s.h.Kind == Mutex {
		// Ownership is this process's: a unit taken with undo must be
		// given back by the process that took it.
		if s.held.Load() <= 0 {
			return &Error{Op: "release", ID: s.h.ID, Kind: ErrNotOwner, Msg: "this process does not hold it"}
		}
		// One semop: split in two, a blocked waiter could see the value
		// up while the mark is still set, and take it for a dead owner.
		ops[tokOps] = sembuf{semFree, 1, 0}
		ops[tokOps+1] = sembuf{semValue, 1, flagUndo}
	} else {
		ops[tokOps] = sembuf{semRoom, -1, flagNowait | s.unit}
		ops[tokOps+1] = sembuf{semValue, 1, s.unit}
	}
	err := semopNowait(s.h.ID, ops[:tokOps+2])
	if err == nil {
		if s.h.Kind == Mutex {
			s.held.Add(-1)
		}
		return nil
	}
	if err != syscall.EAGAIN {
		return opErr("release", s.h.ID, err)
	}
	if _, verr := s.values("release"); verr != nil {
		return verr
	}
	return &Error{Op: "release", ID: s.h.ID, Kind: ErrTooManyReleases, Msg: fmt.Sprintf("the value is at its max %d", s.h.MaxValue)}
}

// Acquire takes a unit, blocking until one is available or ctx is done.
// An expired deadline returns context.DeadlineExceeded at once; a deadline
// in the future returns it no earlier than the deadline; cancellation
// wakes the waiter promptly (on Linux without polling). For a Mutex whose
// previous holder died, Acquire returns ErrOwnerDead with the lock held.
func (s *SemLock) Acquire(ctx context.Context) error {
	if err := s.usable("acquire"); err != nil {
		return err
	}
	deadline, hasDeadline := ctx.Deadline()
	if err := ctx.Err(); err != nil {
		return err
	}
	if hasDeadline && !time.Now().Before(deadline) {
		return context.DeadlineExceeded
	}
	// Uncontended: one op that cannot block, through the raw syscall
	// entry, and no watcher for ctx. Anything else (nothing available, a
	// dead owner, a stale handle) is sorted out by wait.
	var ops [maxOps]sembuf
	tokenCheck(ops[:], s.tok)
	n := tokOps + s.acquireOps(ops[tokOps:], flagNowait)
	if semopNowait(s.h.ID, ops[:n]) == nil {
		s.held.Add(1)
		return nil
	}
	return s.wait(ctx, deadline, hasDeadline)
}
