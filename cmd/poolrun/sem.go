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
	"text/tabwriter"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/poolrun/poolrun/internal/remotecap"
	"github.com/poolrun/poolrun/semlock"
	"github.com/poolrun/poolrun/slots"
	"github.com/poolrun/poolrun/spawn"
)

const semUsage = "poolrun sem ls | rm NAME|ID | gc | run NAME|etcd://HOST:PORT/NAME [-j N] [--] command..."

// semMain runs "poolrun sem ...".
func semMain(args []string, log hclog.Logger) int {
	if len(args) == 0 {
		return fail(usagef("sem needs a subcommand: %s", semUsage))
	}
	switch args[0] {
	case "ls", "list":
		if len(args) == 2 && isEtcd(args[1]) {
			return etcdLs(args[1])
		}
		if len(args) > 1 {
			return fail(usagef("sem ls takes no arguments"))
		}
		return semLs()
	case "rm", "remove":
		if len(args) < 2 {
			return fail(usagef("sem rm needs a set: a NAME or an ID (see poolrun sem ls)"))
		}
		status := 0
		for _, a := range args[1:] {
			if err := semRm(a); err != nil {
				fmt.Fprintf(os.Stderr, "poolrun: sem rm %s: %v\n", a, err)
				status = 255
			}
		}
		return status
	case "gc":
		if len(args) > 1 {
			return fail(usagef("sem gc takes no arguments"))
		}
		removed, err := spawn.Sweep()
		for _, in := range removed {
			fmt.Printf("removed set %d (%v, max %d): its creator, pid %d, is gone\n", in.ID, in.Kind, in.MaxValue, in.Creator)
		}
		removed = append(removed, sweepIdleTallies()...)
		if err != nil {
			return fail(fmt.Errorf("sem gc: %w", err))
		}
		if len(removed) == 0 {
			fmt.Println("no orphaned set")
		}
		return 0
	case "run":
		return semRun(args[1:], log)
	case "-h", "--help", "help":
		fmt.Println("usage: " + semUsage)
		return 0
	}
	return fail(usagef("unknown sem subcommand %q: %s", args[0], semUsage))
}

// semLs lists this user's poolrun sets.
func semLs() int {
	sets, err := semlock.List()
	if err != nil {
		return fail(err)
	}
	names := map[int]string{}
	for _, n := range knownNames() {
		if h, err := semlock.LookupName(n); err == nil {
			names[h.ID] = n
		}
	}
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tNAME\tKIND\tVALUE/MAX\tWAITERS\tCREATOR\tLAST PID\tCREATED")
	for _, in := range sets {
		name := names[in.ID]
		switch {
		case !in.Named:
			name = "(private)"
		case name == "":
			name = "(named)"
		}
		up := "gone"
		if in.CreatorUp {
			up = "up"
		}
		value := fmt.Sprintf("%d/%d", in.Value, in.MaxValue)
		if in.Kind == semlock.TallyKind {
			value = fmt.Sprintf("%d held", in.MaxValue-in.Value) // a GNU sem semaphore counts its holders
		}
		fmt.Fprintf(w, "%d\t%s\t%v\t%s\t%d\t%d (%s)\t%d\t%s\n", in.ID, name, in.Kind, value,
			in.Waiters, in.Creator, up, in.LastPID, in.Created.Format("2006-01-02 15:04:05"))
	}
	w.Flush()
	return 0
}

// semRm removes a set by id or by name.
func semRm(a string) error {
	if id, err := strconv.Atoi(a); err == nil {
		return semlock.RemoveID(id)
	}
	h, err := semlock.LookupName(a)
	if err != nil {
		return err
	}
	return semlock.RemoveID(h.ID)
}

