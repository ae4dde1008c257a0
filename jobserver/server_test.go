//go:build linux

package jobserver_test

import (
	"os"
	"os/exec"
	"testing"

	"github.com/poolrun/poolrun/internal/leakcheck"
	"github.com/poolrun/poolrun/jobserver"
	"github.com/poolrun/poolrun/slots"
)

// serveMake runs make -f mk (no -j: the jobserver decides) under a
// Server of style over a cap of size units, the test holding one unit as
// the job's own.
func serveMake(t *testing.T, style jobserver.Style, size int, mk string) (*jobserver.Server, slots.Cap, []byte, error) {
	t.Helper()
	c, err := slots.New(size)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	own, ok, err := c.TryAcquire()
	if !ok || err != nil {
		t.Fatal("the job's own unit:", ok, err)
	}
	t.Cleanup(func() { own.Release() })
	s, err := jobserver.Serve(c, style, nil)
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("make", "-s", "-f", mk)
	cmd.Env = s.Env(os.Environ(), 3, size)
	cmd.ExtraFiles = s.Files()
	out, err := cmd.CombinedOutput()
	return s, c, out, err
}

// make under a pipe jobserver of a cap of 3 runs 3 recipes at once, never
// more, and every unit is back in the cap once the Server is closed.
func TestServePipeMake(t *testing.T) {
	needMake(t)
	leakcheck.Check(t)
	r := newRecorder(t)
	mk := r.makefile(t, 8, 3, "0.3", "")
	s, c, out, err := serveMake(t, jobserver.Pipe, 3, mk)
	if err != nil {
		t.Fatalf("make: %v\n%s", err, out)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	ended, most := r.result(t)
	if ended != 8 || most != 3 {
		t.Errorf("%d recipes ended, %d at once: want 8 and 3\n%s", ended, most, out)
	}
	// Every unit but the test's own is back.
	var got []slots.Slot
	for {
		u, ok, _ := c.TryAcquire()
		if !ok {
			break
		}
		got = append(got, u)
	}
	for _, u := range got {
		u.Release()
	}
	if len(got) != 2 {
		t.Errorf("%d units free after Close, want 2", len(got))
	}
}
