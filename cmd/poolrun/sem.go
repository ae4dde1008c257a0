package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"text/tabwriter"

	"github.com/hashicorp/go-hclog"
	"github.com/poolrun/poolrun/rebuild"
	"github.com/poolrun/poolrun/semlock"
	"github.com/poolrun/poolrun/spawn"
)

const semUsage = "poolrun sem ls | rm NAME|ID | gc | run NAME [-j N] [--] command..."

// semMain runs "poolrun sem ...".
func semMain(args []string, log hclog.Logger) int {
	if len(args) == 0 {
		return fail(usagef("sem needs a subcommand: %s", semUsage))
	}
	switch args[0] {
	case "ls", "list":
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
		fmt.Fprintf(w, "%d\t%s\t%v\t%d/%d\t%d\t%d (%s)\t%d\t%s\n", in.ID, name, in.Kind, in.Value, in.MaxValue,
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
func semRun(args []string, log hclog.Logger) int {
	if len(args) == 0 || strings.HasPrefix(args[0], "-") {
		return fail(usagef("sem run needs a cap NAME first: poolrun sem run NAME -j N -- command..."))
	}
	name := args[0]
	if err := semlock.ValidateName(name); err != nil {
		return fail(usagef("sem run %q: bad name: letters, digits, '.', '_' or '-', starting with a letter or digit", name))
	}
	args = args[1:]
	jobs, jobsSet := runtime.NumCPU(), false
	for len(args) > 0 && strings.HasPrefix(args[0], "-") {
		a := args[0]
		args = args[1:]
		if a == "--" {
			break
		}
		var v string
		switch {
		case a == "-j" || a == "--jobs":
			if len(args) == 0 {
				return fail(usagef("flag %s needs a value (N)", a))
			}
			v, args = args[0], args[1:]
		case strings.HasPrefix(a, "-j"):
			v = a[2:]
		case strings.HasPrefix(a, "--jobs="):
			v = a[len("--jobs="):]
		default:
			return fail(usagef("sem run: unknown flag %s (sem run takes -j N)", a))
		}
		n, err := parseJobs(v, runtime.NumCPU())
		if err != nil {
			return fail(err)
		}
		jobs, jobsSet = n, true
	}
	if len(args) == 0 {
		return fail(usagef("sem run %s: no command to run", name))
	}
	path, err := exec.LookPath(args[0])
	if err != nil {
		return fail(usagef("sem run: command %q not found in PATH", args[0]))
	}

	s, err := semlock.Open(name, semlock.Semaphore, jobs, jobs)
	if err != nil {
		return fail(fmt.Errorf("sem run %s: %w", name, err))
	}
	defer s.Close()
	recordName(name)
	h := s.Handle()
	if jobsSet && h.MaxValue != jobs {
		fmt.Fprintf(os.Stderr, "poolrun: sem %s exists with %d slots (created earlier): -j %d does not resize it\n", name, h.MaxValue, jobs)
	}
	mark := strconv.Itoa(h.ID) + "." + strconv.FormatUint(uint64(h.Token), 10)
	// Inside a job of this very cap: use the job's unit, if no other run
	// in the job uses it (claimHeld).
	// Else wait for a unit of the cap, retrying the claim meanwhile (the
	// run that has it may end first: see jobCap.acquire).
	var claim, pending *semlock.SemLock
	if os.Getenv(heldEnv) == mark {
		if parent, err := rebuild.FromEnv(); err == nil {
			if m, ok := parent.Lookup(heldName); ok {
				if claim = claimHeldLock(m); claim == nil {
					pending = m
				}
			}
			for _, n := range parent.Names() {
				if l, _ := parent.Lookup(n); l != claim && l != pending {
					l.Close()
				}
			}
		}
	}
	held := claim != nil
	defer func() {
		if err := unclaim(claim); err != nil {
			log.Error("giving the job's unit back", "error", err)
		}
		if pending != nil {
			pending.Close()
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

	for !held {
		actx, acancel := ctx, context.CancelFunc(func() {})
		if pending != nil {
			actx, acancel = context.WithTimeout(ctx, pollClaim)
		}
		err := s.Acquire(actx)
		acancel()
		if err == nil {
			defer func() {
				if err := s.Release(); err != nil {
					log.Error("giving the slot back", "error", err)
				}
			}()
			break
		}
		if pending == nil || ctx.Err() != nil {
			if sg := got.load(); sg != 0 {
				return 128 + int(sg)
			}
			return fail(fmt.Errorf("sem run %s: %w", name, err))
		}
		if claimHeldLock(pending) != nil {
			claim, pending, held = pending, nil, true
		}
	}
	// The command's own held mutex: one run started in it may use this
	// unit, others take units of the cap.
	m, err := spawn.NewTracked(semlock.Mutex, 1, 1)
	if err != nil {
		return fail(fmt.Errorf("sem run %s: creating the held mutex: %w", name, err))
	}
	defer spawn.RemoveTracked(m)
	enc, err := rebuild.Encode(map[string]semlock.Handle{capName: h, heldName: m.Handle()})
	if err != nil {
		return fail(err)
	}
	c := spawn.Command(ctx, path, args[1:]...)
	c.Args[0] = args[0]
	c.Stdin, c.Stdout, c.Stderr = os.Stdin, os.Stdout, os.Stderr
	// A command that reads the terminal or sets its modes (ffmpeg, an editor)
	// would be stopped by SIGTTIN/SIGTTOU in its own process group: hand it the
	// terminal while it runs (spawn does nothing when stdin is not one).
	c.Foreground = true
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if k != rebuild.EnvVar && k != heldEnv {
			c.Env = append(c.Env, kv)
		}
	}
	c.Env = append(c.Env, rebuild.EnvVar+"="+enc, heldEnv+"="+mark)
	err = c.Run()
	if sg := got.load(); sg != 0 {
		return 128 + int(sg)
	}
	if st := c.ProcessState; st != nil {
		if ws, ok := st.Sys().(syscall.WaitStatus); ok && ws.Signaled() {
			return 128 + int(ws.Signal())
		}
		return st.ExitCode()
	}
	fmt.Fprintf(os.Stderr, "poolrun: sem run: %v\n", err)
	return 127
}
