package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/poolrun/poolrun/internal/etcdhelper"
	"github.com/poolrun/poolrun/internal/remotecap"
	"github.com/poolrun/poolrun/slots"
)

// Caps on etcd (--sem etcd://HOST:PORT/NAME) are served by the helper
// poolrun-etcd, of the module github.com/poolrun/poolrun/etcd
// (internal/etcdhelper): this binary does not link the etcd client (and
// grpc), whose start-up alone would cost every run that never uses etcd
// more than the 5% allowed.
const (
	// envEtcdCap is set in the jobs of an etcd cap (etcdcap.EnvCap): a
	// poolrun started in one shares the cap.
	envEtcdCap = "POOLRUN_ETCD_CAP"
)

// isEtcd reports whether a --sem or --id value names an etcd cap.
func isEtcd(s string) bool { return etcdhelper.IsURL(s) }

// openEtcdCap opens the cap of --sem etcd://… (url), or, with url empty,
// the etcd cap of the job this poolrun runs in, through the helper. ok is
// false if neither applies.
func openEtcdCap(o *options, url string) (c slots.Cap, ok bool, err error) {
	var args []string
	what := "--sem " + redactURL(url)
	switch {
	case url != "":
		// The grace: the helper declares the lease lost early enough for
		// TERM, the grace and KILL to end the jobs before etcd can give
		// their slots to others.
		args = []string{"cap", url, strconv.Itoa(o.jobs), o.grace.String()}
	case o.sem == "" && os.Getenv(envEtcdCap) != "" && os.Getenv(slots.HeldEnv) == "etcd":
		// The nearest cap wins: a SysV job inside an etcd job marks
		// POOLRUN_CAP_HELD with its own set.
		args = []string{"cap-env"}
		what = "the etcd cap of the job this poolrun runs in (" + envEtcdCap + ")"
	default:
		return nil, false, nil
	}
	name := url
	if name == "" {
		name = os.Getenv(envEtcdCap)
	}
	rc, err := startEtcdHelper(args, name)
	if err != nil {
		return nil, true, fmt.Errorf("%s: %w", what, err)
	}
	if n := rc.Size(); url != "" && o.jobsSet && n != o.jobs {
		fmt.Fprintf(os.Stderr, "poolrun: --sem %s is in use with %d slots (made by an earlier run): -j %s does not resize it; at most %d jobs run at once across all its users\n", redactURL(url), n, o.jobsSpec, n)
	}
	return fencedCap{rc}, true, nil
}

// startEtcdHelper starts poolrun-etcd with args, serving the cap of url
// (for messages), and waits until it is ready. Its error says what is
// wrong once, without the URL (the caller names it).
func startEtcdHelper(args []string, url string) (*remotecap.Cap, error) {
	rc, err := etcdhelper.Start(args, url)
	if err != nil {
		// The helper's message names the URL too: once is enough.
		m := strings.TrimPrefix(err.Error(), "etcdcap: ")
		m = strings.TrimPrefix(strings.TrimPrefix(m, strconv.Quote(redactURL(url))+": "), redactURL(url)+": ")
		m = strings.TrimPrefix(strings.TrimPrefix(m, strconv.Quote(url)+": "), url+": ")
		return nil, errors.New(m)
	}
	return rc, nil
}

// fencedCap is the helper's cap as the engine sees it: once it is lost, a
// wait for a slot ends as the run's cancellation (capLoss.watch cancels
// the run at once), so the loss is told once, by the fence's line, not
// again as a failed wait.
type fencedCap struct{ *remotecap.Cap }

func (c fencedCap) Acquire(ctx context.Context) (slots.Slot, error) {
	s, err := c.Cap.Acquire(ctx)
	if err != nil && errors.Is(err, remotecap.ErrLost) {
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(5 * time.Second): // not cancelled: say it
		}
	}
	return s, err
}

func (c fencedCap) TryAcquire() (slots.Slot, bool, error) {
	s, ok, err := c.Cap.TryAcquire()
	if err != nil && errors.Is(err, remotecap.ErrLost) {
		return nil, false, nil // none free; Acquire tells the rest
	}
	return s, ok, err
}

// capLoss stops a run whose cap has lost its slots (an etcd lease that
// could not be renewed: the fence), and remembers it for the exit status.
type capLoss struct{ err atomic.Pointer[error] }

// watch cancels the run (stop: its jobs get TERM, then KILL after the
// grace) when c, if it can lose its slots, does.
func (l *capLoss) watch(c slots.Cap, stop func()) {
	lc, ok := c.(remotecap.Loser)
	if !ok {
		return
	}
	go func() {
		<-lc.Lost()
		err := lc.Err()
		l.err.Store(&err)
		m := strings.ReplaceAll(strings.TrimPrefix(err.Error(), "remotecap: "), "etcdcap: the cap's lease is lost: ", "")
		fmt.Fprintf(os.Stderr, "poolrun: %s: no job may run outside a held slot: stopping the running jobs, starting no more\n", m)
		stop()
	}()
}

// lost reports whether the cap was lost during the run.
func (l *capLoss) lost() bool { return l.err.Load() != nil }

// etcdLs is `poolrun sem ls etcd://HOST:PORT/[NAME]`, run by the helper.
func etcdLs(url string) int {
	path, err := etcdhelper.Find()
	if err != nil {
		return fail(fmt.Errorf("sem ls %s: %w", url, err))
	}
	cmd := exec.Command(path, "ls", url)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	if err := cmd.Run(); err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			return ee.ExitCode()
		}
		return fail(fmt.Errorf("sem ls %s: %w", url, err))
	}
	return 0
}

// redactURL is an etcd URL for a message, with what may be credentials
// in it (etcd://USER:PASSWORD@…, refused by the helper) hidden, as
// etcdcap.Redact does.
func redactURL(s string) string {
	rest, ok := strings.CutPrefix(s, etcdhelper.Scheme)
	if i := strings.LastIndex(rest, "@"); ok && i >= 0 {
		return etcdhelper.Scheme + "…" + rest[i:]
	}
	return s
}

// etcdURL is sem if it names an etcd cap, else "".
func etcdURL(sem string) string {
	if isEtcd(sem) {
		return sem
	}
	return ""
}
