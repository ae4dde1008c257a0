package spawn

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
)

// The variables a parent sets in a re-exec'd child's environment. The
// child's package init reads and removes them, so they never reach the
// child's own children.
const (
	envRole   = "POOLRUN_SPAWN_ROLE"   // the role to run
	envSync   = "POOLRUN_SPAWN_SYNC"   // fd of the handshake pipe's write end
	envParent = "POOLRUN_SPAWN_PARENT" // the parent's pid
)

// trackerRole is the reserved role of the tracker process.
const trackerRole = "poolrun-tracker"

// ErrNoDispatch: this binary does not call Dispatch first thing in main,
// so re-exec'ing it as a worker or a tracker would run main again.
var ErrNoDispatch = errors.New("spawn: this binary does not call spawn.Dispatch(): call it first thing in main (and in TestMain) before starting workers or tracking sets")

var (
	rolesMu sync.Mutex
	roles   = map[string]func(context.Context) error{}

	dispatched atomic.Bool // Dispatch was called in this process
	// Read from the environment at init, before main can start anything.
	startRole   = os.Getenv(envRole)
	startSync   = os.Getenv(envSync)
	startParent = os.Getenv(envParent)
	currentRole string
)

func init() {
	os.Unsetenv(envRole)
	os.Unsetenv(envSync)
	os.Unsetenv(envParent)
}

// Register names a role that Dispatch runs when this binary is re-exec'd
// as that role (see Worker). main runs with a context cancelled by SIGTERM
// (what Cmd.Stop sends first); its error is printed to stderr and makes
// the process exit 1.
// Call Register before Dispatch (in main or in an init function); an empty,
// reserved or duplicate role panics: it is a programmer error.
func Register(role string, main func(ctx context.Context) error) {
	if role == "" || role == trackerRole || main == nil {
		panic(fmt.Sprintf("spawn: Register(%q): empty or reserved role, or nil main", role))
	}
	rolesMu.Lock()
	defer rolesMu.Unlock()
	if _, dup := roles[role]; dup {
		panic(fmt.Sprintf("spawn: Register(%q): role registered twice", role))
	}
	roles[role] = main
}

// Dispatch runs the role this process was started as (by Worker, or as the
// tracker), then exits with its status; in a normal process it returns at
// once. Call it first thing in main, after the Register calls, and in
// TestMain: a binary that never calls it cannot start workers or a tracker
// (Worker's Start and Track return ErrNoDispatch), so it can never re-run
// its own main by accident.
func Dispatch() {
	dispatched.Store(true)
	if startRole == "" {
		return
	}
	role := startRole
	sync := openSync()
	var main func(context.Context) error
	if role == trackerRole {
		main = trackerMain
	} else {
		rolesMu.Lock()
		main = roles[role]
		rolesMu.Unlock()
	}
	if main == nil {
		msg := fmt.Sprintf("role %q is not registered in this binary (registered: %v)", role, registered())
		if sync != nil {
			sync.WriteString("error " + msg + "\n")
		}
		fmt.Fprintln(os.Stderr, "spawn: "+msg)
		os.Exit(2)
	}
	currentRole = role
	ctx, cancel := context.WithCancel(context.Background())
	handshook := make(chan struct{})
	handshake := func() {
		if sync != nil {
			sync.WriteString("ok\n")
			sync.Close()
		}
		close(handshook)
	}
	if role == trackerRole {
		// It must outlive its parent: signals aimed at the parent's
		// terminal or service do not stop it before it has cleaned up.
		signal.Ignore(syscall.SIGINT, syscall.SIGHUP, syscall.SIGTERM, syscall.SIGPIPE)
		handshake()
	} else {
		watchParent(parentPid())
		// SIGTERM (Stop) cancels the role's ctx. signal.Notify costs
		// about 0.1 ms (it starts a runtime thread and hands each
		// signal to it): it runs beside main, and the handshake that
		// lets the parent's Start return follows it, so a Stop after
		// Start is always graceful. SIGINT is left alone: a worker is
		// in its own process group, out of reach of the terminal's ^C.
		go func() {
			sig := make(chan os.Signal, 1)
			signal.Notify(sig, syscall.SIGTERM)
			handshake()
			<-sig
			cancel()
			signal.Stop(sig) // a second signal kills as usual
		}()
	}
	err := main(ctx)
	<-handshook // never exit before the parent heard that Dispatch ran
	if err != nil {
		fmt.Fprintf(os.Stderr, "%s: %v\n", role, err)
		os.Exit(1)
	}
	os.Exit(0)
}

// Role returns the role this process runs as ("" in a normal process),
// once Dispatch has started it.
func Role() string { return currentRole }

func registered() []string {
	rolesMu.Lock()
	defer rolesMu.Unlock()
	var names []string
	for name := range roles {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

func openSync() *os.File {
	fd, err := strconv.Atoi(startSync)
	if err != nil || fd < 3 {
		return nil
	}
	return os.NewFile(uintptr(fd), "spawn-handshake")
}

func parentPid() int {
	pid, _ := strconv.Atoi(startParent)
	return pid
}

// checkDispatch refuses to re-exec a binary that would run main again.
func checkDispatch() error {
	if !dispatched.Load() {
		return ErrNoDispatch
	}
	return nil
}
