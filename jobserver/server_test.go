//go:build linux

package jobserver_test

import (
	"bufio"
	"os"
	"os/exec"
	"strings"
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

// freeUnits is how many units of c can be had now (given back at once).
func freeUnits(c slots.Cap) int {
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
	return len(got)
}

// A client of a Server (the test binary, a Client) that takes the
// tokens it can and is SIGKILLed holding them: Close gives all of them
// back to the cap. Both styles; a fifo is gone after Close.
func TestServeKilledClient(t *testing.T) {
	for _, style := range []jobserver.Style{jobserver.Pipe, jobserver.Fifo} {
		t.Run(style.String(), func(t *testing.T) {
			leakcheck.Check(t)
			c, err := slots.New(3)
			if err != nil {
				t.Fatal(err)
			}
			defer c.Close()
			own, _, _ := c.TryAcquire()
			defer own.Release()
			s, err := jobserver.Serve(c, style, nil)
			if err != nil {
				t.Fatal(err)
			}
			cmd := exec.Command(os.Args[0])
			cmd.Env = append(s.Env(os.Environ(), 3, 3), "JOBSERVER_TEST_CLIENT=hold")
			cmd.ExtraFiles = s.Files()
			stdin, _ := cmd.StdinPipe()
			stdout, _ := cmd.StdoutPipe()
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			defer stdin.Close()
			// The client takes what it can without waiting (its implicit
			// token and the one the Server offers), says so, and holds it.
			line, _ := bufio.NewReader(stdout).ReadString('\n')
			if !strings.HasPrefix(line, "slots: ") {
				t.Fatalf("client: %q", line)
			}
			if got := s.Units(); got < 1 {
				t.Errorf("the Server holds %d units with a client holding tokens", got)
			}
			cmd.Process.Kill()
			cmd.Wait()
			word := s.Word(3)
			if err := s.Close(); err != nil {
				t.Fatal(err)
			}
			if n := freeUnits(c); n != 2 {
				t.Errorf("%d units free after the killed client's Server closed, want 2", n)
			}
			if p, ok := strings.CutPrefix(word, "--jobserver-auth=fifo:"); ok {
				if _, err := os.Stat(p); !os.IsNotExist(err) {
					t.Errorf("fifo %s after Close: %v", p, err)
				}
			}
		})
	}
}

// While busy says the cap's units are wanted elsewhere, a Server offers
// none: its client has only its implicit token.
func TestServeBusy(t *testing.T) {
	leakcheck.Check(t)
	c, err := slots.New(3)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	s, err := jobserver.Serve(c, jobserver.Pipe, func() bool { return true })
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(s.Env(os.Environ(), 3, 3), "JOBSERVER_TEST_CLIENT=1")
	cmd.ExtraFiles = s.Files()
	out, err := cmd.Output()
	if err != nil || string(out) != "slots: 1\n" {
		t.Errorf("client of a busy Server: %v %q, want slots: 1", err, out)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if n := freeUnits(c); n != 3 {
		t.Errorf("%d units free, want 3", n)
	}
}
