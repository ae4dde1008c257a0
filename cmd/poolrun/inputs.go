package main

import (
	"io"
	"math/rand/v2"
	"regexp"
	"strconv"
	"strings"

	"github.com/poolrun/poolrun/batch"
)

// sourceFunc is a batch.Source made of a function.
type sourceFunc func() ([]string, error)

func (f sourceFunc) Next() ([]string, error) { return f() }

// trimmed is src with each argument's blanks trimmed as --trim says
// (l: at the left, r: at the right, lr or rl: both), as GNU parallel
// trims spaces and TABs.
func trimmed(src batch.Source, how string) batch.Source {
	const blanks = " \t"
	var trim func(string) string
	switch how {
	case "l":
		trim = func(s string) string { return strings.TrimLeft(s, blanks) }
	case "r":
		trim = func(s string) string { return strings.TrimRight(s, blanks) }
	case "lr", "rl":
		trim = func(s string) string { return strings.Trim(s, blanks) }
	default:
		return src
	}
	return sourceFunc(func() ([]string, error) {
		rec, err := src.Next()
		for i := range rec {
			rec[i] = trim(rec[i])
		}
		return rec, err
	})
}

// shuffled is src's inputs, all read first, in a random order (--shuf).
func shuffled(src batch.Source) batch.Source {
	var all [][]string
	read := false
	return sourceFunc(func() ([]string, error) {
		if !read {
			read = true
			for {
				rec, err := src.Next()
				if err == io.EOF {
					break
				}
				if err != nil {
					return nil, err
				}
				all = append(all, rec)
			}
			rand.Shuffle(len(all), func(i, j int) { all[i], all[j] = all[j], all[i] })
		}
		if len(all) == 0 {
			return nil, io.EOF
		}
		rec := all[0]
		all = all[1:]
		return rec, nil
	})
}

// readHeader takes the first n records of src as its header (--header):
// the first names its columns. A source with fewer records than n has an
// empty header: no names, no inputs.
func readHeader(src batch.Source, n int) ([]string, error) {
	var names []string
	for i := range n {
		rec, err := src.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, err
		}
		if i == 0 {
			names = rec
		}
	}
	return names, nil
}

// headerRefs matches a replacement string that may name a column: {NAME}
// with one of the modifiers . / // /. after the name.
var headerRefs = regexp.MustCompile(`\{([^{}]+?)(\.|/|//|/\.)?\}`)

// renameColumns rewrites {NAME} (and {NAME.} {NAME/} {NAME//} {NAME/.})
// in s to the column's position, {N}, for the columns names names. Names
// that are numbers, or replacement strings of their own, are left alone,
// as are names no column has.
func renameColumns(s string, names []string) string {
	if len(names) == 0 || !strings.Contains(s, "{") {
		return s
	}
	pos := map[string]int{}
	for i, n := range names {
		if _, err := strconv.Atoi(n); err == nil || n == "" {
			continue
		}
		if _, seen := pos[n]; !seen {
			pos[n] = i + 1
		}
	}
	return headerRefs.ReplaceAllStringFunc(s, func(m string) string {
		sub := headerRefs.FindStringSubmatch(m)
		name, mod := sub[1], sub[2]
		if i, ok := pos[name]; ok {
			return "{" + strconv.Itoa(i) + mod + "}"
		}
		if i, ok := pos[name+mod]; ok { // a name that ends in '.' or '/'
			return "{" + strconv.Itoa(i) + "}"
		}
		return m
	})
}

// readyTest is the test each job waits for before it starts: the load
// average at most --load, at least --memfree of memory available. nil if
// neither is set. A probe that fails lets the job start: the limits are
// hints about the machine, not conditions of the batch.
func (o *options) readyTest() func() bool {
	if o.maxLoad == 0 && o.memFree == 0 {
		return nil
	}
	return func() bool {
		if o.maxLoad > 0 {
			if l, err := loadAverage(); err == nil && l > o.maxLoad {
				return false
			}
		}
		if o.memFree > 0 {
			if m, err := memAvailable(); err == nil && m < o.memFree {
				return false
			}
		}
		return true
	}
}

// withoutArgs is a job per input of src, each without arguments (-N 0:
// the inputs only count the jobs).
func withoutArgs(src batch.Source) batch.Source {
	return sourceFunc(func() ([]string, error) {
		if _, err := src.Next(); err != nil {
			return nil, err
		}
		return []string{}, nil
	})
}
