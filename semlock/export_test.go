package semlock

// Hooks for the external tests (package semlock_test, which can use
// internal/leakcheck: an internal test cannot, leakcheck imports semlock).

// AllValues reads every semaphore of s's set, for tests that check that
// nothing changed.
func AllValues(s *SemLock) ([]uint16, error) {
	var v [nsems]uint16
	if err := semGetAll(s.h.ID, &v); err != nil {
		return nil, err
	}
	return v[:], nil
}

// WithTokenOff returns a SemLock of s's set whose in-op token is off by d,
// as a handle of a removed set whose id was reused would be; it claims to
// hold a mutex so that Release gets past the process's own check.
func WithTokenOff(s *SemLock, d int16) *SemLock {
	h := s.h
	h.Token = uint32(s.tok+d)<<15 | h.Token&0x7fff
	o := fromHandle(h)
	o.held.Store(1)
	return o
}

// OpenExistingAs opens the named set s as if name hashed to its key with
// fingerprint fp: a key collision.
func OpenExistingAs(s *SemLock, name string, fp uint32) (*SemLock, error) {
	return openExisting(s.h.ID, name, s.h.Key, fp, s.h.Kind)
}

// SetPollWaits makes waits poll as on darwin (true) or not, and returns
// the previous setting.
func SetPollWaits(on bool) bool { return pollWaits.Swap(on) }

// EventOn, BarrierOn and ConditionOn make an Event, Barrier or Condition
// of a SemLock (one from WithTokenOff, to test their token checks).
func EventOn(s *SemLock) *Event                     { return &Event{s: s} }
func BarrierOn(s *SemLock) *Barrier                 { return &Barrier{s: s} }
func ConditionOn(s *SemLock, m *SemLock) *Condition { return &Condition{s: s, m: m} }
