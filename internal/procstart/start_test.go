package procstart_test

import (
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/poolrun/poolrun/internal/procstart"
)

func TestStart(t *testing.T) {
	st, ok := procstart.Start(os.Getpid())
	if !ok || st.After(time.Now()) || time.Since(st) > 24*time.Hour*365 {
		t.Fatalf("Start(self) = %v, %v", st, ok)
	}
	for _, pid := range []int{0, -1} {
		if _, ok := procstart.Start(pid); ok {
			t.Errorf("Start(%d) ok", pid)
		}
	}
	// A child: up while it runs, gone once it has exited (as a zombie,
	// before it is reaped, too), and it started after this process.
	c := exec.Command("sleep", "1000")
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	cst, ok := procstart.Start(c.Process.Pid)
	if !ok || cst.Before(st) {
		c.Process.Kill()
		c.Wait()
		t.Fatalf("Start(child) = %v, %v; this process started %v", cst, ok, st)
	}
	c.Process.Kill()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(time.Millisecond) {
		if _, ok := procstart.Start(c.Process.Pid); !ok {
			break // a zombie now: not reaped yet
		}
		if time.Now().After(deadline) {
			t.Fatal("a killed child still counts as started after 30 s")
		}
	}
	c.Wait()
	if _, ok := procstart.Start(c.Process.Pid); ok {
		t.Error("a reaped child still counts as started")
	}
}
