//go:build !linux

package jobserver

import (
	"context"
	"errors"
)

// ErrUnsupported: the jobserver needs Linux (a pipe of one page that
// reports POLLOUT only when empty, and /proc/self/fd to reopen a pipe).
var ErrUnsupported = errors.New("jobserver: not supported on this system (Linux only)")

func newPipe() ([2]int, error)                                   { return [2]int{}, ErrUnsupported }
func reopen(int) (int, error)                                    { return -1, ErrUnsupported }
func openFifo(string) (int, error)                               { return -1, ErrUnsupported }
func checkPipe(int, int) error                                   { return ErrUnsupported }
func closeOnExec(int)                                            {}
func onePage(int) error                                          { return ErrUnsupported }
func queued(int) (int, error)                                    { return 0, ErrUnsupported }
func readByte(int) (byte, bool, error)                           { return 0, false, ErrUnsupported }
func writeByte(int, byte) error                                  { return ErrUnsupported }
func newWaker() (*waker, error)                                  { return nil, ErrUnsupported }
func (*waker) wake()                                             {}
func (*waker) reset()                                            {}
func (*waker) close()                                            {}
func readToken(context.Context, int, *waker) (byte, bool, error) { return 0, false, ErrUnsupported }

type waker struct{}
