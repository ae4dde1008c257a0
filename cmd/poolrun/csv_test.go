package main

import (
	"fmt"
	"strings"
	"testing"
)

// parseCSV splits as perl's Text::CSV 2.02 (binary => 1) does; each want
// is what it gives (checked with perl), ERR where it refuses the line.
func TestParseCSV(t *testing.T) {
	for _, c := range []struct {
		line string
		sep  byte
		want string
	}{
		{`a,b`, ',', `[a][b]`},
		{`"1 big, 2 small","2""x4"" plank",12.34`, ',', `[1 big, 2 small][2"x4" plank][12.34]`},
		{"\"a\rb\",c", ',', "[a\rb][c]"},
		{"\"a\nb\",c", ',', "[a\nb][c]"},
		{"a\nb", ',', `[a]`},
		{`a,`, ',', `[a][]`},
		{`,`, ',', `[][]`},
		{``, ',', `[]`},
		{`""`, ',', `[]`},
		{`"",""`, ',', `[][]`},
		{`a ,b`, ',', `[a ][b]`},
		{`"a""b"`, ',', `[a"b]`},
		{"a\tb", ',', "[a\tb]"},
		{`"a"",b"`, ',', `[a",b]`},
		{`a;b,c`, ';', `[a][b,c]`},
		{`"a;b";c`, ';', `[a;b][c]`},
		{"a,c\r\n", ',', `[a][c]`},
		{"a\rb,c", ',', `ERR`},
		{"a,c\r", ',', `ERR`},
		{`"a"b`, ',', `ERR`},
		{`"a" ,b`, ',', `ERR`},
		{` "a",b`, ',', `ERR`},
		{`a""b`, ',', `ERR`},
		{`"a,b`, ',', `ERR`},
	} {
		f, err := parseCSV(c.line, c.sep)
		got := "ERR"
		if err == nil {
			var b strings.Builder
			for _, x := range f {
				fmt.Fprintf(&b, "[%s]", x)
			}
			got = b.String()
		} else if !strings.Contains(err.Error(), "CSV has unexpected format: ^"+c.line+"^") {
			t.Errorf("parseCSV(%q): error %q does not show the line", c.line, err)
		}
		if got != c.want {
			t.Errorf("parseCSV(%q, %q) = %s, want %s", c.line, c.sep, got, c.want)
		}
	}
}
