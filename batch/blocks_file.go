package batch

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
)

// fileSplitter cuts a seekable stdin into the blocks a splitter would
// cut from it, in the default mode (lines, or RecEnd/RecStart as fixed
// strings), without reading the blocks into memory: it reads only the
// bytes it looks for the cut in, backwards from each window's end, and
// each block is a part of the file that is spliced into its job's stdin.
// The windows follow parallel's reads exactly: a read of a regular file
// returns all it asked for unless the file ends.
type fileSplitter struct {
	f     *os.File
	name  string
	rules *pipeRules
	bs    int64
	warn  func(string)

	start, w, size int64 // the window is [start, start+w); the file ends at size
	header         []byte
	started, done  bool
	scratch        []byte
}

// canSplitFile reports whether the rules can be applied without reading
// the blocks: the default mode, by fixed strings.
func (r *pipeRules) canSplitFile() bool {
	p := r.p
	return !p.Regexp && p.Records == 0 && p.Lines == 0 && !p.RemoveRecSep && !p.Cat
}

// newFileSplitter returns a splitter of f from its current offset, or
// nil if f is not a regular file.
func newFileSplitter(name string, f *os.File, rules *pipeRules, warn func(string)) *fileSplitter {
	st, err := f.Stat()
	if err != nil || !st.Mode().IsRegular() {
		return nil
	}
	off, err := f.Seek(0, io.SeekCurrent)
	if err != nil {
		return nil
	}
	return &fileSplitter{f: f, name: name, rules: rules, bs: rules.bs, warn: warn, start: off, size: st.Size()}
}

func (s *fileSplitter) next() (*block, error) {
	if !s.started {
		s.started = true
		if s.rules.header != nil {
			if err := s.readHeader(); err != nil {
				return nil, err
			}
		}
	}
	for !s.done {
		// parallel's read_block: top up to the next multiple of the block
		// size; $eof only if the file ends before.
		target := s.w + (s.bs - s.w%s.bs)
		avail := max(s.size-(s.start+s.w), 0)
		eof := avail < target-s.w
		if eof {
			s.w += avail
		} else {
			s.w = target
		}
		if eof {
			s.done = true
			// Leave stdin's offset at the end, where reading it all would.
			s.f.Seek(s.size, io.SeekStart)
			if b := s.cut(s.w); b != nil {
				return b, nil
			}
			return nil, io.EOF
		}
		i, err := s.lastSep()
		if err != nil {
			return nil, err
		}
		if i >= 0 {
			if b := s.cut(i + int64(len(s.rules.recEnd))); b != nil {
				return b, nil
			}
		}
		if s.bs < maxBlockSize {
			old := s.bs
			s.bs = growBlock(s.bs)
			s.warn(blockWarning(old, s.bs))
		}
	}
	return nil, io.EOF
}

// cut makes the window's first n bytes a block; nil if n is 0.
func (s *fileSplitter) cut(n int64) *block {
	if n <= 0 {
		return nil
	}
	b := &block{header: s.header, file: s.f, off: s.start, n: n}
	s.start += n
	s.w -= n
	return b
}

// lastSep is where the window's last separator starts, relative to the
// window; the window's length for an empty one; -1 if there is none. It
// reads backwards from the end, a little more each time: the last line
// end is usually within the last few bytes.
func (s *fileSplitter) lastSep() (int64, error) {
	sep := s.rules.sep
	if len(sep) == 0 {
		return s.w, nil
	}
	step := int64(4 << 10)
	hi := s.start + s.w
	for hi > s.start {
		lo := max(s.start, hi-step)
		if int64(cap(s.scratch)) < hi-lo {
			s.scratch = make([]byte, hi-lo)
		}
		buf := s.scratch[:hi-lo]
		if _, err := s.f.ReadAt(buf, lo); err != nil {
			return 0, fmt.Errorf("reading %s: %w", s.name, err)
		}
		if i := lastIndex(buf, sep); i >= 0 {
			return lo + int64(i) - s.start, nil
		}
		if lo == s.start {
			break
		}
		hi = lo + int64(len(sep)) - 1 // a separator across lo is found next time
		step = min(step*2, 1<<20)
	}
	return -1, nil
}

// readHeader reads block size by block size until the header matches,
// as parallel's find_header; the window is then what was read after it.
func (s *fileSplitter) readHeader() error {
	h, read, err := findHeader(s.f, s.start, s.size, s.bs, s.rules)
	if err != nil {
		return fmt.Errorf("reading %s: %w", s.name, err)
	}
	s.header = h
	s.start += int64(len(h))
	s.w = read - int64(len(h))
	return nil
}

// findHeader reads f from off, bs bytes at a time, until the header
// expression matches the start; it returns the header ("" if it never
// matched) and how many bytes it read.
func findHeader(f *os.File, off, size, bs int64, r *pipeRules) ([]byte, int64, error) {
	var buf []byte
	for pos := off; pos < size; {
		n := min(bs, size-pos)
		buf = append(buf, make([]byte, n)...)
		if _, err := f.ReadAt(buf[len(buf)-int(n):], pos); err != nil && !errors.Is(err, io.EOF) {
			return nil, 0, err
		}
		pos += n
		if m := r.header.FindIndex(buf); m != nil {
			return buf[:m[1]:m[1]], int64(len(buf)), nil
		}
	}
	return nil, int64(len(buf)), nil
}

