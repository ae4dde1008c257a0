package main

import (
	"bufio"
	"bytes"
	"errors"
	"io"
	"os"
	"sync"
	"syscall"
)

// output is the output actor of -k: it prints each finished job's output
// whole (stdout, then stderr) in input order, and writes the joblog. It
// flushes whenever no other finished job is waiting, so output is both
// batched under load and prompt when jobs are slow. (Without -k, each job
// is printed by its worker under outMu as soon as it ends: one hop less.)
func (r *runner) output() {
	out := bufio.NewWriterSize(os.Stdout, 64<<10)
	buf := make([]byte, 64<<10)
	pending := map[int]*job{}
	next := 1
	for j := range r.results {
		r.outMu.Lock()
		if !r.o.keepOrder {
			r.emit(j, out, buf)
		} else if j.seq != next {
			j.stdout.load()
			j.stderr.load()
			pending[j.seq] = j
			if j.stdout.f != nil || j.stderr.f != nil {
				r.heldFiles.Add(1)
			}
		} else {
			r.emit(j, out, buf)
			for next++; pending[next] != nil; next++ {
				p := pending[next]
				if p.stdout.f != nil || p.stderr.f != nil {
					r.heldFiles.Add(-1)
					select {
					case r.heldFree <- struct{}{}:
					default:
					}
				}
				r.emit(p, out, buf)
				delete(pending, next)
			}
		}
		if len(r.results) == 0 {
			if err := out.Flush(); err != nil {
				r.writeFailed(err)
			}
		}
		r.outMu.Unlock()
	}
	r.outMu.Lock()
	defer r.outMu.Unlock()
	// Stopped early (a signal, --halt): print what finished, in order.
	for len(pending) > 0 {
		if j := pending[next]; j != nil {
			r.emit(j, out, buf)
			delete(pending, next)
		}
		next++
	}
	out.Flush()
}

// emit prints one finished job and logs it.
func (r *runner) emit(j *job, out *bufio.Writer, buf []byte) {
	switch {
	case j.skip:
		j.stdout.discard()
		j.stderr.discard()
		return
	case j.dry:
		out.WriteString(r.cmd.line(j.argv))
		out.WriteByte('\n')
		return
	}
	var w io.Writer = out
	if tag := r.tag(j); tag != nil {
		w = &tagWriter{w: out, tag: tag}
	}
	if err := j.stdout.writeTo(w, buf); err != nil {
		r.writeFailed(err)
	}
	if j.stderr.size > 0 || len(j.stderr.data) > 0 {
		if err := out.Flush(); err != nil { // its stdout first, then its stderr
			r.writeFailed(err)
		}
		var ew io.Writer = os.Stderr
		if tag := r.tag(j); tag != nil {
			ew = &tagWriter{w: os.Stderr, tag: tag}
		}
		j.stderr.writeTo(ew, buf)
	} else {
		j.stderr.discard()
	}
	if r.jl != nil {
		if err := r.jl.write(j.seq, j.start, j.dur, j.stdout.size+j.stderr.size, j.exit, j.sig, r.cmd.line(j.argv)); err != nil {
			r.log.Error("writing the joblog", "error", err)
		}
	}
}

// writeFailed handles an error writing poolrun's stdout: a closed pipe
// (poolrun ... | head) stops the run cleanly, every job's group killed and
// the cap removed, with exit status 141 like a process killed by SIGPIPE.
func (r *runner) writeFailed(err error) {
	if !errors.Is(err, syscall.EPIPE) {
		r.log.Error("writing output", "error", err)
		return
	}
	if r.brokenPipe.Swap(true) {
		return
	}
	r.log.Debug("stdout is a closed pipe: stopping")
	r.stopDispatch()
	go r.stopAll()
}

// tagWriter prefixes each line with a tag (--tag).
type tagWriter struct {
	w   io.Writer
	tag []byte
	mid bool // within a line
}

func (t *tagWriter) Write(p []byte) (int, error) {
	n := len(p)
	for len(p) > 0 {
		if !t.mid {
			if _, err := t.w.Write(t.tag); err != nil {
				return 0, err
			}
			t.mid = true
		}
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			_, err := t.w.Write(p)
			return n, err
		}
		if _, err := t.w.Write(p[:i+1]); err != nil {
			return 0, err
		}
		p = p[i+1:]
		t.mid = false
	}
	return n, nil
}

// lineWriter is a job's stdout or stderr with --line-buffer: it writes
// whole lines as they come, under a lock shared by every job, so lines
// of different jobs never mix.
type lineWriter struct {
	mu   *sync.Mutex
	w    *os.File
	tag  []byte
	rest []byte
	fail func(error) // a write error on w (stdout: writeFailed); nil: ignored
}

func (l *lineWriter) Write(p []byte) (int, error) {
	l.rest = append(l.rest, p...)
	i := bytes.LastIndexByte(l.rest, '\n')
	if i < 0 && len(l.rest) < 1<<20 {
		return len(p), nil
	}
	if i < 0 {
		i = len(l.rest) - 1 // a 1 MiB line: print it in pieces
	}
	l.write(l.rest[:i+1])
	l.rest = append(l.rest[:0], l.rest[i+1:]...)
	return len(p), nil
}

func (l *lineWriter) write(p []byte) {
	l.mu.Lock()
	var err error
	if l.tag == nil {
		_, err = l.w.Write(p)
	} else {
		tw := &tagWriter{w: l.w, tag: l.tag}
		_, err = tw.Write(p)
	}
	l.mu.Unlock()
	if err != nil && l.fail != nil {
		l.fail(err)
	}
}

// flush prints what is left (a last line without a newline).
func (l *lineWriter) flush() {
	if len(l.rest) > 0 {
		l.write(l.rest)
		l.rest = l.rest[:0]
	}
}
