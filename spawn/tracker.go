package spawn

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/poolrun/poolrun/internal/handlewire"
	"github.com/poolrun/poolrun/internal/procstart"
	"github.com/poolrun/poolrun/rebuild"
	"github.com/poolrun/poolrun/semlock"
)

// The tracker is a re-exec of this binary in the tracker role, started on
// first use. This process tells it, one line per event over a pipe, which
// private sets and which child process groups it has:
//
//	S+ KEY,ID,KIND,MAX,UNDO,CREATOR,TOKEN   a set (rebuild's handle format)
//	S- ID                                  the set was removed or untracked
//	G+ PGID                                a child's process group
//	G- PGID                                the child was reaped
//
// Only this process holds the pipe's write end (O_CLOEXEC: children do not
// inherit it), so the tracker reads EOF exactly when this process is gone,
// however it died. It then SIGKILLs the groups still registered and removes
// the sets still registered, each re-verified first (semlock.Attach checks
// the generation token: a set whose id was reused is never touched, and a
// named set is never registered), then exits.
//
// If the tracker dies while this process lives, the next Track, Untrack or
// Cmd.Start starts a new one and tells it everything still registered.
var tracker struct {
	mu      sync.Mutex
	w       *os.File // the pipe's write end; nil when no tracker runs
	pid     int
	started time.Time
	starts  int   // trackers started since started's second began
	lost    error // why the last tracker went away
	sets    map[int]semlock.Handle
	groups  map[int]bool
}

// ErrTracker: the tracker could not be started, or died and could not be
// restarted; sets and groups are then not cleaned up if this process dies
// (Sweep, poolrun sem gc, still removes orphaned sets).
var ErrTracker = errors.New("spawn: tracker unavailable")

// Track registers a private set with this process's tracker, which
// removes it if this process dies before Untrack (or RemoveTracked). A
// named set is never tracked (Track is a no-op): it outlives its creator
// by design. The first call starts the tracker, a re-exec of this binary:
// a process that never called Dispatch gets ErrNoDispatch.
func Track(s *semlock.SemLock) error {
	h := s.Handle()
	if h.Name != "" || h.Key != 0 {
		return nil
	}
	enc, err := handlewire.Encode(h)
	if err != nil {
		return fmt.Errorf("spawn: track set %d: %w", h.ID, err)
	}
	tracker.mu.Lock()
	defer tracker.mu.Unlock()
	if tracker.sets == nil {
		tracker.sets, tracker.groups = map[int]semlock.Handle{}, map[int]bool{}
	}
	if err := sendLocked("S+ " + enc); err != nil {
		return fmt.Errorf("spawn: track set %d: %w", h.ID, err)
	}
	tracker.sets[h.ID] = h
	return nil
}

// Untrack tells the tracker to forget a set (it will not remove it). A set
// that is not tracked is a no-op.
func Untrack(s *semlock.SemLock) error {
	h := s.Handle()
	tracker.mu.Lock()
	defer tracker.mu.Unlock()
	if _, ok := tracker.sets[h.ID]; !ok {
		return nil
	}
	delete(tracker.sets, h.ID)
	if err := sendLocked("S- " + strconv.Itoa(h.ID)); err != nil {
		return fmt.Errorf("spawn: untrack set %d: %w", h.ID, err)
	}
	return nil
}

// NewTracked is semlock.New followed by Track: a private set that is
// removed if this process dies. If tracking fails the set is removed and
// the error returned.
func NewTracked(kind semlock.Kind, value, max int, opts ...semlock.Option) (*semlock.SemLock, error) {
	s, err := semlock.New(kind, value, max, opts...)
	if err != nil {
		return nil, err
	}
	if err := Track(s); err != nil {
		s.Remove()
		return nil, err
	}
	return s, nil
}

// RemoveTracked is Untrack followed by Remove.
func RemoveTracked(s *semlock.SemLock) error {
	uerr := Untrack(s)
	return errors.Join(s.Remove(), uerr)
}

// trackGroup registers a child's process group, if this process can have
// a tracker (it called Dispatch). Failures are not the child's problem:
// PDEATHSIG still kills the child itself.
func trackGroup(pgid int) {
	if checkDispatch() != nil {
		return
	}
	tracker.mu.Lock()
	defer tracker.mu.Unlock()
	if tracker.sets == nil {
		tracker.sets, tracker.groups = map[int]semlock.Handle{}, map[int]bool{}
	}
	if sendLocked("G+ "+strconv.Itoa(pgid)) == nil {
		tracker.groups[pgid] = true
	}
}

func untrackGroup(pgid int) {
	tracker.mu.Lock()
	defer tracker.mu.Unlock()
	if tracker.groups[pgid] {
		delete(tracker.groups, pgid)
		if tracker.w != nil {
			sendLocked("G- " + strconv.Itoa(pgid))
		}
	}
}

