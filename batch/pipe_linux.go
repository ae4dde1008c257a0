package batch

import (
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// pipeSize is the job's stdin pipe's buffer: 1 MiB (Linux's default
// limit for unprivileged users) instead of 64 KiB, so a job reads its
// block in 16 times fewer wake-ups.
const pipeSize = 1 << 20

// growPipe enlarges the pipe's buffer; a failure (a lower limit) is no
// matter.
func growPipe(w *os.File) {
	if rc, err := w.SyscallConn(); err == nil {
		rc.Control(func(fd uintptr) {
			unix.FcntlInt(fd, unix.F_SETPIPE_SZ, pipeSize)
		})
	}
}

// writePart copies n bytes of f from off into the pipe w with splice(2):
// the file's pages go from the page cache into the pipe without being
// copied through poolrun's memory. Where splice does not apply (a file
// system without it), it falls back to copying.
func writePart(w *os.File, f *os.File, off, n int64) error {
	rc, err := w.SyscallConn()
	if err != nil {
		return copyPart(w, f, off, n)
	}
	frc, err := f.SyscallConn()
	if err != nil {
		return copyPart(w, f, off, n)
	}
	var src int
	frc.Control(func(fd uintptr) { src = int(fd) })
	for n > 0 {
		var serr error
		var k int64
		err := rc.Write(func(fd uintptr) bool {
			for {
				k, serr = unix.Splice(src, &off, int(fd), nil, int(min(n, 1<<30)), unix.SPLICE_F_NONBLOCK|unix.SPLICE_F_MOVE)
				if serr != unix.EINTR {
					break
				}
			}
			return serr != unix.EAGAIN // a full pipe: wait until the job reads
		})
		if err != nil {
			return os.ErrClosed // the only error of a pipe's Write: end closed it
		}
		switch {
		case serr == unix.EINVAL || serr == unix.ENOSYS:
			return copyPart(w, f, off, n)
		case serr != nil:
			if errors.Is(serr, unix.EPIPE) {
				return serr
			}
			return &partError{os.NewSyscallError("splice", serr)}
		case k == 0:
			return nil // the file shrank: the job gets what there is
		}
		n -= k
	}
	return nil
}
