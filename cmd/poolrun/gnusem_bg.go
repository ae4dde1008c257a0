package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"

	"github.com/poolrun/poolrun/semlock"
)

// Background mode, GNU sem's default: sem holds a slot, starts a holder
// and returns at once; the holder runs the command and gives the slot
// back when it ends.
//
// The holder is this binary again (a Go process cannot fork without
// exec), started in a session of its own (setsid: it has no controlling
// terminal, so closing sem's terminal does not hang it up, and Ctrl-C in
// the shell does not reach it), with sem's stdin, stdout and stderr as
// GNU sem's background job has them. On Linux it shares sem's SysV undo
// list (CLONE_SYSVSEM): the slot sem took passes to it with no moment in
// which nobody holds it, and the kernel gives it back when the holder and
// the command, which shares the list too, have both exited, however they
// end. Elsewhere the holder takes the slot anew (Force) before sem exits.
// The holder reports on a pipe that it holds the slot; sem returns then.

// semHoldEnv names the set the holder holds: "ID.TOKEN.NAME".
const semHoldEnv = "POOLRUN_SEM_HOLD"

// semBackground starts the holder of c for o's command and returns sem's
// exit status: 0 once the holder holds the slot.
func semBackground(c *semlock.Tally, o *semOptions, args []string) int {
	exe, err := os.Executable()
	if err != nil {
		return semFail(fmt.Errorf("sem: cannot find this binary to start the background job: %w", err))
	}
	if _, err := os.Stat("/proc/self/exe"); err == nil {
		exe = "/proc/self/exe" // the very image that runs, even if its file was replaced
	}
	r, w, err := os.Pipe()
	if err != nil {
		return semFail(fmt.Errorf("sem: %w", err))
	}
	defer r.Close()
	h := c.Handle()
	cmd := &exec.Cmd{Path: exe, Args: append([]string{"sem", holderFlag, "3"}, args...),
		Env:   append(os.Environ(), semHoldEnv+"="+strconv.Itoa(h.ID)+"."+strconv.FormatUint(uint64(h.Token), 10)+"."+h.Name),
		Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr,
		ExtraFiles: []*os.File{w}, SysProcAttr: semProcAttr(true)}
	err = cmd.Start()
	w.Close()
	if err != nil {
		return semFail(fmt.Errorf("sem: starting the background job: %w", err))
	}
	// The holder is on its own from here: it is not waited for (init or a
	// subreaper reaps it), as GNU sem's background job is not.
	r.SetReadDeadline(time.Now().Add(30 * time.Second))
	line, _ := bufio.NewReader(r).ReadString('\n')
	cmd.Process.Release()
	if line != "ok\n" {
		msg := strings.TrimSpace(strings.TrimPrefix(line, "error "))
		if msg == "" {
			msg = "it exited before taking the slot"
		}
		return semFail(fmt.Errorf("sem: the background job: %s", msg))
	}
	return 0
}

// semHolderMain is the holder: it takes over the slot, reports, runs the
// command, prints its output, gives the slot back, and removes the set if
// it was the last user.
func semHolderMain(o *semOptions) int {
	report := os.NewFile(uintptr(o.holderFd), "report")
	if report == nil {
		return 255
	}
	fail := func(err error) int {
		fmt.Fprintf(report, "error %v\n", err)
		report.Close()
		return 255
	}
	hold := os.Getenv(semHoldEnv)
	os.Unsetenv(semHoldEnv) // not the command's
	c, err := attachHeld(hold)
	if err != nil {
		return fail(err)
	}
	if !semSharesUndo {
		if err := c.Force(context.Background()); err != nil {
			return fail(err)
		}
	}
	job, err := newSemJob(o)
	if err != nil {
		return fail(err)
	}
	fmt.Fprint(report, "ok\n")
	report.Close()
	status := job.run()
	semLeave(c)
	return status
}

// attachHeld attaches the set semHoldEnv names, verified.
func attachHeld(v string) (*semlock.Tally, error) {
	idS, rest, _ := strings.Cut(v, ".")
	tokS, name, _ := strings.Cut(rest, ".")
	id, err1 := strconv.Atoi(idS)
	tok, err2 := strconv.ParseUint(tokS, 10, 32)
	if err1 != nil || err2 != nil || name == "" {
		return nil, fmt.Errorf("%s=%q: not ID.TOKEN.NAME (it is poolrun's own variable)", semHoldEnv, v)
	}
	h, err := semlock.LookupName(name)
	if err != nil {
		return nil, err
	}
	if h.ID != id || h.Token != uint32(tok) {
		return nil, fmt.Errorf("the semaphore %s was removed and made again meanwhile", name)
	}
	return semlock.AttachTally(h)
}
