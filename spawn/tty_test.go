package spawn_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/poolrun/poolrun/internal/leakcheck"
	"github.com/poolrun/poolrun/spawn"
	"golang.org/x/sys/unix"
)

// ttyChild changes the terminal's modes (tcsetattr: SIGTTOU in the
// background), reads a line from it (SIGTTIN in the background) and
// reports its process group.
const ttyChild = `stty -echo; stty echo; read x; echo "got=$x pgid=$(cut -d' ' -f5 /proc/$$/stat)"`

// ttyMain runs on a pseudo-terminal (under script): it starts ttyChild
// with Foreground set ("fg") or not ("bg") and reports how it ended, its
// pid, this process's group and whether this process's group has the
// terminal again.
func ttyMain(mode string) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	c := spawn.Command(ctx, "sh", "-c", ttyChild)
	c.Stdin, c.Stdout, c.Stderr = os.Stdin, os.Stdout, os.Stderr
	c.Foreground = mode == "fg"
	c.WaitDelay = time.Second
	err := c.Run()
	fg, _ := unix.IoctlGetInt(0, unix.TIOCGPGRP)
	fmt.Printf("child=%d err=%v self-pgid=%d fg-back=%v\n", c.Pgid(), err, syscall.Getpgrp(), fg == syscall.Getpgrp())
}

// runOnTTY runs ttyMain in mode on a pseudo-terminal under script(1),
// typing a line into it, and returns what the terminal showed.
func runOnTTY(t *testing.T, mode string) string {
	t.Helper()
	if _, err := exec.LookPath("script"); err != nil {
		t.Skip("no script(1) to make a pseudo-terminal")
	}
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, "script", "-qec", "'"+exe+"'", "/dev/null")
	cmd.Env = append(os.Environ(), ttyEnv+"="+mode)
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	var out syncBuffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	leakcheck.Track(cmd.Process.Pid)
	in.Write([]byte("hello\n"))
	go func() { // keep the terminal's input open until the helper is done
		for ctx.Err() == nil && !strings.Contains(out.String(), "fg-back=") {
			time.Sleep(10 * time.Millisecond)
		}
		in.Close()
	}()
	err = cmd.Wait()
	cancel()
	s := strings.ReplaceAll(out.String(), "\r", "")
	if err != nil {
		t.Fatalf("script: %v; terminal showed:\n%s", err, s)
	}
	return s
}

// syncBuffer is a strings.Builder safe for one writer and other readers.
type syncBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.b.String()
}

var (
	ttyReport = regexp.MustCompile(`child=(\d+) err=(.*) self-pgid=(\d+) fg-back=(\w+)`)
	ttyGot    = regexp.MustCompile(`got=(\w*) pgid=(\d+)`)
)

// TestForegroundTTY: on a terminal, a child that changes the terminal's
// modes and reads from it is stopped (SIGTTOU, SIGTTIN) and hangs, being
// in its own process group, which is not the foreground group (poolrun
// sem run with ffmpeg or read). With Foreground set it runs to the end,
// still in its own group, and the terminal goes back to the parent.
func TestForegroundTTY(t *testing.T) {
	leakcheck.Check(t)
	t.Parallel()
	out := runOnTTY(t, "fg")
	r := ttyReport.FindStringSubmatch(out)
	g := ttyGot.FindStringSubmatch(out)
	if r == nil || g == nil {
		t.Fatalf("Foreground: the child did not finish; terminal showed:\n%s", out)
	}
	if r[2] != "<nil>" || g[1] != "hello" {
		t.Errorf("Foreground: child error %s, read %q; want <nil> and hello; terminal showed:\n%s", r[2], g[1], out)
	}
	if g[2] != r[1] || g[2] == r[3] {
		t.Errorf("Foreground: child in group %s, want its own (%s), not the parent's (%s)", g[2], r[1], r[3])
	}
	if r[4] != "true" {
		t.Errorf("Foreground: the parent's group did not get the terminal back; terminal showed:\n%s", out)
	}

	// Without Foreground the child stops: the pseudo-terminal does show
	// the defect Foreground is for.
	out = runOnTTY(t, "bg")
	r = ttyReport.FindStringSubmatch(out)
	if r == nil || !strings.Contains(r[2], "deadline exceeded") || ttyGot.MatchString(out) {
		t.Errorf("without Foreground the child should have stopped (SIGTTOU) until killed; terminal showed:\n%s", out)
	}
}
