package jobserver

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/poolrun/poolrun/slots"
	"github.com/poolrun/poolrun/spawn"
)

// Server is one process tree's jobserver backed by a slots.Cap: every
// token a client of the tree takes is a unit of the cap. One Server
// serves one job: its pipe (or fifo) is the job's alone, so the Server
// knows every unit it took for the job, and Close gives them all back,
// however the tree ended — a make SIGKILLed while it held tokens costs
// the cap nothing.
//
// A pipe is passive: a client reads a byte that must already be there,
// and nothing tells the writer that a client waits. The Server keeps at
// most one byte waiting in the pipe, for a unit it took with TryAcquire,
// and offers the next one only once a client has taken that byte. The
// pipe is shrunk to one page, so the kernel reports it writable only
// while it is empty: the Server waits (in Go's poller, no thread held)
// for the pipe to become writable, which is exactly when a client took
// the last byte — no polling. It never blocks on the cap, so it cannot
// take a unit from the batch that runs the job, which waits there for its
// next job; and while that batch waits (busy), the Server gives back the
// tokens in its pipe and offers none. A unit it cannot have at once (the
// cap is full) is tried again after a pause: 1 ms doubling to 50 ms
// while a client of the job has just taken a token, 200 ms doubling to
// 2 s otherwise. A token that stays unread in the pipe for 200 ms (an
// offer nobody took, or tokens the tree gave back and no longer needs) is
// read back and its unit given back to the cap, and the next offer waits
// the longer pause: a job that is not a make does not keep a unit from
// one that is.
type Server struct {
	cap   slots.Cap
	busy  func() bool
	style Style
	word  func(fd0 int) string

	files []*os.File // Pipe: the read and write ends the job inherits
	path  string     // Fifo: the fifo
	own   *os.File   // our own description: non-blocking, read and write, in Go's poller
	rc    syscall.RawConn
	fd    int // own's descriptor
	stop  chan struct{}
	done  chan struct{}

	mu    sync.Mutex
	units []slots.Slot // taken for the job: bytes in the pipe or in its clients' hands
	err   error
}

const (
	// maxUnits bounds the units one job's jobserver takes: a pipe of one
	// page holds at most a page of bytes.
	maxUnits = 4095
	// retryMin and retryMax bound the pause before the Server tries the
	// cap again for a unit it could not have.
	retryMin = time.Millisecond
	retryMax = 50 * time.Millisecond
	// reclaimAfter is how long a token may wait unread in the pipe
	// before it is given back to the cap.
	reclaimAfter = 200 * time.Millisecond
	// probeMin and probeMax bound the pause before the Server offers a
	// token again after one went untaken (or when the cap was full and no
	// client has asked for one yet).
	probeMin = 200 * time.Millisecond
	probeMax = 2 * time.Second
)

// Serve starts a jobserver of style Pipe or Fifo backed by c. busy, if
// not nil, says whether someone this process knows of waits for a unit
// of c (a batch's dispatcher, with a job to start): while it does, the
// Server takes no unit and gives back the tokens waiting in its pipe, so
// that the jobs of a batch come before the tokens of a job's make. A Fifo is
// made in a private directory under os.TempDir that this process's
// spawn tracker removes if the process dies (the process must have
// called spawn.Dispatch); Close removes it otherwise.
func Serve(c slots.Cap, style Style, busy func() bool) (*Server, error) {
	if busy == nil {
		busy = func() bool { return false }
	}
	s := &Server{cap: c, style: style, busy: busy, fd: -1, stop: make(chan struct{}), done: make(chan struct{})}
	var err error
	switch style {
	case Pipe:
		err = s.makePipe()
	case Fifo:
		err = s.makeFifo()
	default:
		return nil, fmt.Errorf("jobserver: serve style %v: want pipe or fifo", style)
	}
	if err == nil {
		err = onePage(s.fd)
	}
	if err == nil {
		// In Go's poller: the pump waits for the pipe to empty without
		// holding a thread, however many jobs run.
		s.own = os.NewFile(uintptr(s.fd), "jobserver")
		s.rc, err = s.own.SyscallConn()
	}
	if err != nil {
		s.release()
		return nil, fmt.Errorf("jobserver: making a %v jobserver: %w", style, err)
	}
	go s.pump()
	return s, nil
}

