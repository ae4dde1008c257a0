package batch

import (
	"errors"
	"io"
	"regexp"
	"strings"
	"testing"
)

func drain(t *testing.T, s Source) []string {
	t.Helper()
	var out []string
	for {
		r, err := s.Next()
		if err == io.EOF {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, strings.Join(r, " "))
	}
}

// The orders are GNU parallel 20221122's, as it prints them for the same
// sources (parallel echo ::: a b ::: 1 2, ... :::+ ..., --link ...).
func TestSourceCombinations(t *testing.T) {
	for name, c := range map[string]struct {
		src  Source
		want string
	}{
		"product":      {Product(Args("a", "b"), Args("1", "2")), "a 1|a 2|b 1|b 2"},
		"product of 3": {Product(Args("a", "b"), Args("1"), Args("x", "y")), "a 1 x|a 1 y|b 1 x|b 1 y"},
		"product, one": {Product(Args("a", "b")), "a|b"},
		"empty factor": {Product(Args("a", "b"), Args()), ""},
		"zip":          {Zip(Args("a", "b", "c"), Args("1", "2")), "a 1|b 2"},
		"link":         {Link(Args("a", "b"), Args("1", "2", "3", "4", "5")), "a 1|b 2|a 3|b 4|a 5"},
		"product of a zip": {Product(Args("a", "b"), Zip(Lines("f", strings.NewReader("f1a\nf1b\n"), '\n'), Args("1", "2"))),
			"a f1a 1|a f1b 2|b f1a 1|b f1b 2"},
		"group":           {Group(Args("a", "b", "c", "d", "e"), 2), "a b|c d|e"},
		"group of pairs":  {Group(Product(Args("a", "b"), Args("1", "2")), 2), "a 1 a 2|b 1 b 2"},
		"columns":         {Columns(Args("a,b", "c,d"), regexp.MustCompile(",")), "a b|c d"},
		"columns, regexp": {Columns(Lines("f", strings.NewReader("a,b;c\n"), '\n'), regexp.MustCompile("[,;]")), "a b c"},
		"lines":           {Concat(Lines("f", strings.NewReader("x\n\ny"), '\n'), Args("z")), "x||y|z"},
	} {
		if got := strings.Join(drain(t, c.src), "|"); got != c.want {
			t.Errorf("%s: %q, want %q", name, got, c.want)
		}
	}
}

type failingSource struct{}

func (failingSource) Next() ([]string, error) { return nil, errors.New("disk on fire") }

func TestSourceErrorsStop(t *testing.T) {
	for name, s := range map[string]Source{
		"product": Product(Args("a"), failingSource{}),
		"link":    Link(failingSource{}, Args("a")),
		"zip":     Zip(Args("a", "b"), failingSource{}),
		"group":   Group(failingSource{}, 3),
	} {
		if _, err := s.Next(); err == nil || err == io.EOF {
			t.Errorf("%s: %v, want the source's error", name, err)
		}
		if _, err := s.Next(); err == nil {
			t.Errorf("%s: a second Next after the error gave an input", name)
		}
	}
}
