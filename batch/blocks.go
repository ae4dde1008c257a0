package batch

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"sync/atomic"
)

// block is one job's input in a pipe batch: the header, then its data —
// bytes of a chunk of the input read into memory, or a part of a
// seekable file (spliced into the job's stdin without passing through
// poolrun's memory, where the system can).
type block struct {
	header []byte
	data   []byte
	ch     *chunk // data's buffer; nil if data is the block's own
	file   *os.File
	off, n int64 // the file's part: n bytes from off
}

// size is the bytes the job is given (the joblog's Send).
func (b *block) size() int64 { return int64(len(b.header)) + int64(len(b.data)) + b.n }

// release gives the block's buffer back once no job needs it.
func (b *block) release() {
	if b.ch != nil {
		b.ch.unref()
		b.ch = nil
	}
	b.data = nil
}

// chunk is a buffer of input, shared by the blocks cut from it and the
// reader while it still reads into it; it goes back to its pool when the
// last of them lets go.
type chunk struct {
	data []byte
	refs atomic.Int32
	pool *chunkPool
}

func (c *chunk) ref() { c.refs.Add(1) }

func (c *chunk) unref() {
	if c.refs.Add(-1) == 0 {
		c.pool.put(c)
	}
}

// chunkPool bounds the memory of a pipe batch: at most max chunks exist,
// and the reader waits for one to come back before it reads more. max is
// a few per slot: one being written to each running job, one waiting for
// each slot, and the one being read.
type chunkPool struct {
	free chan *chunk
	made int // chunks made so far; only the reader touches it
	quit <-chan struct{}
}

func newChunkPool(max int, quit <-chan struct{}) *chunkPool {
	return &chunkPool{free: make(chan *chunk, max), quit: quit}
}

// get returns a chunk of at least size bytes, held once (by the caller);
// false if quit closed while it waited.
func (p *chunkPool) get(size int) (*chunk, bool) {
	var c *chunk
	select {
	case c = <-p.free:
	default:
		if p.made < cap(p.free) {
			p.made++
			c = &chunk{pool: p}
			break
		}
		select {
		case c = <-p.free:
		case <-p.quit:
			return nil, false
		}
	}
	if cap(c.data) < size {
		c.data = make([]byte, size)
	}
	c.data = c.data[:cap(c.data)]
	c.refs.Store(1)
	return c, true
}

// put takes a chunk back; it never blocks (free holds every chunk made).
func (p *chunkPool) put(c *chunk) { p.free <- c }

// splitter cuts a stream into blocks the way GNU parallel's spreadstdin
// does: each round reads until the window (what is left of the last
// round, then what was read) is a whole multiple of the block size or
// the input ends, then cuts blocks off its front by the rules of the
// mode; a round that cuts nothing makes the block size 1.3 times larger.
// At the end of the input, what is left is the last block.
type splitter struct {
	r     io.Reader
	name  string
	rules *pipeRules
	bs    int64
	pool  *chunkPool
	warn  func(string)

	cur      *chunk // the window's buffer, held by the splitter
	off, end int    // the window: cur.data[off:end]
	header   []byte
	srcEOF   bool // r returned io.EOF: every later read returns 0 bytes
	eof      bool // the last read of a round returned 0 bytes (parallel's $eof)
	done     bool
	started  bool // the header was looked for
	garbage  bool // Regexp with Records: the first record was checked
	anything bool // a block was cut this round
	out      []*block
	err      error
}

func newSplitter(name string, r io.Reader, rules *pipeRules, pool *chunkPool, warn func(string)) *splitter {
	return &splitter{r: r, name: name, rules: rules, bs: rules.bs, pool: pool, warn: warn}
}

// next returns the next block; io.EOF after the last, or what stopped
// the reading (then no block is made of a partial round).
func (s *splitter) next() (*block, error) {
	for len(s.out) == 0 {
		if s.err != nil {
			return nil, s.err
		}
		if s.done {
			return nil, io.EOF
		}
		s.round()
	}
	b := s.out[0]
	s.out[0] = nil
	s.out = s.out[1:]
	return b, nil
}