func (s *Server) makePipe() error {
	p, err := newPipe()
	if err != nil {
		return err
	}
	s.files = []*os.File{os.NewFile(uintptr(p[0]), "jobserver-r"), os.NewFile(uintptr(p[1]), "jobserver-w")}
	fd, err := reopen(p[0])
	if err != nil {
		return err
	}
	s.fd = fd
	s.word = func(fd0 int) string {
		return "--jobserver-auth=" + strconv.Itoa(fd0) + "," + strconv.Itoa(fd0+1)
	}
	return nil
}

// fifos is this process's directory of fifos: made on the first Fifo
// Server, under os.TempDir, and registered with the spawn tracker, which
// removes it when this process ends, however it ends (SIGKILL too).
var fifos struct {
	once sync.Once
	dir  string
	err  error
	n    atomic.Int64
}

func (s *Server) makeFifo() error {
	fifos.once.Do(func() {
		dir, err := os.MkdirTemp("", "poolrun-jobserver-")
		if err == nil {
			if err = spawn.TrackPath(dir); err != nil {
				os.Remove(dir)
			}
		}
		fifos.dir, fifos.err = dir, err
	})
	if fifos.err != nil {
		return fifos.err
	}
	path := filepath.Join(fifos.dir, strconv.FormatInt(fifos.n.Add(1), 10))
	if err := unix.Mkfifo(path, 0o600); err != nil {
		return err
	}
	s.path = path
	fd, err := openFifo(path)
	if err != nil {
		return err
	}
	s.fd = fd
	s.word = func(int) string { return "--jobserver-auth=fifo:" + path }
	return nil
}

// Style is the Server's style.
func (s *Server) Style() Style { return s.style }

// Word is the MAKEFLAGS word that names the Server to a process started
// with Files as its descriptors fd0 and fd0+1 (exec.Cmd.ExtraFiles from
// its first: fd0 is 3). A Fifo's word names its path and ignores fd0.
func (s *Server) Word(fd0 int) string { return s.word(fd0) }

// Files are the descriptors a process gets in Pipe style, the read end
// first; none in Fifo style.
func (s *Server) Files() []*os.File { return s.files }

// Env is env (nil: this process's) for a process started with Files as
// its descriptors fd0 and fd0+1: MAKEFLAGS names the Server, and so do
// CARGO_MAKEFLAGS and MFLAGS where env sets them (cargo's jobserver crate
// reads them first). jobs > 0 sets make's -jN too.
func (s *Server) Env(env []string, fd0, jobs int) []string {
	return SetWord(env, s.Word(fd0), jobs)
}

// Units is how many units of the cap the Server holds for its job now.
func (s *Server) Units() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.units)
}

// Close stops the Server and gives back to the cap every unit it took
// for the job: those waiting in the pipe and those the job's clients
// took and never gave back (a killed make's). Call it once the job has
// ended. It removes the fifo.
func (s *Server) Close() error {
	close(s.stop)
	s.own.SetDeadline(time.Now()) // ends a wait for the pipe to empty
	<-s.done
	return s.release()
}

func (s *Server) release() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	err := s.err
	for _, u := range s.units {
		err = errors.Join(err, u.Release())
	}
	s.units = nil
	for _, f := range s.files {
		f.Close()
	}
	switch {
	case s.own != nil:
		s.own.Close()
	case s.fd >= 0:
		unix.Close(s.fd)
	}
	s.fd = -1
	if s.path != "" {
		if rerr := os.Remove(s.path); rerr != nil && !os.IsNotExist(rerr) {
			err = errors.Join(err, rerr)
		}
	}
	return err
}

