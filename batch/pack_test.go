package batch

import (
	"context"
	"errors"
	"io"
	"slices"
	"strings"
	"testing"

	"github.com/poolrun/poolrun/internal/leakcheck"
)

// packLines runs echo over inputs with the packing and returns the
// lines printed, in input order.
func packLines(t *testing.T, words []string, p Packing, jobs int, inputs ...string) ([]string, error) {
	t.Helper()
	r := runSpec(t, context.Background(), Spec{Command: words, Inputs: Args(inputs...), Pack: &p, Jobs: jobs, KeepOrder: true})
	return strings.Split(strings.TrimSuffix(r.stdout, "\n"), "\n"), r.err
}

func TestPackFillsLines(t *testing.T) {
	leakcheck.Check(t)
	// "echo aaa bbb ccc" is 16 bytes; "echo aaa bbb ccc ddd" 20: not
	// under 20.
	got, err := packLines(t, []string{"echo"}, Packing{MaxChars: 20}, 1, "aaa", "bbb", "ccc", "ddd", "eee", "fff")
	if err != nil || !slices.Equal(got, []string{"aaa bbb ccc", "ddd eee fff"}) {
		t.Errorf("%q, %v", got, err)
	}
	got, _ = packLines(t, []string{"echo"}, Packing{MaxChars: 21}, 1, "aaa", "bbb", "ccc", "ddd", "eee", "fff")
	if !slices.Equal(got, []string{"aaa bbb ccc ddd", "eee fff"}) {
		t.Errorf("-s 21: %q", got)
	}
	got, _ = packLines(t, []string{"echo"}, Packing{MaxInputs: 2}, 1, "a", "b", "c")
	if !slices.Equal(got, []string{"a b", "c"}) {
		t.Errorf("2 inputs a job: %q", got)
	}
}

// Quoting counts: the size is the shell line's, each value quoted.
func TestPackCountsQuotes(t *testing.T) {
	leakcheck.Check(t)
	got, _ := packLines(t, []string{"echo"}, Packing{MaxChars: 21}, 1, "a b", "c d", "e f", "g h")
	if !slices.Equal(got, []string{"a b c d", "e f g h"}) {
		t.Errorf("%q", got)
	}
}

// Spread deals the last line's inputs over the slots: ceil(n/slots) each.
func TestPackSpreads(t *testing.T) {
	leakcheck.Check(t)
	for _, c := range []struct {
		n, jobs int
		want    []int
	}{
		{6, 4, []int{2, 2, 2}}, {5, 4, []int{2, 2, 1}}, {10, 4, []int{3, 3, 3, 1}}, {7, 3, []int{3, 3, 1}}, {3, 1, []int{3}},
	} {
		var in []string
		for i := range c.n {
			in = append(in, string(rune('a'+i)))
		}
		got, err := packLines(t, []string{"echo"}, Packing{Spread: true}, c.jobs, in...)
		if err != nil {
			t.Fatal(err)
		}
		var sizes []int
		for _, l := range got {
			sizes = append(sizes, len(strings.Fields(l)))
		}
		if !slices.Equal(sizes, c.want) {
			t.Errorf("%d inputs over %d slots: %v, want %v", c.n, c.jobs, sizes, c.want)
		}
	}
}

// Context repeats a word with {} per argument; without it {} is them all
// joined, the text around it going to the first and the last.
func TestPackContext(t *testing.T) {
	leakcheck.Check(t)
	for _, c := range []struct {
		words   []string
		context bool
		want    string
	}{
		{[]string{"echo", "x{}y"}, true, "xay xby"},
		{[]string{"echo", "x{}y"}, false, "xa by"},
		{[]string{"echo x{}y | tr a-z A-Z"}, true, "XAY XBY"},
		{[]string{"echo", "{.}", "x{/}y"}, true, "a c/d xa.by xd.ey"},
	} {
		in := []string{"a", "b"}
		if len(c.words) == 3 {
			in = []string{"a.b", "c/d.e"}
		}
		got, err := packLines(t, c.words, Packing{Context: c.context}, 1, in...)
		if err != nil || len(got) != 1 || got[0] != c.want {
			t.Errorf("%q (context %v): %q, %v; want %q", c.words, c.context, got, err, c.want)
		}
	}
}

func TestPackTooLong(t *testing.T) {
	leakcheck.Check(t)
	_, err := packLines(t, []string{"echo"}, Packing{MaxChars: 5}, 1, "aaaaaaaa")
	var tl *TooLongError
	if !errors.As(err, &tl) || tl.Len != 13 || tl.Max != 5 || tl.Input != "aaaaaaaa" || tl.Index != 0 {
		t.Errorf("%v (%+v), want the command line too long (13 >= 5) at input 0", err, tl)
	}
}

func TestSkipBlankAndUntilEOF(t *testing.T) {
	got, _ := readAll(SkipBlank(Args("", " ", "a", "\t", "b")))
	if want := [][]string{{"a"}, {"b"}}; !equalTables(got, want) {
		t.Errorf("SkipBlank: %q", got)
	}
	got, _ = readAll(UntilEOF(Args("a", "b", "END", "c"), "END"))
	if want := [][]string{{"a"}, {"b"}}; !equalTables(got, want) {
		t.Errorf("UntilEOF: %q", got)
	}
	if _, err := UntilEOF(Args(), "x").Next(); err != io.EOF {
		t.Errorf("empty: %v", err)
	}
}

func equalTables(a, b [][]string) bool {
	return slices.EqualFunc(a, b, func(x, y []string) bool { return slices.Equal(x, y) })
}

// With Replace, that string stands for the input and {} is plain text.
func TestReplaceString(t *testing.T) {
	leakcheck.Check(t)
	r := runSpec(t, context.Background(), Spec{Command: []string{"echo", "XX", "{}", "[XX.]", "{#}"}, Replace: "XX", Inputs: Args("a.b"), Jobs: 1})
	if r.err != nil || r.stdout != "a.b {} [a.b.] 1\n" {
		t.Errorf("%q, %v", r.stdout, r.err)
	}
	r = runSpec(t, context.Background(), Spec{Command: []string{"echo 'XX' {}"}, Replace: "XX", Inputs: Args("it's"), Jobs: 1})
	if r.err != nil || r.stdout != "it's {}\n" {
		t.Errorf("in shell code: %q, %v", r.stdout, r.err)
	}
}

// FuzzParseReplace checks that a template with a custom replace string
// parses without a panic, and that with a replace string absent from the
// text the text is literal apart from the usual replacement strings.
func FuzzParseReplace(f *testing.F) {
	f.Fuzz(func(t *testing.T, s, repl string) {
		if repl == "" {
			return
		}
		tm, err := parseTemplateWith(s, repl, false)
		if err != nil {
			return
		}
		v := &jobVars{args: []string{"IN"}, seq: 1, slot: 1}
		out := string(tm.render(nil, v, false))
		if repl != "{}" && !strings.Contains(s, repl) && !strings.Contains(s, "{") && out != s {
			t.Fatalf("%q with %q: %q", s, repl, out)
		}
		if repl != "{}" && strings.Count(s, repl) > 0 && !strings.Contains(repl, "{") && !strings.Contains(s, "{") && strings.Count(out, "IN") < strings.Count(s, repl) {
			t.Fatalf("%q with %q: %q lost a replacement", s, repl, out)
		}
	})
}
