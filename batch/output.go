package batch

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"syscall"
)

// printer puts the jobs' output on Stdout and Stderr: each finished job
// whole (stdout, then stderr), at once or in input order (KeepOrder),
// tagged or not; or line by line (LineBuffered). Writes to the two
// streams are under mu, so outputs never mix.
type printer struct {
	r      *batchRun
	mu     sync.Mutex
	stdout *bufio.Writer // for jobs printed as they end
	buf    []byte        // scratch space for copying outputs, under mu
	closed atomic.Bool   // Stdout is a closed pipe

	// KeepOrder: finished jobs, to the inOrder actor. Those waiting for
	// an earlier job with their large output (> smallOutput) in an open
	// file are counted in held: no job starts while maxHeld of them wait,
	// or one slow early job would make poolrun hold a file per later
	// job, up to the descriptor limit.
	results  chan *job
	lbOrder  *lbOrder // KeepOrder with LineBuffered; nil otherwise
	held     atomic.Int64
	maxHeld  int64
	heldFree chan struct{} // a held job was printed
}

// defaultMaxHeld bounds the KeepOrder jobs waiting with their output in
// an open file (two descriptors at most each), unless the descriptor
// limit calls for fewer (fitFiles).
const defaultMaxHeld = 32

func newPrinter(spec *Spec, r *batchRun, maxHeld int) *printer {
	p := &printer{r: r, stdout: bufio.NewWriterSize(spec.Stdout, 64<<10), buf: make([]byte, 64<<10), maxHeld: int64(maxHeld)}
	if spec.KeepOrder {
		// A finished job waits here with its capture files open, if
		// any: fitFiles counts two descriptors a slot for them.
		p.results = make(chan *job, r.sched.limit)
		p.heldFree = make(chan struct{}, 1)
		if spec.Output == LineBuffered {
			p.lbOrder = &lbOrder{head: 1, pending: map[int][]lbChunk{}}
		}
	}
	return p
}

// hasRoom reports whether a job may start: KeepOrder holds fewer than
// maxHeld large outputs.
func (p *printer) hasRoom() bool { return p.held.Load() < p.maxHeld }

// waitRoom waits until a job may start; false if ctx ended first.
func (p *printer) waitRoom(ctx context.Context) bool {
	for !p.hasRoom() {
		select {
		case <-p.heldFree:
		case <-ctx.Done():
			return false
		}
	}
	return true
}

// finish prints a finished job: at once, or with KeepOrder through the
// inOrder actor.
func (r *batchRun) finish(j *job) {
	p := r.out
	if r.spec.KeepOrder {
		p.results <- j
		return
	}
	p.mu.Lock()
	p.emit(j, p.stdout)
	p.flush(p.stdout)
	p.mu.Unlock()
}

// endJobs is called once no job will finish any more.
func (p *printer) endJobs() {
	if p.results != nil {
		close(p.results)
	}
}

