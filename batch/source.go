package batch

import (
	"bufio"
	"fmt"
	"io"
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
