package batch

import (
	"os"

	"golang.org/x/sys/unix"
)

// newCapture returns an anonymous in-memory file (memfd) for one job's
// stdout or stderr: the job writes to it directly (no pipe, no copying
// goroutine), and poolrun reads it once the job has ended.
func newCapture(name string) (*os.File, error) {
	fd, err := unix.MemfdCreate(name, unix.MFD_CLOEXEC)
	if err != nil {
		return newTempCapture()
	}
	return os.NewFile(uintptr(fd), name), nil
}
