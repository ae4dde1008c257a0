package jobserver

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"golang.org/x/sys/unix"
)

// newPipe makes a pipe, close-on-exec.
func newPipe() ([2]int, error) {
	var p [2]int
	err := unix.Pipe2(p[:], unix.O_CLOEXEC)
	return p, err
}

// reopen opens a new open file description of the pipe or fifo behind
// descriptor fd, non-blocking, for reading and writing, through
// /proc/self/fd. Flags such as O_NONBLOCK belong to the description, and
// the description of an inherited pipe is shared with every other client
// of the jobserver: setting O_NONBLOCK on it is what made make 4.3 break
// make 4.2's sub-makes, which block in read. A description of our own
// can be non-blocking without touching anyone else's.
func reopen(fd int) (int, error) {
	nfd, err := unix.Open("/proc/self/fd/"+strconv.Itoa(fd), unix.O_RDWR|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("reopening descriptor %d through /proc/self/fd: %w", fd, err)
	}
	return nfd, nil
}

// openFifo opens the fifo at path, non-blocking, for reading and writing
// (O_RDWR on a fifo never waits for a peer on Linux).
func openFifo(path string) (int, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return -1, err
	}
	if st.Mode&unix.S_IFMT != unix.S_IFIFO {
		return -1, errors.New("not a fifo")
	}
	return unix.Open(path, unix.O_RDWR|unix.O_NONBLOCK|unix.O_CLOEXEC, 0)
}

// checkPipe checks that r and w are open descriptors of one pipe, r open
// for reading and w for writing.
func checkPipe(r, w int) error {
	var rs, ws unix.Stat_t
	for _, c := range []struct {
		fd   int
		st   *unix.Stat_t
		mode int
		what string
	}{{r, &rs, unix.O_WRONLY, "reading"}, {w, &ws, unix.O_RDONLY, "writing"}} {
		if err := unix.Fstat(c.fd, c.st); err != nil {
			return fmt.Errorf("descriptor %d is not open (%w)", c.fd, err)
		}
		if c.st.Mode&unix.S_IFMT != unix.S_IFIFO {
			return fmt.Errorf("descriptor %d is not a pipe", c.fd)
		}
		fl, err := unix.FcntlInt(uintptr(c.fd), unix.F_GETFL, 0)
		if err != nil {
			return fmt.Errorf("descriptor %d: %w", c.fd, err)
		}
		if fl&unix.O_ACCMODE == c.mode {
			return fmt.Errorf("descriptor %d is not open for %s", c.fd, c.what)
		}
	}
	if rs.Ino != ws.Ino || rs.Dev != ws.Dev {
		return fmt.Errorf("descriptors %d and %d are not the two ends of one pipe", r, w)
	}
	return nil
}

// closeOnExec keeps fd from the processes this one starts: a jobserver
// client's jobs get a jobserver of their own, never the inherited one.
func closeOnExec(fd int) { unix.CloseOnExec(fd) }

// onePage shrinks the pipe behind fd to one buffer (a page). The kernel
// then reports it writable (POLLOUT) only while it is empty: a writer
// waiting for POLLOUT wakes exactly when a reader has taken the last
// byte. That is how a server learns that a client took its token, with
// no polling.
func onePage(fd int) error {
	_, err := unix.FcntlInt(uintptr(fd), unix.F_SETPIPE_SZ, unix.Getpagesize())
	return err
}

// queued is how many bytes (tokens) the pipe behind fd holds.
func queued(fd int) (int, error) {
	return unix.IoctlGetInt(fd, unix.TIOCINQ) // FIONREAD
}

// readByte reads one byte without waiting; ok is false if there was none.
func readByte(fd int) (b byte, ok bool, err error) {
	var buf [1]byte
	for {
		n, err := unix.Read(fd, buf[:])
		switch {
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
			return 0, false, nil
		case err != nil:
			return 0, false, err
		case n == 0:
			return 0, false, errors.New("end of file on the jobserver")
		}
		return buf[0], true, nil
	}
}

// writeByte writes b, waiting for room if need be (a jobserver's pipe
// holds at most as many bytes as there are tokens: room is there unless
// a client wrote more than it read).
func writeByte(fd int, b byte) error {
	buf := [1]byte{b}
	for {
		_, err := unix.Write(fd, buf[:])
		switch err {
		case nil:
			return nil
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			fds := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}}
			if _, err := unix.Poll(fds, 1000); err != nil && err != unix.EINTR {
				return err
			}
			continue
		}
		return err
	}
}

// waker is an eventfd that ends a poll early.
type waker struct{ fd int }

func newWaker() (*waker, error) {
	fd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		return nil, err
	}
	return &waker{fd: fd}, nil
}

func (w *waker) wake() {
	var one = [8]byte{1}
	unix.Write(w.fd, one[:])
}

// reset makes w unwoken again.
func (w *waker) reset() {
	var buf [8]byte
	unix.Read(w.fd, buf[:])
}

func (w *waker) close() { unix.Close(w.fd) }

// wait waits until fd is ready for events, w is woken, or d has passed
// (d < 0: no limit). It reports whether fd is ready and whether w was
// woken.
func wait(fd int, events int16, w *waker, d time.Duration) (ready, woken bool, err error) {
	fds := []unix.PollFd{{Fd: int32(fd), Events: events}, {Fd: int32(w.fd), Events: unix.POLLIN}}
	ms := -1
	if d >= 0 {
		ms = int((d + time.Millisecond - 1) / time.Millisecond)
	}
	for {
		_, err := unix.Poll(fds, ms)
		if err == unix.EINTR {
			continue // a signal: the next poll waits anew, at worst d more
		}
		if err != nil {
			return false, false, err
		}
		return fds[0].Revents != 0, fds[1].Revents&unix.POLLIN != 0, nil
	}
}

// readToken waits for a byte on fd until ctx is done or w is woken
// (woken: no byte, no error).
func readToken(ctx context.Context, fd int, w *waker) (b byte, woken bool, err error) {
	if b, ok, err := readByte(fd); ok || err != nil {
		return b, false, err
	}
	stop := context.AfterFunc(ctx, w.wake)
	defer stop()
	for {
		if err := ctx.Err(); err != nil {
			return 0, false, err
		}
		d := time.Duration(-1)
		if dl, ok := ctx.Deadline(); ok {
			d = max(0, time.Until(dl))
		}
		_, woke, err := wait(fd, unix.POLLIN, w, d)
		if err != nil {
			return 0, false, err
		}
		if woke && ctx.Err() == nil {
			return 0, true, nil
		}
		// Readable: another client may have taken the byte first, which
		// is why the read does not wait (EAGAIN: poll again).
		if b, ok, err := readByte(fd); ok || err != nil {
			return b, false, err
		}
	}
}

// ErrUnsupported: the jobserver needs Linux (a pipe of one page that
// reports POLLOUT only when empty, and /proc/self/fd to reopen a pipe).
var ErrUnsupported = errors.New("jobserver: not supported on this system (Linux only)")
