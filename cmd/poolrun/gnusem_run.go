package main

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/poolrun/poolrun/batch"
)

// semJob is the one command of a sem call.
type semJob struct {
	path    string
	argv    []string
	line    string // the command as GNU parallel shows it (--timeout's warning)
	timeout time.Duration
	ungroup bool
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
// first) unless -u. SIGINT, SIGTERM and SIGHUP sent to sem are passed on
// to the command, whose exit sem then waits for.
func (j *semJob) run() int {
	cmd := &exec.Cmd{Path: j.path, Args: j.argv, Stdin: os.Stdin, Stdout: os.Stdout, Stderr: os.Stderr,
		SysProcAttr: semProcAttr(false)}
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
			cmd.Stdout, cmd.Stderr = outs[0], outs[1]
		}
	}
	sigs := make(chan os.Signal, 1)
	notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	defer signal.Stop(sigs)
	if err := cmd.Start(); err != nil {
		fmt.Fprintf(os.Stderr, "poolrun: sem: %s: %v\n", j.argv[0], err)
		return 127
	}
	done := make(chan struct{})
	var timedOut bool
	var timer <-chan time.Time
	if j.timeout > 0 {
		t := time.NewTimer(j.timeout)
		defer t.Stop()
		timer = t.C
	}
	go func() { cmd.Wait(); close(done) }()
wait:
	for {
		select {
		case <-done:
			break wait
		case sg := <-sigs:
			cmd.Process.Signal(sg)
		case <-timer:
			timedOut = true
			go termSeq(cmd.Process, done)
		}
	}
	if cmd.Stdout != os.Stdout {
		copyOut(os.Stdout, outs[0])
		copyOut(os.Stderr, outs[1])
	}
	if timedOut {
		fmt.Fprintf(os.Stderr, "poolrun: Warning: This job was killed because it timed out:\npoolrun: Warning: %s \n", j.line)
		return 255
	}
	if ws, ok := cmd.ProcessState.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
		return 128 + int(ws.Signal())
	}
	return cmd.ProcessState.ExitCode()
}

// termSeq is GNU parallel's --termseq default for a job that timed out:
// TERM, 200 ms, TERM, 100 ms, TERM, 50 ms, KILL; it stops once done is
// closed (the command was reaped).
func termSeq(p *os.Process, done <-chan struct{}) {
	for _, step := range []struct {
		sig  syscall.Signal
		wait time.Duration
	}{{syscall.SIGTERM, 200 * time.Millisecond}, {syscall.SIGTERM, 100 * time.Millisecond}, {syscall.SIGTERM, 50 * time.Millisecond}, {syscall.SIGKILL, 0}} {
		p.Signal(step.sig)
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
	if _, err := f.Seek(0, io.SeekStart); err != nil {
		return
	}
	io.Copy(w, f)
}