// sendLocked writes one line to the tracker, starting one first if none
// runs (and then telling it what is registered). A line is far shorter
// than PIPE_BUF, so it is written whole.
func sendLocked(line string) error {
	if tracker.w == nil {
		if err := startTrackerLocked(); err != nil {
			return err
		}
	}
	if _, err := tracker.w.WriteString(line + "\n"); err != nil {
		lostLocked(tracker.pid, fmt.Errorf("%w: write to the tracker (pid %d): %v", ErrTracker, tracker.pid, err))
		return tracker.lost
	}
	return nil
}

// lostLocked forgets tracker pid, which is gone.
func lostLocked(pid int, why error) {
	if tracker.pid != pid || tracker.w == nil {
		return
	}
	tracker.w.Close()
	tracker.w, tracker.lost = nil, why
}

// startTrackerLocked forks and execs a tracker and returns without
// waiting for it to run: lines written before it reads sit in the pipe.
// Its handshake is read in the background; if it fails or the tracker
// exits, the next call starts another (at most 5 within a second).
func startTrackerLocked() error {
	if err := checkDispatch(); err != nil {
		return err
	}
	if tracker.starts >= 5 && time.Since(tracker.started) < time.Second {
		// Trackers keep dying or failing: do not fork in a loop.
		return fmt.Errorf("%w: 5 trackers started within a second; the last: %w", ErrTracker, tracker.lost)
	}
	if time.Since(tracker.started) >= time.Second {
		tracker.starts = 0
	}
	tracker.starts++
	tracker.started = time.Now()
	w, ready, proc, err := startTracker()
	if err != nil {
		tracker.lost = err
		return err
	}
	tracker.w, tracker.pid = w, proc.Pid
	go func() {
		if err := <-ready; err != nil {
			tracker.mu.Lock()
			lostLocked(proc.Pid, err)
			tracker.mu.Unlock()
		}
		state, werr := proc.Wait()
		tracker.mu.Lock()
		lostLocked(proc.Pid, fmt.Errorf("%w: the tracker (pid %d) exited early (%v %v)", ErrTracker, proc.Pid, state, werr))
		tracker.mu.Unlock()
	}()
	// A new tracker after one died: tell it what is registered.
	for _, h := range tracker.sets {
		enc, _ := handlewire.Encode(h)
		w.WriteString("S+ " + enc + "\n")
	}
	for pgid := range tracker.groups {
		w.WriteString("G+ " + strconv.Itoa(pgid) + "\n")
	}
	return nil
}

// TrackerPid returns the pid of this process's tracker, 0 if none runs.
func TrackerPid() int {
	tracker.mu.Lock()
	defer tracker.mu.Unlock()
	if tracker.w == nil {
		return 0
	}
	return tracker.pid
}

// startTracker starts a tracker process: w is the write end of its
// command pipe, ready yields nil once it runs (or why it failed).
func startTracker() (w *os.File, ready <-chan error, proc *os.Process, err error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, nil, nil, fmt.Errorf("%w: cannot find this binary: %v", ErrTracker, err)
	}
	cmdR, cmdW, err := os.Pipe() // O_CLOEXEC: no child inherits cmdW
	if err != nil {
		return nil, nil, nil, fmt.Errorf("%w: %v", ErrTracker, err)
	}
	defer cmdR.Close()
	syncR, syncW, err := os.Pipe()
	if err != nil {
		cmdW.Close()
		return nil, nil, nil, fmt.Errorf("%w: %v", ErrTracker, err)
	}
	defer syncW.Close()
	env := make([]string, 0, len(os.Environ())+3)
	for _, kv := range os.Environ() {
		k, _, _ := strings.Cut(kv, "=")
		if k != envRole && k != envSync && k != envParent && k != rebuild.EnvVar {
			env = append(env, kv)
		}
	}
	env = append(env, envRole+"="+trackerRole, envSync+"=4", envParent+"="+strconv.Itoa(os.Getpid()))
	cmd := &exec.Cmd{Path: selfExe(exe), Args: []string{os.Args[0]}, Env: env, Stderr: os.Stderr,
		ExtraFiles: []*os.File{cmdR, syncW}, SysProcAttr: sysProcAttr(false)}
	onForkThread(func() { err = cmd.Start() })
	if err != nil {
		cmdW.Close()
		syncR.Close()
		return nil, nil, nil, fmt.Errorf("%w: %v", ErrTracker, err)
	}
	ch := make(chan error, 1)
	go func() {
		defer syncR.Close()
		syncR.SetReadDeadline(time.Now().Add(HandshakeTimeout))
		line, err := bufio.NewReader(io.LimitReader(syncR, 4096)).ReadString('\n')
		if strings.TrimSpace(line) == "ok" {
			ch <- nil
			return
		}
		ch <- fmt.Errorf("%w: the tracker (pid %d) ended before it started (%q, %v)", ErrTracker, cmd.Process.Pid, line, err)
	}()
	return cmdW, ch, cmd.Process, nil
}

