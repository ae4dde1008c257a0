// Package semlock provides counting semaphores and mutexes shared between
// processes, built on System V semaphore sets.
//
// It does what CPython's multiprocessing SemLock cannot: Value works on
// every platform (macOS included), a release past a bounded semaphore's
// max fails atomically instead of racing, a Mutex whose holder was killed
// is handed to the next acquirer with ErrOwnerDead, units held by a killed
// process come back (SEM_UNDO), and a blocked Acquire honours its context.
//
// Each SemLock is one kernel set, so each state change is one atomic
// semop, and every operation checks, inside that same semop, that the set
// is still the one its handle names: a handle whose set was removed and
// whose id was reused never touches the newer set. (The set's layout is
// an implementation detail: see layout.go.)
//
// On Linux a blocked Acquire sleeps in semtimedop and is woken on
// cancellation at once, without polling. darwin has no
// semtimedop: waits with a deadline or a cancellable context poll there
// (1 ms growing to 20 ms), a semop takes at most 5 ops, and a process has
// at most 10 undo entries (kern.sysv.semume).
//
// The shortest real use, a machine-wide cap of 4 shared by every process
// of this user that opens the same name:
//
//	slots, err := semlock.Open("build-jobs", semlock.Semaphore, 4, 4)
//	if err != nil {
//		return err
//	}
//	if err := slots.Acquire(ctx); err != nil {
//		return err
//	}
//	defer slots.Release()
//
// A private set (New) is shared with child processes through its Handle
// (see the rebuild and spawn packages).
//
// On the same sets the package builds CPython's other multiprocessing
// synchronisation types: Event (Set, Clear, IsSet, Wait), Barrier (Wait
// returns the arrival index; Abort, Reset, Broken; a party that times out
// or dies at it breaks it for the others instead of leaving them hanging)
// and Condition over a Mutex (Wait, Notify, NotifyAll, WaitFor). Each is
// one set of its own kind (EventKind, BarrierKind, ConditionKind), made by
// NewEvent, NewBarrier, NewCondition and attached in another process with
// AttachEvent, AttachBarrier, AttachCondition; their SemLock method gives
// the set to share through spawn and rebuild like any other.
//
// Tally (OpenTally, kind TallyKind) is GNU sem's semaphore: a named count
// of holders in which each caller brings its own limit (Enter waits until
// fewer than n hold it), held with undo, waited on for zero (WaitIdle),
// and removed by the last user out (RemoveIfIdle).
package semlock
