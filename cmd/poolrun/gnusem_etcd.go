package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/poolrun/poolrun/internal/etcdhelper"
	"github.com/poolrun/poolrun/internal/remotecap"
	"github.com/poolrun/poolrun/slots"
)

// GNU sem on an etcd cap (docs/etcd.md, "GNU sem"): sem --id
// etcd://HOST:PORT/NAME -j N holds one slot of the cluster-wide cap NAME
// (made with N slots by its first user) for its command, through the
// helper poolrun-etcd, as poolrun --sem does: this binary does not link
// the etcd client. In the foreground sem keeps the helper; in the
// background the holder starts it (sem waits until the holder has the
// slot), so that the holder's death, however it dies, ends the helper's
// input and the lease is revoked. A lost lease (the fence) stops the
// command: TERM, then TERM twice more and KILL, as --timeout does.

// semEtcdOpen starts the helper for the cap url with limit slots if new,
// and tells on stderr when the cap is in use with another size and -j
// was given.
func semEtcdOpen(o *semOptions, url string, limit int) (*remotecap.Cap, error) {
	// The stop time: GNU's term sequence (TERM, 200 ms, TERM, 100 ms,
	// TERM, 50 ms, KILL) ends the command within 400 ms; the helper fences
	// that much before etcd may expire the lease.
	rc, err := startEtcdHelper([]string{"cap", url, strconv.Itoa(limit), "400ms"}, url)
	if err != nil {
		return nil, fmt.Errorf("sem --id %s: %w", url, err)
	}
	if n := rc.Size(); o.jobs != "" && n != limit {
		fmt.Fprintf(os.Stderr, "poolrun: sem --id %s is in use with %d slots (made by an earlier call): -j %s does not resize it; at most %d commands run at once across all its users\n", url, n, o.jobs, n)
	}
	return rc, nil
}

// semEtcdEnter takes a slot of rc, with --st as for a SysV semaphore: st
// > 0 runs the command anyway after st, without a slot (slot nil, GNU's
// "stealing": an etcd cap cannot be forced); st < 0 gives up after -st.
// ctx ends the wait (the caller is gone). It returns the slot, or
// status >= 0: sem's exit status, said on stderr.
func semEtcdEnter(ctx context.Context, rc *remotecap.Cap, url string, st time.Duration) (slots.Slot, int) {
	parent := ctx
	if st != 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, max(st, -st))
		defer cancel()
	}
	s, err := rc.Acquire(ctx)
	switch {
	case err == nil:
		return s, -1
	case parent.Err() != nil:
		return nil, 255 // the caller is gone: nobody to tell
	case errors.Is(err, context.DeadlineExceeded) && st < 0:
		fmt.Fprintln(os.Stderr, "poolrun: Warning: Semaphore timed out. Exiting.")
		return nil, 1
	case errors.Is(err, context.DeadlineExceeded) && st > 0:
		fmt.Fprintln(os.Stderr, "poolrun: Warning: Semaphore timed out. Stealing the semaphore. (an etcd cap cannot be forced: the command runs without a slot)")
		return nil, -1
	}
	return nil, semFail(fmt.Errorf("sem --id %s: %s", url, etcdMessage(err)))
}

// etcdMessage is err without the packages' prefixes.
func etcdMessage(err error) string {
	m := strings.TrimPrefix(err.Error(), "remotecap: ")
	return strings.ReplaceAll(m, "etcdcap: the cap's lease is lost: ", "")
}

// semEtcdRun runs job on slot s of rc, fenced: the cap's loss stops the
// command, says so, and makes the status 255. SIGINT, SIGTERM and SIGHUP
// to this process stop the command too (its slot is this process's
// helper's, and goes with it): the status is then 128+N. The slot is
// given back and the helper let go when the command has ended.
func semEtcdRun(job *semJob, rc *remotecap.Cap, s slots.Slot, onEnd func()) int {
	if job.stop == nil {
		job.stop = make(chan os.Signal, 2)
		signal.Notify(job.stop, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	}
	var fenced atomic.Bool
	done := make(chan struct{})
	if s != nil {
		go func() {
			select {
			case <-rc.Lost():
				fenced.Store(true)
				fmt.Fprintf(os.Stderr, "poolrun: sem: %s: no command may run outside a held slot: stopping the command\n", etcdMessage(rc.Err()))
				select {
				case job.stop <- syscall.SIGTERM:
				default:
				}
			case <-done:
			}
		}()
	}
	status := job.run()
	close(done)
	signal.Stop(job.stop)
	if onEnd != nil {
		onEnd()
	}
	if s != nil {
		if err := s.Release(); err != nil {
			fmt.Fprintf(os.Stderr, "poolrun: sem: giving the slot back: %s\n", etcdMessage(err))
		}
	}
	if err := rc.Close(); err != nil && !fenced.Load() {
		fmt.Fprintf(os.Stderr, "poolrun: sem: %s\n", etcdMessage(err))
	}
	if fenced.Load() {
		return 255
	}
	return status
}

// semEtcdFg is sem --fg --id etcd://…: take a slot, run the command, give
// the slot back.
func semEtcdFg(o *semOptions, url string, limit int) int {
	job, err := newSemJob(o)
	if err != nil {
		return semFail(err)
	}
	rc, err := semEtcdOpen(o, url, limit)
	if err != nil {
		return semFail(err)
	}
	s, status := semEtcdEnter(context.Background(), rc, url, o.st)
	if status >= 0 {
		rc.Close()
		return status
	}
	return semEtcdRun(job, rc, s, nil)
}

// semEtcdWait is sem --wait --id etcd://…: wait until nobody holds a slot
// of the cap, through the helper (poolrun-etcd wait).
func semEtcdWait(url string) int {
	path, err := etcdhelper.Find()
	if err != nil {
		return semFail(fmt.Errorf("sem --wait --id %s: %w", url, err))
	}
	cmd := exec.Command(path, "wait", url)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			if ws, ok := ee.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
				return 128 + int(ws.Signal())
			}
			return ee.ExitCode()
		}
		return semFail(fmt.Errorf("sem --wait --id %s: %w", url, err))
	}
	return 0
}
