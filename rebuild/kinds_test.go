package rebuild

import (
	"testing"

	"github.com/poolrun/poolrun/internal/leakcheck"
	"github.com/poolrun/poolrun/semlock"
)

// TestSyncKindsRoundTrip: real Event, Barrier and Condition sets travel
// through the wire format unchanged and reattach, verified.
func TestSyncKindsRoundTrip(t *testing.T) {
	leakcheck.Check(t)
	m, err := semlock.New(semlock.Mutex, 1, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer m.Remove()
	e, err := semlock.NewEvent()
	if err != nil {
		t.Fatal(err)
	}
	defer e.Remove()
	b, err := semlock.NewBarrier(3, nil)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Remove()
	c, err := semlock.NewCondition(m)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Remove()
	want := map[string]semlock.Handle{"ev": e.Handle(), "bar": b.Handle(), "cond": c.Handle()}
	enc, err := Encode(want)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Decode(enc)
	if err != nil {
		t.Fatalf("Decode(%q): %v", enc, err)
	}
	for name, h := range want {
		if got[name] != h {
			t.Errorf("%s: %q decodes to %+v, want %+v", name, enc, got[name], h)
		}
	}
	if _, err := semlock.AttachEvent(got["ev"]); err != nil {
		t.Errorf("AttachEvent: %v", err)
	}
	if _, err := semlock.AttachBarrier(got["bar"], nil); err != nil {
		t.Errorf("AttachBarrier: %v", err)
	}
	if _, err := semlock.AttachCondition(got["cond"], m); err != nil {
		t.Errorf("AttachCondition: %v", err)
	}
}