// trackerMain is the tracker process: it reads the command pipe until
// EOF, then cleans up what its parent left.
func trackerMain(context.Context) error {
	in := os.NewFile(3, "tracker-commands")
	parent := parentPid()
	groups := map[int]bool{}
	sets := map[int]semlock.Handle{}
	sc := bufio.NewScanner(&batchReader{r: in, pause: trackerPause})
	sc.Buffer(make([]byte, 0, 64<<10), 64<<10) // a whole pipeful per read
	for sc.Scan() {
		op, arg, _ := strings.Cut(sc.Text(), " ")
		switch op {
		case "S+":
			if h, err := handlewire.Decode(arg); err == nil {
				sets[h.ID] = h
			}
		case "S-":
			id, _ := strconv.Atoi(arg)
			delete(sets, id)
		case "G+":
			if pgid, err := strconv.Atoi(arg); err == nil && pgid > 1 {
				groups[pgid] = true
			}
		case "G-":
			pgid, _ := strconv.Atoi(arg)
			delete(groups, pgid)
		}
	}
	// EOF: the parent is gone (or the pipe broke, which means the same).
	killed, removed, kept, skipped := cleanup(groups, sets)
	if killed+removed+len(kept)+len(skipped) > 0 {
		msg := fmt.Sprintf("poolrun tracker: process %d ended leaving %d child process groups and %d private semaphore sets: killed the groups, removed %d sets", parent, len(groups), len(sets), removed)
		if len(kept) > 0 {
			msg += fmt.Sprintf("; kept %v (still used by a live process; poolrun sem gc removes them later)", kept)
		}
		for _, err := range skipped {
			msg += "; left " + err.Error()
		}
		fmt.Fprintln(os.Stderr, msg)
	}
	return nil
}

// trackerPause is how long the tracker sleeps after each read of its
// command pipe. Every Cmd.Start and Wait writes a line; a tracker blocked
// in read is woken by each one, a context switch per line that cost a
// batch runner like poolrun about 10% of its wall time on 2 cores. After
// a pause the lines written meanwhile (a few hundred bytes, far below the
// pipe's 64 KiB) are read in one go. Nothing is lost or late in a way that
// matters: the lines stay in the pipe in order, EOF (this process died)
// is still read after them, and the cleanup starts at most trackerPause
// later, well within the second it is allowed.
const trackerPause = 10 * time.Millisecond

// batchReader sleeps for pause after each read that returned data, so
// that the next read gets what was written meanwhile in one batch.
type batchReader struct {
	r     io.Reader
	pause time.Duration
}

func (b *batchReader) Read(p []byte) (int, error) {
	n, err := b.r.Read(p)
	if n > 0 && err == nil {
		time.Sleep(b.pause)
	}
	return n, err
}

// keepGrace is how long the tracker keeps looking at a set whose last
// user is a live process outside the killed groups before it keeps the
// set: that process is often dying too, a moment later (a nested
// poolrun's job that dies with its parent, PDEATHSIG), and its
// exit-time undo makes it the set's last pid while it exits.
const keepGrace = time.Second

// cleanup SIGKILLs the groups, waits briefly for their leaders to die,
// then removes each set that is still the one registered and whose last
// user is gone or was in a killed group. A set whose last user is a live
// process outside the groups is looked at again for up to keepGrace
// (its last user may be dying, and another may then be last) and kept if
// such a process still uses it.
func cleanup(groups map[int]bool, sets map[int]semlock.Handle) (killed, removed int, kept []int, skipped []error) {
	for pgid := range groups {
		if syscall.Kill(-pgid, syscall.SIGKILL) == nil {
			killed++
		}
	}
	deadline := time.Now().Add(time.Second)
	for pgid := range groups {
		for alive(pgid) && time.Now().Before(deadline) {
			time.Sleep(time.Millisecond)
		}
	}
	pending := make(map[int]semlock.Handle, len(sets))
	for id, h := range sets {
		pending[id] = h
	}
	deadline = time.Now().Add(keepGrace)
	for len(pending) > 0 {
		last := map[int]int{}
		if infos, err := semlock.List(); err == nil {
			for _, in := range infos {
				last[in.ID] = in.LastPID
			}
		}
		for id, h := range pending {
			if p := last[id]; p != 0 && p != h.Creator && alive(p) && !inGroups(p, groups) {
				continue // a live user outside the groups: look again
			}
			delete(pending, id)
			s, err := semlock.Attach(h) // verifies the token: never a newer set with this id
			if err == nil {
				err = s.Remove()
			}
			switch {
			case err == nil:
				removed++
			case !errors.Is(err, semlock.ErrRemoved): // gone already is fine
				skipped = append(skipped, err)
			}
		}
		if len(pending) == 0 || time.Now().After(deadline) {
			break
		}
		time.Sleep(5 * time.Millisecond)
	}
	for id := range pending {
		kept = append(kept, id)
	}
	return killed, removed, kept, skipped
}

// inGroups reports whether pid is in one of the groups the tracker
// killed: then it got SIGKILL too and is only still exiting (a member
// exits after its leader, and its exit-time undo makes it the last pid
// of the sets it used). Its group id is read now, not remembered: a
// process that left the group before the kill is outside and lives.
func inGroups(pid int, groups map[int]bool) bool {
	if groups[pid] {
		return true
	}
	pgid, err := syscall.Getpgid(pid)
	return err == nil && groups[pgid]
}

// alive reports whether pid runs (a zombie does not).
func alive(pid int) bool {
	_, ok := procstart.Start(pid)
	return ok
}