// round is one turn of parallel's read loop.
func (s *splitter) round() {
	if !s.started {
		s.started = true
		if s.rules.header != nil && !s.readHeader() {
			return
		}
	}
	s.anything = false
	if !s.readBlock() {
		return
	}
	p := s.rules.p
	switch {
	case p.Lines > 0 && p.Records == 0:
		s.passLines()
	case p.Regexp && p.Records > 0:
		s.passRegexps()
	case p.Regexp:
		if !s.eof {
			s.passRegexp()
		}
	case p.Records > 0:
		s.passN()
	default:
		if !s.eof {
			s.pass()
		}
	}
	if s.eof {
		s.emit(s.end - s.off)
		s.done = true
		s.cur.unref()
		s.cur = nil
		return
	}
	if !s.anything && s.bs < maxBlockSize {
		old := s.bs
		s.bs = growBlock(s.bs)
		s.warn(blockWarning(old, s.bs))
	}
}

// window is what has been read and not yet cut into blocks.
func (s *splitter) window() []byte { return s.cur.data[s.off:s.end] }

// room makes the window's buffer hold at least n bytes from its start:
// the window moves to the front of its chunk, or to a larger chunk, the
// blocks cut from the old one keeping it until their jobs are done.
func (s *splitter) room(n int) bool {
	if s.cur != nil && s.off+n <= len(s.cur.data) {
		return true
	}
	w := 0
	if s.cur != nil {
		w = s.end - s.off
		if s.cur.refs.Load() == 1 && n <= len(s.cur.data) {
			copy(s.cur.data, s.window())
			s.off, s.end = 0, w
			return true
		}
	}
	c, ok := s.pool.get(n)
	if !ok {
		s.err = errStopped
		return false
	}
	if s.cur != nil {
		copy(c.data, s.window())
		s.cur.unref()
	}
	s.cur, s.off, s.end = c, 0, w
	return true
}

// errStopped ends a splitter whose batch is stopping.
var errStopped = fmt.Errorf("batch: stopped")

// read reads once into the window, up to n more bytes: the bytes read,
// 0 at the end of the input. An error other than the end is kept in err.
func (s *splitter) read(n int) int {
	for !s.srcEOF {
		k, err := s.r.Read(s.cur.data[s.end : s.end+n])
		s.end += k
		if err == io.EOF {
			s.srcEOF = true
		} else if err != nil {
			s.err = fmt.Errorf("reading %s: %w", s.name, err)
			return 0
		}
		if k > 0 {
			return k
		}
	}
	return 0
}

// readBlock tops the window up to the next whole multiple of the block
// size, as parallel's read_block: $eof is set only when a read returns
// nothing, so an input that ends exactly at the top is known to have
// ended one round later.
func (s *splitter) readBlock() bool {
	w := 0
	if s.cur != nil {
		w = s.end - s.off
	}
	want := int(s.bs - int64(w)%s.bs)
	if !s.room(w + want) {
		return false
	}
	k := 0
	for want > 0 {
		if k = s.read(want); k == 0 {
			break
		}
		want -= k
	}
	s.eof = k == 0
	return s.err == nil
}

// readHeader reads until the header expression matches the start of the
// input, block size by block size, as parallel's find_header, and keeps
// what it matched out of the window.
func (s *splitter) readHeader() bool {
	for {
		w := 0
		if s.cur != nil {
			w = s.end - s.off
		}
		if !s.room(w + int(s.bs)) {
			return false
		}
		if s.read(int(s.bs)) == 0 {
			return s.err == nil
		}
		if m := s.rules.header.FindIndex(s.window()); m != nil {
			s.header = append([]byte(nil), s.window()[:m[1]]...)
			s.off += m[1]
			return true
		}
	}
}

// emit cuts the window's first n bytes off as a block; false if n is 0
// (parallel writes no empty block).
func (s *splitter) emit(n int) bool {
	if n <= 0 {
		return false
	}
	b := &block{header: s.header, data: s.cur.data[s.off : s.off+n : s.off+n], ch: s.cur}
	s.cur.ref()
	if s.rules.p.RemoveRecSep {
		own := s.rules.removeRecSep(b.data)
		b.release()
		b.data = own
	}
	s.off += n
	s.out = append(s.out, b)
	s.anything = true
	return true
}

// pass cuts the window at its last RecEnd RecStart (parallel's pass).
func (s *splitter) pass() {
	w := s.window()
	if i := lastIndex(w, s.rules.sep); i >= 0 {
		s.emit(i + len(s.rules.recEnd))
	}
}

