package main

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"strings"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"github.com/poolrun/poolrun/batch"
)

// semJob is the one command of a sem call.
type semJob struct {
	path    string
	argv    []string
	line    string // the command as GNU parallel shows it (--timeout's warning)
	timeout time.Duration
	ungroup bool
	// stop, if set, stops the command when a signal comes on it (TERM,
	// then TERM and KILL, as --timeout does); run then returns 128+N.
	stop chan os.Signal
}

// newSemJob builds the command as GNU parallel does: several words are
// one line of shell code (sem 'gzip f; echo done' and sem gzip f \; echo
// done are the same), run under sh -c; a line without shell syntax runs
// directly, the same result without a shell. A program that is not found
// runs under the shell too, which says so and exits 127, as GNU's does.
func newSemJob(o *semOptions) (*semJob, error) {
	words := commandWords(o.command, o.quote)
	j := &semJob{line: strings.Join(o.command, " "), timeout: o.timeout, ungroup: o.ungroup}
	shell := len(words) == 1 && !o.quote && (strings.ContainsAny(words[0], " \t;&|<>()$`\\\"'*?[]#~!\n=") || batch.IsShellBuiltin(words[0]))
	if !shell {
		if p, err := exec.LookPath(words[0]); err == nil {
			j.path, j.argv = p, words
			return j, nil
		}
		if o.quote {
			return nil, usagef("sem: command %q not found in PATH", words[0])
		}
	}
	j.path, j.argv = "/bin/sh", []string{"sh", "-c", strings.Join(words, " ")}
	return j, nil
}

// run runs the job in this process's foreground and returns its exit
// status as GNU sem --fg does: the command's, 128+N if signal N killed it,
// 255 if --timeout did. stdin is this process's; stdout and stderr are
// grouped (each written out whole once the command has ended, stdout
// first) unless -u.
func (j *semJob) run() int {
	files := []uintptr{0, 1, 2}
	var outs [2]*os.File
	if !j.ungroup {
		for i := range outs {
			f, err := groupFile()
			if err != nil {
				fmt.Fprintf(os.Stderr, "poolrun: sem: a file to hold the command's output: %v (running it ungrouped)\n", err)
				break
			}
			outs[i] = f
			defer f.Close()
		}
		if outs[1] != nil {
			files[1], files[2] = outs[0].Fd(), outs[1].Fd()
		}
	}
	// syscall.ForkExec and Wait4 rather than os/exec: os/exec checks
	// once per process that pidfds work by starting a process more, and
	// this process starts just one. sem keeps the default dispositions, as
	// GNU sem does once it holds its slot: Ctrl-C reaches the command and
	// sem alike (one process group), and a SIGTERM to sem ends sem, not
	// the command, which goes on holding the slot (it shares the undo
	// list). Without --timeout nothing runs beside the wait: no goroutine
	// or thread more, which on a loaded machine is much of what a short
	// command costs.
	if j.timeout > 0 || j.stop != nil {
		adoptOrphans()
	}
	pid, err := syscall.ForkExec(j.path, j.argv, &syscall.ProcAttr{Env: os.Environ(), Files: files, Sys: semProcAttr(false)})
	if err != nil {
		fmt.Fprintf(os.Stderr, "poolrun: sem: %s: %v\n", j.argv[0], err)
		return 127
	}
	var timedOut atomic.Bool
	var stopped atomic.Int32
	var ws syscall.WaitStatus
	if j.timeout > 0 || j.stop != nil {
		done := make(chan struct{})
		if j.timeout > 0 {
			t := time.AfterFunc(j.timeout, func() {
				timedOut.Store(true)
				termSeq(pid, done)
			})
			defer t.Stop()
		}
		if j.stop != nil {
			go func() {
				select {
				case sig := <-j.stop:
					if s, ok := sig.(syscall.Signal); ok {
						stopped.Store(int32(s))
					}
					termSeq(pid, done)
				case <-done:
				}
			}()
		}
		wait4(pid, &ws)
		close(done)
	} else {
		rawWait4(pid, &ws)
	}
	if outs[1] != nil {
		copyOut(os.Stdout, outs[0])
		copyOut(os.Stderr, outs[1])
	}
	if timedOut.Load() {
		killOrphans()
		fmt.Fprintf(os.Stderr, "poolrun: Warning: This job was killed because it timed out:\npoolrun: Warning: %s \n", j.line)
		return 255
	}
	if sig := stopped.Load(); sig != 0 {
		killOrphans()
		return 128 + int(sig)
	}
	if ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return ws.ExitStatus()
}

// rawWait4 is wait4 through the raw syscall entry: the runtime does not
// hand this thread's P to another thread while it blocks (there is no
// other goroutine to run), so waiting starts no thread. Only for a wait
// with nothing else to do meanwhile (no timer: --timeout uses wait4).
func rawWait4(pid int, ws *syscall.WaitStatus) {
	for {
		_, _, e := syscall.RawSyscall6(syscall.SYS_WAIT4, uintptr(pid), uintptr(unsafe.Pointer(ws)), 0, 0, 0, 0)
		if e != syscall.EINTR {
			return
		}
	}
}

// wait4 reaps pid, retrying on EINTR.
func wait4(pid int, ws *syscall.WaitStatus) {
	for {
		if _, err := syscall.Wait4(pid, ws, 0, nil); err != syscall.EINTR {
			return
		}
	}
}

// termSeq is GNU parallel's --termseq default for a job that timed out:
// TERM, 200 ms, TERM, 100 ms, TERM, 50 ms, KILL, to the command and its
// descendants; it stops once done is closed (the command was reaped).
func termSeq(pid int, done <-chan struct{}) {
	for _, step := range []struct {
		sig  syscall.Signal
		wait time.Duration
	}{{syscall.SIGTERM, 200 * time.Millisecond}, {syscall.SIGTERM, 100 * time.Millisecond}, {syscall.SIGTERM, 50 * time.Millisecond}, {syscall.SIGKILL, 0}} {
		select {
		case <-done:
			return // reaped: pid may name another process now
		default:
		}
		signalFamily(pid, step.sig)
		if step.wait == 0 {
			return
		}
		select {
		case <-done:
			return
		case <-time.After(step.wait):
		}
	}
}

// copyOut writes what the command wrote into f to w.
func copyOut(w io.Writer, f *os.File) {
	if n, err := f.Seek(0, io.SeekEnd); err != nil || n == 0 {
		return
	}
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return
	}
	io.Copy(w, f)
}
