package batch

import (
	"io"
	"os"
)

// newTempCapture is an unlinked file in the temporary directory.
func newTempCapture() (*os.File, error) {
	f, err := os.CreateTemp("", "poolrun-out-*")
	if err != nil {
		return nil, err
	}
	os.Remove(f.Name())
	return f, nil
}

// smallOutput is the size up to which a job's output held back by -k is
// copied into memory (and its file closed); larger outputs stay in their
// file until printed.
const smallOutput = 64 << 10

// output is one stream of a finished job: bytes in memory, or a file
// holding them.
type output struct {
	f    *os.File
	data []byte
	size int64
}

// load reads a small file into memory and closes it, so that -k can hold
// many finished jobs without holding their files open.
func (o *output) load() {
	if o.f == nil || o.size > smallOutput {
		return
	}
	if o.size > 0 {
		o.data = make([]byte, o.size)
		n, _ := o.f.ReadAt(o.data, 0)
		o.data = o.data[:n]
	}
	o.f.Close()
	o.f = nil
}

// writeTo copies the output to w, using buf as scratch space, and closes
// its file.
func (o *output) writeTo(w io.Writer, buf []byte) error {
	if o.f == nil {
		_, err := w.Write(o.data)
		return err
	}
	defer func() { o.f.Close(); o.f = nil }()
	var off int64
	for off < o.size {
		n, err := o.f.ReadAt(buf, off)
		if n > 0 {
			if _, werr := w.Write(buf[:n]); werr != nil {
				return werr
			}
			off += int64(n)
		}
		if err != nil {
			break
		}
	}
	return nil
}

// sized records how much the job wrote.
func (o *output) sized() {
	if o.f != nil {
		o.size, _ = o.f.Seek(0, io.SeekEnd)
	}
}

// discard drops the output (of a failed attempt that is retried).
func (o *output) discard() {
	if o.f != nil {
		o.f.Close()
	}
	*o = output{}
}

// capture gives the job fresh anonymous output files. Never a slot's
// reused pair: a process the job left behind outside its process group
// (setsid) may write to its files long after the job ended, and must not
// write into the output of a later job.
func (j *job) capture() error {
	var err error
	if j.stdout.f, err = newCapture("poolrun-stdout"); err != nil {
		return err
	}
	j.stderr.f, err = newCapture("poolrun-stderr")
	return err
}

// detach lets go of a finished job's empty capture files at once; the
// others stay with the job until it is printed (KeepOrder loads small
// ones into memory while they wait).
func (j *job) detach() {
	for _, o := range [2]*output{&j.stdout, &j.stderr} {
		if o.f != nil && o.size == 0 {
			o.f.Close()
			o.f = nil
		}
	}
}

// copyTo writes the whole output to w, leaving it as it is.
func (o *output) copyTo(w io.Writer) error {
	if o.f == nil {
		_, err := w.Write(o.data)
		return err
	}
	_, err := io.Copy(w, io.NewSectionReader(o.f, 0, o.size))
	return err
}