// semRun is GNU sem --fg: take a slot of the named cap, run the command
// in the foreground, give the slot back, exit with the command's status.
// Inside a job of that very cap it runs on the job's slot, if no other run
// in the job has it (see the slots package). The cap is a SysV set, or,
// for etcd://HOST:PORT/NAME, a cap on etcd through the helper (as --sem
// etcd://… is), whose loss (the fence) stops the command, TERM then KILL,
// says so and exits 255.
func semRun(args []string, log hclog.Logger) int {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return fail(usagef("sem run needs a cap NAME first: poolrun sem run NAME -j N -- command..."))
	}
	name := args[0]
	if !isEtcd(name) {
		if err := semlock.ValidateName(name); err != nil {
			return fail(usagef("sem run %q: bad name: letters, digits, '.', '_' or '-', starting with a letter or digit", name))
		}
	}
	o := newOptions()
	args, err := parseFlags(args[1:], semRunFlags, o)
	if err != nil {
		return fail(err)
	}
	if len(args) == 0 {
		return fail(usagef("sem run %s: no command to run", name))
	}
	path, err := exec.LookPath(args[0])
	if err != nil {
		return fail(usagef("sem run: command %q not found in PATH", args[0]))
	}
	c, say, err := semRunCap(name, o)
	if err != nil {
		return fail(fmt.Errorf("sem run %s: %s", name, err))
	}
	defer func() {
		if err := c.Close(); err != nil {
			log.Error("letting the cap go", "error", err)
		}
	}()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sigs := make(chan os.Signal, 1)
	notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	var got atomicSignal
	go func() {
		if sg, ok := <-sigs; ok {
			got.store(sg.(syscall.Signal))
			cancel()
		}
	}()
	defer signal.Stop(sigs)

	slot, err := c.Acquire(ctx)
	if err != nil {
		if sg := got.load(); sg != 0 {
			return 128 + int(sg)
		}
		return fail(fmt.Errorf("sem run %s: %s", name, say(err)))
	}
	defer func() {
		if err := slot.Release(); err != nil {
			log.Error("giving the slot back", "error", err)
		}
	}()
	// The command's own share of the cap: one run started in it may use
	// this slot, others take slots of the cap.
	share, err := c.Share()
	if err != nil {
		return fail(fmt.Errorf("sem run %s: %s", name, say(err)))
	}
	defer share.Close()
	var lost atomic.Bool
	if lc, ok := c.(remotecap.Loser); ok {
		ran := make(chan struct{})
		defer close(ran)
		go func() {
			select {
			case <-lc.Lost():
				lost.Store(true)
				fmt.Fprintf(os.Stderr, "poolrun: sem run: %s: no command may run outside a held slot: stopping the command\n", say(lc.Err()))
				cancel()
			case <-ran:
			}
		}()
	}
	cmd := spawn.Command(ctx, path, args[1:]...)
	cmd.Args[0] = args[0]
	cmd.Stdin, cmd.Stdout, cmd.Stderr = os.Stdin, os.Stdout, os.Stderr
	// A command that reads the terminal or sets its modes (ffmpeg, an editor)
	// would be stopped by SIGTTIN/SIGTTOU in its own process group: hand it the
	// terminal while it runs (spawn does nothing when stdin is not one).
	cmd.Foreground = true
	cmd.WaitDelay = semRunWaitDelay
	cmd.Env = withEnv(os.Environ(), share.Env())
	err = cmd.Run()
	switch {
	case lost.Load():
		return 255
	case got.load() != 0:
		return 128 + int(got.load())
	}
	if st := cmd.ProcessState; st != nil {
		if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return st.ExitCode()
	}
	fmt.Fprintf(os.Stderr, "poolrun: sem run: %v\n", err)
	return 127
}

// semRunCap opens the cap of sem run: the SysV set name, or the etcd cap
// at that URL; say is how its errors read. A -j that differs from an
// existing cap's size is told.
func semRunCap(name string, o *options) (c slots.Cap, say func(error) string, err error) {
	if isEtcd(name) {
		// The stop time is the command's TERM-to-KILL delay: the helper
		// fences that much before etcd may expire the lease.
		rc, err := startEtcdHelper([]string{"cap", name, strconv.Itoa(o.jobs), semRunWaitDelay.String()}, name)
		if err != nil {
			return nil, nil, err
		}
		if n := rc.Size(); o.jobsSet && n != o.jobs {
			fmt.Fprintf(os.Stderr, "poolrun: sem %s is in use with %d slots (made by an earlier run): -j %d does not resize it\n", redactURL(name), n, o.jobs)
		}
		return rc, etcdMessage, nil
	}
	sc, err := slots.Open(name, o.jobs)
	if err != nil {
		return nil, nil, errors.New(message(err))
	}
	recordName(name)
	if n := sc.Size(); o.jobsSet && n != o.jobs {
		fmt.Fprintf(os.Stderr, "poolrun: sem %s exists with %d slots (created earlier): -j %d does not resize it\n", name, n, o.jobs)
	}
	return sc, message, nil
}

// semRunWaitDelay is how long the command of sem run on an etcd cap has
// between SIGTERM and SIGKILL when its slot is lost, as poolrun's --grace.
const semRunWaitDelay = time.Second

// semRunFlags are the flags of poolrun sem run: -j.
var semRunFlags = []flagSpec{*lookupFlag(flagSpecs, "-j")}

// withEnv is env with the variables of add set (replacing any of the same
// names).
func withEnv(env, add []string) []string {
	out := make([]string, 0, len(env)+len(add))
next:
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		for _, a := range add {
			if ak, _, _ := strings.Cut(a, "="); ak == k {
				continue next
			}
		}
		out = append(out, kv)
	}
	return append(out, add...)
}