// inOrder is the KeepOrder actor: it prints each finished job in input
// order. It flushes whenever no other finished job is waiting, so output
// is both batched under load and prompt when jobs are slow.
func (p *printer) inOrder(r *batchRun) {
	out := bufio.NewWriterSize(r.spec.Stdout, 64<<10)
	pending := map[int]*job{}
	next := 1
	for j := range p.results {
		p.mu.Lock()
		if j.seq != next {
			j.stdout.load()
			j.stderr.load()
			pending[j.seq] = j
			if j.stdout.f != nil || j.stderr.f != nil {
				p.held.Add(1)
			}
		} else {
			p.lbOrder.promote(j.seq)
			p.emit(j, out)
			for next++; pending[next] != nil; next++ {
				q := pending[next]
				if q.stdout.f != nil || q.stderr.f != nil {
					p.held.Add(-1)
					select {
					case p.heldFree <- struct{}{}:
					default:
					}
				}
				p.lbOrder.promote(q.seq)
				p.emit(q, out)
				delete(pending, next)
			}
		}
		p.lbOrder.promote(next)
		if len(p.results) == 0 {
			p.flush(out)
		}
		p.mu.Unlock()
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	// Stopped early (ctx, Halt): print what finished, in order.
	for len(pending) > 0 {
		if j := pending[next]; j != nil {
			p.lbOrder.promote(j.seq)
			p.emit(j, out)
			delete(pending, next)
		}
		next++
	}
	p.flush(out)
}

// emit prints one finished job and records it, under mu.
func (p *printer) emit(j *job, out *bufio.Writer) {
	r := p.r
	switch {
	case j.skip:
		j.stdout.discard()
		j.stderr.discard()
		return
	case j.dry:
		// As GNU parallel: tagged with --tag, and on stderr too with -t.
		out.Write(p.tag(j))
		out.WriteString(j.shown)
		out.WriteByte('\n')
		if r.spec.Verbose {
			p.flush(out)
			fmt.Fprintf(r.spec.Stderr, "%s\n", j.shown)
		}
		return
	}
	switch {
	case r.rec.results != nil:
		// GNU parallel prints nothing of a job whose output it saves.
		if err := r.rec.record(j, r.cmd); err != nil {
			r.fail(err)
		}
		p.logJob(j, out)
		j.stdout.discard()
		j.stderr.discard()
		return
	case r.spec.Files:
		p.logJob(j, out)
		j.stderr.discard()
		j.stdout.discard()
		if j.file == "" {
			return // not saved: the batch is failing
		}
		var w io.Writer = out
		if tag := p.tag(j); tag != nil {
			w = &tagWriter{w: out, tag: tag}
		}
		if _, err := io.WriteString(w, j.file+"\n"); err != nil {
			p.writeFailed(err)
		}
		return
	}
	var w io.Writer = out
	tag := p.tag(j)
	if tag != nil {
		w = &tagWriter{w: out, tag: tag}
	}
	if r.spec.Echo {
		io.WriteString(w, r.cmd.line(j.argv)+"\n")
	}
	if err := j.stdout.writeTo(w, p.buf); err != nil {
		p.writeFailed(err)
	}
	if j.stderr.size > 0 || len(j.stderr.data) > 0 {
		p.flush(out) // its stdout first, then its stderr
		var ew io.Writer = r.spec.Stderr
		if tag != nil {
			ew = &tagWriter{w: ew, tag: tag}
		}
		j.stderr.writeTo(ew, p.buf)
	} else {
		j.stderr.discard()
	}
	p.logJob(j, out)
}

// logJob writes the job's joblog line; a joblog on stdout ("-") comes
// after the job's output, which out holds until then.
func (p *printer) logJob(j *job, out *bufio.Writer) {
	if jl := p.r.rec.jl; jl != nil && jl.stdout {
		p.flush(out)
	}
	if err := p.r.rec.log(j, p.r.cmd); err != nil {
		p.r.fail(err)
	}
}

func (p *printer) flush(out *bufio.Writer) {
	if err := out.Flush(); err != nil {
		p.writeFailed(err)
	}
}

func (p *printer) tag(j *job) []byte {
	if t := p.r.tagString; t != nil {
		return append(t.render(nil, p.r.counts.vars(j.args, j.seq, j.slot, false), false), '\t')
	}
	if !p.r.spec.Tag {
		return nil
	}
	return []byte(j.input + "\t") // GNU parallel's: the arguments, space-separated, and a TAB
}

// say prints a message on Stderr, under mu: never inside another job's
// output.
func (p *printer) say(format string, args ...any) {
	p.mu.Lock()
	fmt.Fprintf(p.r.spec.Stderr, format, args...)
	p.mu.Unlock()
}

// jobError prints why a job could not start, in its stderr.
func (p *printer) jobError(j *job, err error) {
	msg := fmt.Sprintf("poolrun: job %d: %v\n", j.seq, err)
	if j.stderr.f != nil {
		j.stderr.f.WriteString(msg)
		return
	}
	p.mu.Lock()
	io.WriteString(p.r.spec.Stderr, msg)
	p.mu.Unlock()
}

// writeFailed handles an error writing Stdout: a closed pipe (poolrun ...
// | head) stops the batch cleanly, every job's group stopped, and Run
// returns ErrOutputClosed; any other error (a full disk) starts no more
// jobs and is what Run returns.
func (p *printer) writeFailed(err error) {
	if !errors.Is(err, syscall.EPIPE) {
		p.r.fail(&WriteError{Err: err})
		return
	}
	if p.closed.Swap(true) {
		return
	}
	p.r.log.Debug("stdout is a closed pipe: stopping")
	p.r.stopDispatch()
	go p.r.procs.stopAll()
}

// lineWriters are a LineBuffered job's stdout and stderr.
func (p *printer) lineWriters(j *job) (*lineWriter, *lineWriter) {
	tag := p.tag(j)
	return &lineWriter{mu: &p.mu, w: p.r.spec.Stdout, tag: tag, fail: p.writeFailed, order: p.lbOrder, seq: j.seq},
		&lineWriter{mu: &p.mu, w: p.r.spec.Stderr, tag: tag, order: p.lbOrder, seq: j.seq}
}

// lbOrder is KeepOrder with LineBuffered (GNU parallel's -k --lb): the
// lines of the earliest job not yet printed whole, the head, are printed
// as they come; the other jobs' lines wait in memory until their job is
// the head, and are then printed at once, stdout and stderr in the order
// they were written. Under the printer's lock.
type lbOrder struct {
	head    int
	pending map[int][]lbChunk
}

// lbChunk is whole lines a job wrote while it was not the head.
type lbChunk struct {
	l *lineWriter
	b []byte
}

// promote makes seq the head: what it wrote so far is printed. o may be
// nil (not -k --lb).
func (o *lbOrder) promote(seq int) {
	if o == nil || o.head == seq {
		return
	}
	o.head = seq
	chunks := o.pending[seq]
	delete(o.pending, seq)
	for _, c := range chunks {
		c.l.writeLocked(c.b)
	}
}

// tagWriter prefixes each line with a tag (Tag).
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

// lineWriter is a job's stdout or stderr with LineBuffered: it writes
// whole lines as they come, under a lock shared by every job, so lines
// of different jobs never mix.
type lineWriter struct {
	mu    *sync.Mutex
	w     io.Writer
	tag   []byte
	rest  []byte
	fail  func(error) // a write error on w (stdout: writeFailed); nil: ignored
	order *lbOrder    // -k --lb: lines wait while the job is not the head
	seq   int
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
	if o := l.order; o != nil && o.head != l.seq {
		o.pending[l.seq] = append(o.pending[l.seq], lbChunk{l: l, b: append([]byte(nil), p...)})
		l.mu.Unlock()
		return
	}
	l.writeLocked(p)
	l.mu.Unlock()
}

// writeLocked prints p, under mu.
func (l *lineWriter) writeLocked(p []byte) {
	var err error
	if l.tag == nil {
		_, err = l.w.Write(p)
	} else {
		tw := &tagWriter{w: l.w, tag: l.tag}
		_, err = tw.Write(p)
	}
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
