//go:build !linux

package batch

import "os"

// newCapture returns an unlinked temporary file for one job's stdout or
// stderr: the job writes to it directly, poolrun reads it once the job
// has ended.
func newCapture(name string) (*os.File, error) {
	return newTempCapture()
}
