package spawn

import (
	"syscall"

	"golang.org/x/sys/unix"
)

// ttyFd is the descriptor of this process's terminal that a Foreground
// child is given: standard input.
const ttyFd = 0

// foregroundTTY reports whether a Foreground child can be given the
// terminal: this process's stdin is its controlling terminal (TIOCGPGRP
// fails for any other descriptor) and this process's group is the
// terminal's foreground group. A process in the background must not take
// the terminal from the job that has it.
func foregroundTTY() bool {
	pgrp, err := unix.IoctlGetInt(ttyFd, unix.TIOCGPGRP)
	return err == nil && pgrp == syscall.Getpgrp()
}

// takeForeground makes this process's group the terminal's foreground
// group again, after a Foreground child exited. This process is then in
// the background, where tcsetpgrp raises SIGTTOU (which stops it) unless
// the signal is blocked or ignored: withoutTTOU sees to it.
func takeForeground() {
	withoutTTOU(func() {
		unix.IoctlSetPointerInt(ttyFd, unix.TIOCSPGRP, syscall.Getpgrp())
	})
}