// passN cuts blocks of Records records (times Lines) off the window's
// front while it holds that many (parallel's pass_n). As in parallel the
// first record is looked for from the window's second byte: a window
// that starts with RecEnd RecStart does not have an empty record there.
func (s *splitter) passN() {
	n := s.rules.p.Records * max(s.rules.p.Lines, 1)
	for {
		w := s.window()
		i := nindex(w, s.rules.sep, n)
		if i < 0 || len(w) == 0 {
			return
		}
		s.emit(i + len(s.rules.recEnd))
	}
}

// passLines cuts the window after its last whole multiple of Lines lines
// (parallel's pass_n_line_records); nothing if it holds fewer.
func (s *splitter) passLines() {
	w := s.window()
	n := bytes.Count(w, []byte{'\n'})
	last := bytes.LastIndexByte(w, '\n')
	for n%s.rules.p.Lines != 0 {
		n--
		if last-1 < 0 {
			last = -1
			continue
		}
		last = bytes.LastIndexByte(w[:last], '\n')
	}
	s.emit(last + 1)
}

// passRegexp cuts the window after the last RecEnd followed by RecStart,
// as expressions (parallel's pass_regexp).
func (s *splitter) passRegexp() {
	if m := s.rules.cut.FindSubmatchIndex(s.window()); m != nil {
		s.emit(m[3])
	}
}

// passRegexps cuts blocks of Records records off the window's front
// (parallel's pass_n_regexps): a record starts with RecStart and ends at
// the first RecEnd that RecStart follows. The first time, what comes
// before the first RecStart is a block of its own.
func (s *splitter) passRegexps() {
	r := s.rules
	if !s.garbage {
		s.garbage = true
		w := s.window()
		if !r.startRe.Match(w) {
			if e := r.recordEnd(w, 0); e > 0 {
				s.emit(e)
			}
		}
	}
	n := s.rules.p.Records * max(s.rules.p.Lines, 1)
	for {
		w := s.window()
		pos := 0
		for k := 0; k < n && pos >= 0; k++ {
			m := r.startRe.FindIndex(w[pos:])
			if m == nil {
				pos = -1
				break
			}
			pos = r.recordEnd(w, pos+m[1])
		}
		if pos <= 0 || !s.emit(pos) {
			return
		}
	}
}

// recordEnd is where the record whose body starts at from ends: after
// the first RecEnd at or after from that RecStart follows; -1 if none.
func (r *pipeRules) recordEnd(w []byte, from int) int {
	m := r.bound.FindSubmatchIndex(w[from:])
	if m == nil {
		return -1
	}
	return from + m[3]
}

// removeRecSep is a block without the separators where its records meet,
// its first RecStart and its last RecEnd (parallel's --rrs), in a buffer
// of its own.
func (r *pipeRules) removeRecSep(b []byte) []byte {
	if r.p.Regexp {
		b = r.sepRe.ReplaceAll(b, nil)
		if m := r.startRe.FindIndex(b); m != nil {
			b = b[m[1]:]
		}
		if m := r.endRe.FindIndex(b); m != nil {
			b = b[:m[0]]
		}
		return append([]byte(nil), b...)
	}
	out := b
	if len(r.sep) > 0 {
		out = bytes.ReplaceAll(b, r.sep, nil)
	} else {
		out = append([]byte(nil), b...)
	}
	out = bytes.TrimPrefix(out, r.recStart)
	return bytes.TrimSuffix(out, r.recEnd)
}

// lastIndex is Perl's rindex(s, sep): the last sep in s, len(s) for an
// empty sep.
func lastIndex(s, sep []byte) int {
	if len(sep) == 1 {
		return bytes.LastIndexByte(s, sep[0])
	}
	return bytes.LastIndex(s, sep)
}

// indexFrom is Perl's index(s, sep, pos): the first sep at pos or after
// (pos clamped into s), pos for an empty sep.
func indexFrom(s, sep []byte, pos int) int {
	pos = min(max(pos, 0), len(s))
	i := bytes.Index(s[pos:], sep)
	if i < 0 {
		return -1
	}
	return pos + i
}

// nindex is parallel's nindex: where the n-th sep is, the first looked
// for from position 1 and each next one from one past the last; -1 if
// there are fewer.
func nindex(s, sep []byte, n int) int {
	i := 0
	for k := 0; k < n; k++ {
		if i = indexFrom(s, sep, i+1); i < 0 {
			break
		}
	}
	return i
}
