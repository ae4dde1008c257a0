package batch

import (
	"errors"
	"fmt"
	"io"
	"os"
	"syscall"
)

// blockSource yields a pipe batch's blocks, one job's at a time.
type blockSource interface {
	next() (*block, error)
}

// pipeSource is the blocks of a pipe batch: the parts of Pipe.Files, or
// the blocks of Stdin (without reading them when Stdin is a regular file
// and the mode allows it). quit stops a reader waiting for memory.
func (r *batchRun) pipeSource(quit <-chan struct{}) blockSource {
	rules := r.pipe
	warn := func(msg string) { r.out.say("%s", msg) }
	if r.parts != nil {
		return r.parts
	}
	in := r.spec.Stdin
	if in == nil {
		in = eofReader{}
	}
	if f, ok := in.(*os.File); ok && rules.canSplitFile() {
		if s := newFileSplitter("stdin", f, rules, warn); s != nil {
			return s
		}
	}
	// A few chunks a slot: one being written to each running job, one
	// queued for each slot, and the one being read into.
	pool := newChunkPool(2*r.sched.limit+2, quit)
	return newSplitter("stdin", in, rules, pool, warn)
}

// feedBlocks streams the batch's blocks to the dispatcher, as feed does
// inputs.
func (s *scheduler) feedBlocks(r *batchRun) *feed {
	f := &feed{ch: make(chan item, inputQueue), quit: make(chan struct{})}
	s.in = f
	go f.readBlocks(r.pipeSource(f.quit))
	return f
}

type eofReader struct{}

func (eofReader) Read([]byte) (int, error) { return 0, io.EOF }

// readBlocks is feed.read for a pipe batch: one item per block.
func (f *feed) readBlocks(src blockSource) {
	defer close(f.ch)
	defer f.eof.Store(true)
	for seq := 1; ; seq++ {
		b, err := src.next()
		if err == io.EOF {
			return
		}
		if err != nil {
			if !errors.Is(err, errStopped) {
				f.err = err
			}
			return
		}
		f.count.Add(1)
		select {
		case f.ch <- item{seq: seq, args: []string{""}, blk: b}:
		case <-f.quit:
			b.release()
			return
		}
	}
}

// stdinFeed gives a job its block on a fresh pipe: the read end is the
// job's stdin; once the job has started, a goroutine writes the block
// into the write end and closes it. A job that closes its stdin early
// (head -1) just ends the writing: EPIPE is no error.
type stdinFeed struct {
	r, w    *os.File
	done    chan error
	started bool
}

func newStdinFeed() (*stdinFeed, error) {
	pr, pw, err := os.Pipe()
	if err != nil {
		return nil, err
	}
	growPipe(pw)
	return &stdinFeed{r: pr, w: pw, done: make(chan error, 1)}, nil
}

// begin starts writing b, once the job holds the read end.
func (s *stdinFeed) begin(b *block) {
	s.r.Close()
	s.started = true
	go func() {
		err := writeBlock(s.w, b)
		s.w.Close()
		if errors.Is(err, syscall.EPIPE) || errors.Is(err, os.ErrClosed) {
			err = nil
		}
		s.done <- err
	}()
}

// end is called once the job has ended. It closes the write end, in
// case the job did not read it all and left a process behind that keeps
// the read end open (the writer would wait for it), and waits for the
// writer, whose error it returns: only a failure to read the block's
// part of its file.
func (s *stdinFeed) end() error {
	s.w.Close()
	if !s.started {
		s.r.Close()
		return nil
	}
	return <-s.done
}

// writeBlock writes the block's header and data to w.
func writeBlock(w *os.File, b *block) error {
	if len(b.header) > 0 {
		if _, err := w.Write(b.header); err != nil {
			return err
		}
	}
	if len(b.data) > 0 {
		if _, err := w.Write(b.data); err != nil {
			return err
		}
	}
	if b.file != nil && b.n > 0 {
		return writePart(w, b.file, b.off, b.n)
	}
	return nil
}

// copyPart copies n bytes of f from off to w through memory: the
// portable way, and the fallback where splice(2) does not apply.
func copyPart(w io.Writer, f *os.File, off, n int64) error {
	buf := make([]byte, min(n, 256<<10))
	for n > 0 {
		k, err := f.ReadAt(buf[:min(n, int64(len(buf)))], off)
		if k > 0 {
			if _, werr := w.Write(buf[:k]); werr != nil {
				return werr
			}
			off += int64(k)
			n -= int64(k)
		}
		if err != nil {
			if err == io.EOF {
				return nil // the file shrank: the job gets what there is
			}
			return &partError{err}
		}
	}
	return nil
}

// partError is a failure to read a block's part of its file.
type partError struct{ err error }

func (e *partError) Error() string { return "reading the block: " + e.err.Error() }
func (e *partError) Unwrap() error { return e.err }

// catFile writes the block to a new temporary file for --cat and returns
// its name; the job's end removes it.
func catFile(b *block) (string, error) {
	f, err := os.CreateTemp("", "poolrun-cat-*")
	if err != nil {
		return "", fmt.Errorf("--cat: %w", err)
	}
	err = writeBlock(f, b)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(f.Name())
		return "", &WriteError{Path: f.Name(), Err: unwrapPath(err)}
	}
	return f.Name(), nil
}
