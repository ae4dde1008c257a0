package semlock

import (
	"errors"
	"fmt"
	"os"
	"time"
)

// Info describes one of this user's poolrun sets, as List reports it.
type Info struct {
	Handle                // Name is "" (a set stores a fingerprint of its name, not the name)
	Named     bool        // created by Open (its key is not IPC_PRIVATE)
	Value     int         // units available
	Waiters   int         // threads blocked in Acquire (in Wait for an Event, Barrier or Condition)
	Held      bool        // Mutex: held, by a live holder or one that died holding it
	LastPID   int         // the last process that acquired or released
	Created   time.Time   // when the set was created (sem_ctime)
	Mode      os.FileMode // the set's permission bits (see WithMode)
	CreatorUp bool        // the creator process is alive (and not a newer process with its pid)
}

// List returns the poolrun sets of this user, in id order. Sets of other
// programs or other users, and sets that vanish while being read, are
// skipped.
func List() ([]Info, error) {
	ids, err := listIDs()
	if err != nil {
		return nil, fmt.Errorf("semlock: list sets: %w", err)
	}
	var out []Info
	for _, id := range ids {
		in, err := readSet(id)
		if err != nil || in.ours("list", id) != nil {
			continue
		}
		ncnt, err := waitingOn(id, in.kind())
		if err != nil {
			continue
		}
		last, err := semctl(id, semValue, cmdGETPID, nil)
		if err != nil {
			continue
		}
		out = append(out, Info{
			Handle:    in.handle(id),
			Named:     in.stat.key != 0,
			Value:     int(in.vals[semValue]),
			Waiters:   ncnt,
			Held:      in.kind() == Mutex && in.vals[semFree] == 0,
			LastPID:   last,
			Created:   in.stat.ctime,
			Mode:      os.FileMode(in.stat.mode),
			CreatorUp: processAlive(in.creator, in.stat.ctime),
		})
	}
	return out, nil
}

// RemoveID removes set id if it is one of this user's poolrun sets (any
// other set is refused with ErrStale or ErrMismatch, untouched).
func RemoveID(id int) error {
	if err := checkID("remove", id); err != nil {
		return err
	}
	in, err := readSet(id)
	if err != nil {
		return sysErr("remove", id, err)
	}
	if err := in.ours("remove", id); err != nil {
		return err
	}
	if err := semRemove(id); err != nil {
		return sysErr("remove", id, err)
	}
	return nil
}

// LookupName returns the handle of the named set without creating it.
// It fails with an error matching ErrRemoved if there is no such set.
func LookupName(name string) (Handle, error) {
	if err := ValidateName(name); err != nil {
		return Handle{}, err
	}
	key, fp := nameKey(os.Geteuid(), name)
	id, err := semget(key, 0, 0)
	if err != nil {
		if errors.Is(err, errNoEnt) {
			return Handle{}, &Error{Op: "lookup " + name, ID: -1, Kind: ErrRemoved, Msg: "no set of that name"}
		}
		return Handle{}, sysErr("lookup "+name, -1, err)
	}
	in, err := readSet(id)
	if err != nil {
		return Handle{}, sysErr("lookup "+name, id, err)
	}
	if err := in.ours("lookup "+name, id); err != nil {
		return Handle{}, err
	}
	if in.fingerprint() != fp {
		return Handle{}, &Error{Op: "lookup " + name, ID: id, Kind: ErrMismatch, Msg: "the name's key is taken by a set of another name"}
	}
	h := in.handle(id)
	h.Name = name
	return h, nil
}

// waitingOn counts the threads blocked on set id of kind k, on the
// semaphore its waits block on.
func waitingOn(id int, k Kind) (int, error) {
	switch k {
	case EventKind:
		return semctl(id, semRoom, cmdGETZCNT, nil)
	case BarrierKind:
		a, err := semctl(id, semValue, cmdGETZCNT, nil)
		if err != nil {
			return 0, err
		}
		b, err := semctl(id, semRoom, cmdGETZCNT, nil)
		return a + b, err
	case ConditionKind:
		return semctl(id, semRoom, cmdGETNCNT, nil)
	}
	return semctl(id, semValue, cmdGETNCNT, nil)
}
