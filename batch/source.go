package batch

import (
	"bufio"
	"fmt"
	"io"
	"regexp"
)

// Source yields a batch's inputs, one job's at a time. Run reads it in a
// goroutine of its own, a few inputs ahead of the jobs, so an endless
// source works and a long one is never held in memory.
type Source interface {
	// Next returns the next job's arguments (one or more), or io.EOF
	// after the last. Any other error stops the batch: no job runs for
	// the input it was reading.
	Next() ([]string, error)
}

// Args is a Source of the given inputs, one job each (poolrun's ::: a b c).
func Args(inputs ...string) Source { return &argSource{rest: inputs} }

type argSource struct{ rest []string }

func (s *argSource) Next() ([]string, error) {
	if len(s.rest) == 0 {
		return nil, io.EOF
	}
	a := s.rest[0]
	s.rest = s.rest[1:]
	return []string{a}, nil
}

// Lines is a Source of r's records, one job each: text up to each delim
// byte ('\n' for lines, 0 for find -print0), without it; a last record
// without delim counts too. name names r in errors.
func Lines(name string, r io.Reader, delim byte) Source {
	return &lineSource{name: name, r: bufio.NewReaderSize(r, 64<<10), delim: delim}
}

type lineSource struct {
	name  string
	r     *bufio.Reader
	delim byte
	done  bool
}

func (s *lineSource) Next() ([]string, error) {
	if s.done {
		return nil, io.EOF
	}
	line, err := s.r.ReadString(s.delim)
	if err != nil && err != io.EOF {
		// A failed read runs nothing: what came before the error in this
		// read may be a partial line.
		s.done = true
		return nil, fmt.Errorf("reading inputs from %s: %w", s.name, err)
	}
	if err == io.EOF {
		s.done = true
		if line == "" {
			return nil, io.EOF
		}
	} else {
		line = line[:len(line)-1]
	}
	return []string{line}, nil
}

// Concat is a Source of each source's inputs in turn.
func Concat(sources ...Source) Source { return &concatSource{rest: sources} }

type concatSource struct{ rest []Source }

func (s *concatSource) Next() ([]string, error) {
	for len(s.rest) > 0 {
		rec, err := s.rest[0].Next()
		if err != io.EOF {
			return rec, err
		}
		s.rest = s.rest[1:]
	}
	return nil, io.EOF
}

// Product is the cartesian product of the sources, in GNU parallel's
// order: the last source varies fastest (::: a b ::: 1 2 gives a 1, a 2,
// b 1, b 2). Each job's arguments are those of one input of each source,
// in turn. The first source is streamed; the others are read whole on the
// first call, since each of their inputs is used many times.
func Product(sources ...Source) Source {
	if len(sources) == 1 {
		return sources[0]
	}
	return &productSource{first: sources[0], rest: sources[1:]}
}

type productSource struct {
	first  Source
	rest   []Source
	tables [][][]string // the inputs of rest, read whole
	cur    []string     // the first source's current input
	idx    []int        // position in each table
	err    error
}

func (s *productSource) Next() ([]string, error) {
	if s.err != nil {
		return nil, s.err
	}
	if s.tables == nil {
		if s.tables, s.err = readTables(s.rest); s.err != nil {
			return nil, s.err
		}
		s.idx = make([]int, len(s.tables))
	}
	if s.cur == nil || s.advance() {
		cur, err := s.first.Next()
		if err != nil {
			s.err = err
			return nil, err
		}
		s.cur = cur
	}
	rec := append([]string(nil), s.cur...)
	for i, t := range s.tables {
		rec = append(rec, t[s.idx[i]]...)
	}
	return rec, nil
}

// advance steps the positions in the tables like an odometer (the last
// fastest) and reports whether they wrapped round: the first source's
// next input is due.
func (s *productSource) advance() bool {
	for i := len(s.idx) - 1; i >= 0; i-- {
		if s.idx[i]++; s.idx[i] < len(s.tables[i]) {
			return false
		}
		s.idx[i] = 0
	}
	return true
}

// Zip pairs the sources' inputs up, one of each per job, and ends with
// the shortest (GNU parallel's :::+ and ::::+).
func Zip(sources ...Source) Source { return &zipSource{srcs: sources} }

type zipSource struct {
	srcs []Source
	done bool
}

func (s *zipSource) Next() ([]string, error) {
	if s.done {
		return nil, io.EOF
	}
	var rec []string
	for _, src := range s.srcs {
		r, err := src.Next()
		if err != nil {
			s.done = true
			return nil, err
		}
		rec = append(rec, r...)
	}
	return rec, nil
}

// Link pairs the sources' inputs up like Zip, but runs as many jobs as
// the longest source has inputs, the shorter ones starting over (GNU
// parallel's --link). Every source is read whole on the first call.
func Link(sources ...Source) Source { return &linkSource{srcs: sources} }

type linkSource struct {
	srcs   []Source
	tables [][][]string
	n, i   int
	err    error
}

func (s *linkSource) Next() ([]string, error) {
	if s.err != nil {
		return nil, s.err
	}
	if s.tables == nil {
		if s.tables, s.err = readTables(s.srcs); s.err != nil {
			return nil, s.err
		}
		for _, t := range s.tables {
			s.n = max(s.n, len(t))
		}
	}
	if s.i >= s.n {
		s.err = io.EOF
		return nil, io.EOF
	}
	var rec []string
	for _, t := range s.tables {
		rec = append(rec, t[s.i%len(t)]...)
	}
	s.i++
	return rec, nil
}

// readTables reads every input of each source; io.EOF if one of them
// has none (then no job has an input of each).
func readTables(srcs []Source) ([][][]string, error) {
	var tables [][][]string
	for _, src := range srcs {
		t, err := readAll(src)
		if err != nil {
			return nil, err
		}
		if len(t) == 0 {
			return nil, io.EOF
		}
		tables = append(tables, t)
	}
	return tables, nil
}

// readAll reads every input of src.
func readAll(src Source) ([][]string, error) {
	var t [][]string
	for {
		r, err := src.Next()
		if err == io.EOF {
			return t, nil
		}
		if err != nil {
			return nil, err
		}
		t = append(t, r)
	}
}

// Group puts n inputs of src into each job (GNU parallel's -n N): their
// arguments one after the other, so {1} {2} ... take them in turn; the
// last job may get fewer.
func Group(src Source, n int) Source {
	if n <= 1 {
		return src
	}
	return &groupSource{src: src, n: n}
}

type groupSource struct {
	src  Source
	n    int
	done bool
}

func (s *groupSource) Next() ([]string, error) {
	if s.done {
		return nil, io.EOF
	}
	var rec []string
	for i := 0; i < s.n; i++ {
		r, err := s.src.Next()
		if err == io.EOF && i > 0 {
			s.done = true
			break
		}
		if err != nil {
			s.done = true
			return nil, err
		}
		rec = append(rec, r...)
	}
	return rec, nil
}

// Columns splits each argument of src's inputs at every match of sep
// (GNU parallel's --colsep): a line "a,b" with sep "," is the job's
// arguments a and b, {1} and {2}.
func Columns(src Source, sep *regexp.Regexp) Source { return &columnSource{src: src, sep: sep} }

type columnSource struct {
	src Source
	sep *regexp.Regexp
}

func (s *columnSource) Next() ([]string, error) {
	r, err := s.src.Next()
	if err != nil {
		return nil, err
	}
	var rec []string
	for _, a := range r {
		rec = append(rec, s.sep.Split(a, -1)...)
	}
	return rec, nil
}
