package jobserver_test

import (
	"errors"
	"strings"
	"testing"

	"github.com/poolrun/poolrun/jobserver"
)

// What make 4.3 writes (checked on this machine: " -j4
// --jobserver-auth=3,4", "s -j4 --jobserver-auth=3,4" with -s), make
// 4.4 (fifo:PATH, -2,-2 for a recipe it does not take as recursive),
// make 4.1 (--jobserver-fds), and cargo (both words).
func TestParse(t *testing.T) {
	for _, c := range []struct {
		in   string
		want jobserver.Auth
		err  error
	}{
		{"", jobserver.Auth{Style: jobserver.Off}, nil},
		{" -j4 --jobserver-auth=3,4", jobserver.Auth{Style: jobserver.Pipe, R: 3, W: 4, Word: "--jobserver-auth=3,4", Jobs: 4}, nil},
		{"s -j4 --jobserver-auth=3,4", jobserver.Auth{Style: jobserver.Pipe, R: 3, W: 4, Word: "--jobserver-auth=3,4", Jobs: 4}, nil},
		{"ns -j2 --jobserver-auth=5,6", jobserver.Auth{Style: jobserver.Pipe, R: 5, W: 6, Word: "--jobserver-auth=5,6", Jobs: 2, DryRun: true}, nil},
		{" -j8 --jobserver-auth=fifo:/tmp/GMfifo123", jobserver.Auth{Style: jobserver.Fifo, Path: "/tmp/GMfifo123", Word: "--jobserver-auth=fifo:/tmp/GMfifo123", Jobs: 8}, nil},
		{" --jobserver-fds=3,4 -j", jobserver.Auth{Style: jobserver.Pipe, R: 3, W: 4, Word: "--jobserver-fds=3,4"}, nil},
		{"-j --jobserver-fds=3,4 --jobserver-auth=5,6", jobserver.Auth{Style: jobserver.Pipe, R: 5, W: 6, Word: "--jobserver-auth=5,6"}, nil}, // cargo: the last counts
		{" -j4 --jobserver-auth=3,4 -- X=--jobserver-auth=9,9", jobserver.Auth{Style: jobserver.Pipe, R: 3, W: 4, Word: "--jobserver-auth=3,4", Jobs: 4}, nil},
		{" --jobserver-auth=-2,-2", jobserver.Auth{Style: jobserver.Off, Word: "--jobserver-auth=-2,-2"}, jobserver.ErrDisabled},
		{" --jobserver-auth=3", jobserver.Auth{Style: jobserver.Off, Word: "--jobserver-auth=3"}, jobserver.ErrSyntax},
		{" --jobserver-auth=fifo:", jobserver.Auth{Style: jobserver.Off, Word: "--jobserver-auth=fifo:"}, jobserver.ErrSyntax},
		{" --jobserver-auth=a,b", jobserver.Auth{Style: jobserver.Off, Word: "--jobserver-auth=a,b"}, jobserver.ErrSyntax},
	} {
		got, err := jobserver.Parse(c.in)
		if got != c.want || !errors.Is(err, c.err) || (err == nil) != (c.err == nil) {
			t.Errorf("Parse(%q) = %+v, %v; want %+v, %v", c.in, got, err, c.want, c.err)
		}
	}
}

// cargo's jobserver crate takes the first of CARGO_MAKEFLAGS, MAKEFLAGS,
// MFLAGS that is set.
func TestLookup(t *testing.T) {
	a, name, err := jobserver.Lookup([]string{"MAKEFLAGS= --jobserver-auth=3,4", "CARGO_MAKEFLAGS=-j --jobserver-auth=5,6"})
	if err != nil || name != "CARGO_MAKEFLAGS" || a.R != 5 {
		t.Errorf("Lookup: %+v %q %v", a, name, err)
	}
	a, name, err = jobserver.Lookup([]string{"PATH=/bin"})
	if err != nil || name != "" || a.Style != jobserver.Off {
		t.Errorf("Lookup without: %+v %q %v", a, name, err)
	}
}

func TestWithWord(t *testing.T) {
	for _, c := range []struct {
		in, word string
		jobs     int
		want     string
	}{
		{"", "--jobserver-auth=3,4", 2, " -j2 --jobserver-auth=3,4"},
		{"s -j8 --jobserver-auth=7,8", "--jobserver-auth=3,4", 2, "s -j2 --jobserver-auth=3,4"},
		{"k -- X=1", "--jobserver-auth=fifo:/x", 3, "k -j3 --jobserver-auth=fifo:/x -- X=1"},
		{" -j4 --jobserver-auth=3,4", "", 0, " -j4"},
		{"-j --jobserver-fds=3,4 --jobserver-auth=3,4", "--jobserver-auth=5,6", 0, " -j --jobserver-auth=5,6"},
	} {
		if got := jobserver.WithWord(c.in, c.word, c.jobs); got != c.want {
			t.Errorf("WithWord(%q, %q, %d) = %q, want %q", c.in, c.word, c.jobs, got, c.want)
		}
	}
}

func TestParseStyle(t *testing.T) {
	for _, s := range []jobserver.Style{jobserver.Pipe, jobserver.Fifo, jobserver.Off} {
		if got, err := jobserver.ParseStyle(s.String()); got != s || err != nil {
			t.Errorf("ParseStyle(%q) = %v, %v", s, got, err)
		}
	}
	if _, err := jobserver.ParseStyle("sem"); err == nil || !strings.Contains(err.Error(), "want pipe or fifo") {
		t.Errorf("ParseStyle(sem): %v", err)
	}
}

// FuzzParse: any MAKEFLAGS parses without a panic; what it reads back
// from WithWord with the word it found is the same jobserver.
func FuzzParse(f *testing.F) {
	for _, s := range []string{"", " -j4 --jobserver-auth=3,4", "ns -j2 --jobserver-fds=5,6", " --jobserver-auth=fifo:/tmp/x", " --jobserver-auth=-2,-2", "-- --jobserver-auth=1,2", "--jobserver-auth=,", "k -j0"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		a, err := jobserver.Parse(s)
		if err != nil {
			if !errors.Is(err, jobserver.ErrSyntax) && !errors.Is(err, jobserver.ErrDisabled) {
				t.Fatalf("Parse(%q): %v wraps neither ErrSyntax nor ErrDisabled", s, err)
			}
			return
		}
		if a.Style == jobserver.Off {
			return
		}
		b, err := jobserver.Parse(jobserver.WithWord(s, a.Word, 0))
		if err != nil || b.Style != a.Style || b.R != a.R || b.W != a.W || b.Path != a.Path {
			t.Fatalf("Parse(WithWord(%q)) = %+v, %v; want %+v", s, b, err, a)
		}
	})
}