// pump keeps one token waiting in the pipe while the cap has a unit for
// it and the job's clients take what it offers (see Server).
func (s *Server) pump() {
	defer close(s.done)
	retry, probe := retryMin, probeMin
	hungry := false              // a client took a byte since the last reclaim
	var nextOffer time.Time      // no offer before this
	low, since := -1, time.Now() // the fewest bytes seen waiting since
	for {
		n, err := queued(s.fd)
		if err != nil {
			s.fail(err)
			return
		}
		now := time.Now()
		busy := s.busy()
		if low < 0 || n < low {
			low = n
		}
		if busy && n > 0 {
			// The batch waits for a unit: give back every token waiting.
			s.reclaim(n)
			low, since = -1, now
			continue
		}
		if n > 0 && now.Sub(since) >= reclaimAfter {
			k := low
			low, since = -1, now
			if k > 0 {
				// Tokens nobody took for reclaimAfter: back to the cap, and
				// the next offer waits longer while offers go untaken.
				s.reclaim(k)
				hungry = false
				nextOffer = now.Add(probe)
				probe = min(2*probe, probeMax)
				continue
			}
		}
		if n == 0 && !busy && s.Units() < maxUnits && !now.Before(nextOffer) {
			u, ok, err := s.cap.TryAcquire()
			if err != nil {
				s.fail(err)
				return
			}
			if ok {
				s.mu.Lock()
				s.units = append(s.units, u)
				s.mu.Unlock()
				if err := writeByte(s.fd, '+'); err != nil {
					s.fail(err)
					return
				}
				low, since = -1, time.Now()
				continue
			}
			// The cap is full: try again soon if a client is waiting for
			// more, else after the probe pause.
			if hungry {
				nextOffer = now.Add(retry)
				retry = min(2*retry, retryMax)
			} else {
				nextOffer = now.Add(probe)
				probe = min(2*probe, probeMax)
			}
		}
		var events int16
		var d time.Duration
		if n > 0 {
			events = unix.POLLOUT // ready once a client took the last byte
			d = max(0, reclaimAfter-now.Sub(since))
		} else {
			d = max(time.Millisecond, time.Until(nextOffer))
			if busy {
				d = retryMax
			}
		}
		ready, stopped, err := s.wait(events != 0, d)
		if err != nil {
			s.fail(err)
			return
		}
		if stopped {
			return
		}
		if ready {
			// A client took the last byte: it wants tokens; offer at once.
			hungry, retry, probe, nextOffer = true, retryMin, probeMin, time.Time{}
		}
	}
}

// wait waits d, or, if empty, until the pipe is empty (a client took
// the last byte) or d has passed. It reports whether the pipe emptied,
// and whether Close stopped the Server.
func (s *Server) wait(empty bool, d time.Duration) (ready, stopped bool, err error) {
	if !empty {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-s.stop:
			return false, true, nil
		case <-t.C:
			return false, false, nil
		}
	}
	s.own.SetWriteDeadline(time.Now().Add(d))
	var qerr error
	werr := s.rc.Write(func(fd uintptr) bool {
		n, err := queued(int(fd))
		if err != nil {
			qerr = err
			return true
		}
		ready = n == 0
		return ready
	})
	select {
	case <-s.stop:
		return false, true, nil
	default:
	}
	if errors.Is(werr, os.ErrDeadlineExceeded) {
		return false, false, nil
	}
	return ready, false, errors.Join(werr, qerr)
}

// reclaim reads up to k tokens back out of the pipe and gives their
// units back to the cap.
func (s *Server) reclaim(k int) {
	for ; k > 0; k-- {
		_, ok, err := readByte(s.fd)
		if err != nil || !ok {
			return // a client took it first
		}
		s.mu.Lock()
		u := s.units[len(s.units)-1]
		s.units = s.units[:len(s.units)-1]
		s.mu.Unlock()
		if err := u.Release(); err != nil {
			s.fail(err)
		}
	}
}

func (s *Server) fail(err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.err == nil {
		s.err = fmt.Errorf("jobserver: %w", err)
	}
}

// SetWord is env with the jobserver word of every one of Vars that env
// sets replaced by word (removed if word is ""), and MAKEFLAGS set even
// if env does not set it (unless word is ""). jobs > 0 sets -jN in
// MAKEFLAGS.
func SetWord(env []string, word string, jobs int) []string {
	out := make([]string, 0, len(env)+1)
	seen := false
	for _, kv := range env {
		k, v, _ := cutVar(kv)
		switch k {
		case "MAKEFLAGS":
			seen = true
			kv = k + "=" + WithWord(v, word, jobs)
		case "CARGO_MAKEFLAGS", "MFLAGS":
			kv = k + "=" + WithWord(v, word, 0)
		}
		out = append(out, kv)
	}
	if !seen && word != "" {
		out = append(out, "MAKEFLAGS="+WithWord("", word, jobs))
	}
	return out
}

func cutVar(kv string) (k, v string, ok bool) {
	for i := 0; i < len(kv); i++ {
		if kv[i] == '=' {
			return kv[:i], kv[i+1:], true
		}
	}
	return kv, "", false
}
