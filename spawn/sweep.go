package spawn

import (
	"errors"
	"fmt"

	"github.com/poolrun/poolrun/semlock"
)

// Sweep removes this user's orphaned private sets: those whose creator
// is gone (the creator's pid runs no process, or one started after the
// set was created: pids are reused), typically left by a process whose
// tracker was killed too. It never removes a named set, a set whose last
// user is still alive, or a set whose id was reused between listing and
// removing (each is re-verified with semlock.Attach first). It returns
// what it removed. poolrun sem gc calls it.
func Sweep() ([]semlock.Info, error) {
	infos, err := semlock.List()
	if err != nil {
		return nil, fmt.Errorf("spawn: sweep: %w", err)
	}
	var removed []semlock.Info
	var errs []error
	for _, in := range infos {
		if in.Named || in.Key != 0 || in.CreatorUp {
			continue
		}
		if in.LastPID != 0 && in.LastPID != in.Creator && alive(in.LastPID) {
			continue // someone still uses it
		}
		s, err := semlock.Attach(in.Handle)
		if err != nil {
			continue // gone or reused meanwhile
		}
		if err := s.Remove(); err != nil {
			if !errors.Is(err, semlock.ErrRemoved) && !errors.Is(err, semlock.ErrStale) {
				errs = append(errs, fmt.Errorf("spawn: sweep: %w", err))
			}
			continue
		}
		removed = append(removed, in)
	}
	return removed, errors.Join(errs...)
}
