package batch

import "testing"

func TestHaltReached(t *testing.T) {
	h := Halt{When: HaltNow, On: HaltOnFail, Count: 2}
	if h.reached(5, 1, 0, 5) || !h.reached(5, 2, 0, 5) {
		t.Error("fail=2")
	}
	h = Halt{When: HaltSoon, On: HaltOnFail, Percent: 50}
	if h.reached(1, 1, 10, 4) || !h.reached(6, 5, 10, 10) {
		t.Error("fail=50% of 10")
	}
	// Before the total is known, percentages count the jobs started.
	if !h.reached(2, 2, 0, 4) || h.reached(2, 1, 0, 4) {
		t.Error("fail=50% of the 4 started")
	}
	h = Halt{When: HaltNow, On: HaltOnSuccess, Count: 1}
	if h.reached(3, 3, 0, 4) || !h.reached(4, 3, 0, 4) {
		t.Error("success=1")
	}
	h = Halt{When: HaltSoon, On: HaltOnDone, Count: 3}
	if h.reached(2, 0, 0, 4) || !h.reached(3, 3, 0, 4) {
		t.Error("done=3")
	}
	if h = (Halt{}); h.reached(100, 100, 100, 100) {
		t.Error("never")
	}
}