// partSplitter cuts seekable files into parts for --pipepart, as
// parallel's find_split_positions: a cut at every block size from the
// last cut, moved on to the next RecEnd RecStart after it; each part
// gets the file's header. The parts are found as they are needed.
type partSplitter struct {
	files  []string
	rules  *pipeRules
	bs     int64
	opened []*os.File

	f       *os.File
	name    string
	size    int64
	last    int64 // the last cut
	pos     int64 // where the next cut is looked for from
	header  []byte
	scratch []byte
}

// openParts opens every file (a missing one is bad input) and sizes the
// parts: a negative block size -N is the total size / jobs / N, plus one.
func openParts(files []string, rules *pipeRules, jobs int) (*partSplitter, error) {
	s := &partSplitter{files: files, rules: rules, bs: rules.bs}
	var total int64
	for _, name := range files {
		f, err := os.Open(name)
		if err != nil {
			s.close()
			return nil, specErr("Pipe", "--pipepart: %s: %v", name, unwrapPath(err))
		}
		s.opened = append(s.opened, f)
		st, err := f.Stat()
		if err != nil {
			s.close()
			return nil, specErr("Pipe", "--pipepart: %s: %v", name, unwrapPath(err))
		}
		m := st.Mode()
		if !m.IsRegular() && (m&os.ModeDevice == 0 || m&os.ModeCharDevice != 0) {
			s.close()
			return nil, specErr("Pipe", "--pipepart only works on seekable files, not streams or pipes: %s is neither a file nor a block device", name)
		}
		size, err := f.Seek(0, io.SeekEnd)
		if err != nil {
			s.close()
			return nil, specErr("Pipe", "--pipepart: %s: %v", name, err)
		}
		total += size
	}
	if s.bs < 0 {
		s.bs = 1 + total/int64(max(jobs, 1))/(-s.bs)
	}
	return s, nil
}

func (s *partSplitter) close() {
	for _, f := range s.opened {
		f.Close()
	}
	s.opened = nil
}

func (s *partSplitter) next() (*block, error) {
	for {
		if s.f == nil {
			if len(s.opened) == 0 || len(s.files) == 0 {
				return nil, io.EOF
			}
			if err := s.open(); err != nil {
				return nil, err
			}
		}
		end, err := s.nextCut()
		if err != nil {
			return nil, err
		}
		if end > s.last {
			b := &block{header: s.header, file: s.f, off: s.last, n: end - s.last}
			s.last = end
			return b, nil
		}
		// This file is done: the next one.
		s.f = nil
		s.files = s.files[1:]
		s.opened = s.opened[1:]
	}
}

// open starts on the next file: its size and header.
func (s *partSplitter) open() error {
	s.f, s.name = s.opened[0], s.files[0]
	size, err := s.f.Seek(0, io.SeekEnd)
	if err != nil {
		return fmt.Errorf("reading %s: %w", s.name, err)
	}
	s.size, s.header, s.last = size, nil, 0
	if s.rules.header != nil {
		h, _, err := findHeader(s.f, 0, size, s.bs, s.rules)
		if err != nil {
			return fmt.Errorf("reading %s: %w", s.name, err)
		}
		s.header = h
		s.last = int64(len(h))
	}
	s.pos = s.last + s.bs
	return nil
}

// nextCut is the end of the part that starts at last: the first cut
// found at or after pos (then pos moves a block past it), else the end
// of the file.
func (s *partSplitter) nextCut() (int64, error) {
	if s.pos >= s.size {
		return s.size, nil
	}
	if len(s.rules.sep) == 0 && !s.rules.p.Regexp {
		at := s.pos // records end anywhere: a cut at every block size
		s.pos += s.bs
		return at, nil
	}
	i, err := s.find(s.pos)
	if err != nil {
		return 0, err
	}
	if i < 0 {
		s.pos = s.size // no separator up to the end: no more cuts
		return s.size, nil
	}
	s.pos = i + s.bs
	return i, nil
}

// find looks for a cut from at, reading 128 KiB at a time as parallel
// does: the first RecEnd RecStart, just after the RecEnd; with Regexp,
// the last one in what was read when one first matched (parallel's
// greedy ^(.*RECEND)RECSTART). -1 if the file ends first.
func (s *partSplitter) find(at int64) (int64, error) {
	const ddBlock = 128 << 10
	buf := s.scratch[:0]
	defer func() { s.scratch = buf[:0] }()
	from := 0
	for pos := at; pos < s.size; {
		n := int(min(ddBlock, s.size-pos))
		buf = append(buf, make([]byte, n)...)
		if _, err := s.f.ReadAt(buf[len(buf)-n:], pos); err != nil && !errors.Is(err, io.EOF) {
			return 0, fmt.Errorf("reading %s: %w", s.name, err)
		}
		pos += int64(n)
		if s.rules.p.Regexp {
			if m := s.rules.partCut.FindSubmatchIndex(buf); m != nil {
				return at + int64(m[3]), nil
			}
			continue
		}
		if i := bytes.Index(buf[from:], s.rules.sep); i >= 0 {
			return at + int64(from+i+len(s.rules.recEnd)), nil
		}
		from = max(0, len(buf)-len(s.rules.sep)+1)
	}
	return -1, nil
}
