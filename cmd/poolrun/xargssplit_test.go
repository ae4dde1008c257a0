package main

import (
	"bufio"
	"bytes"
	"math/rand/v2"
	"os/exec"
	"slices"
	"strings"
	"testing"
)

// splitAll reads every argument the splitter yields, and the error that
// ended it ("" if none).
func splitAll(in []byte, delim int, replace bool) (args []string, err string) {
	s := &xargsSplitter{r: bufio.NewReader(bytes.NewReader(in)), delim: delim, replace: replace, maxLen: 1 << 30}
	for {
		a, _, done, e := s.readLine()
		args = append(args, a...)
		if e != nil {
			return args, e.Error()
		}
		if done {
			return args, ""
		}
	}
}

// splitModel is GNU xargs's default input rules written another way, as
// a reference for the fuzzer: an argument is a run of quoted pieces
// ('...' or "...", not across a newline), backslash escapes (of any byte,
// a newline too) and other bytes, up to a blank or a newline (-I: a
// newline only); space, tab, newline, CR, FF and VT before an argument
// are skipped; an argument made of nothing but quotes is the empty
// string, except at the very end of the input, where xargs drops it, as
// it drops an unterminated quote that holds nothing.
func splitModel(in []byte, replace bool) (args []string, err string) {
	i := 0
	for {
		for i < len(in) && strings.IndexByte(" \t\n\r\f\v", in[i]) >= 0 {
			i++
		}
		if i == len(in) {
			return args, ""
		}
		var arg []byte
		for i < len(in) {
			c := in[i]
			if c == '\n' || !replace && (c == ' ' || c == '\t') {
				break
			}
			switch c {
			case '\\':
				if i+1 == len(in) {
					i++
					continue // a backslash at the very end: nothing follows
				}
				arg = append(arg, in[i+1])
				i += 2
			case '\'', '"':
				j := i + 1
				for j < len(in) && in[j] != c && in[j] != '\n' {
					j++
				}
				arg = append(arg, in[i+1:j]...)
				if j == len(in) {
					if len(arg) == 0 {
						return args, ""
					}
					return args, errUnmatched(c).Error()
				}
				if in[j] == '\n' {
					return args, errUnmatched(c).Error()
				}
				i = j + 1
				if arg == nil {
					arg = []byte{}
				}
			default:
				arg = append(arg, c)
				i++
			}
		}
		if i == len(in) && len(arg) == 0 {
			return args, "" // '' at the very end is lost
		}
		args = append(args, string(arg))
		if i < len(in) {
			i++ // the blank or newline
		}
	}
}

func TestSplitterCases(t *testing.T) {
	for _, c := range []struct {
		in      string
		replace bool
		want    []string
		err     string
	}{
		{"a b\nc \"d e\" 'f g' h\\ i\n", false, []string{"a", "b", "c", "d e", "f g", "h i"}, ""},
		{"'' \"\" a\n''\n", false, []string{"", "", "a", ""}, ""},
		{"a ''", false, []string{"a"}, ""},
		{"a\\\nb\n", false, []string{"a\nb"}, ""},
		{"a\rb c\r\n", false, []string{"a\rb", "c\r"}, ""},
		{"a 'b\n", false, []string{"a"}, errUnmatched('\'').Error()},
		{"a \"b", false, []string{"a"}, errUnmatched('"').Error()},
		{"a '", false, []string{"a"}, ""},
		{"   a  b \nc\n", true, []string{"a  b ", "c"}, ""},
		{"\"a b\" c\\ d\n", true, []string{"a b c d"}, ""},
	} {
		got, err := splitAll([]byte(c.in), -1, c.replace)
		if !slices.Equal(got, c.want) || err != c.err {
			t.Errorf("%q (replace %v): %q, %q; want %q, %q", c.in, c.replace, got, err, c.want, c.err)
		}
	}
}

// The -L count: a line ends with a newline after an argument; one that
// ends with a blank goes on on the next line; blank lines do not count.
func TestSplitterLines(t *testing.T) {
	s := &xargsSplitter{r: bufio.NewReader(strings.NewReader("a b\nc \nd\n\n\ne\n")), delim: -1, maxLen: 1 << 20}
	var got []string
	for {
		args, lines, done, err := s.readLine()
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, strings.Join(args, ",")+"/"+string(rune('0'+lines)))
		if done {
			break
		}
	}
	want := []string{"a,b/1", "c,d/1", "e/1", "/0"}
	if !slices.Equal(got, want) {
		t.Errorf("%q, want %q", got, want)
	}
}

func TestSplitterEOFString(t *testing.T) {
	for _, c := range []struct {
		in   string
		want []string
	}{
		{"a b\n_ c\nd\n", []string{"a", "b"}},
		{"a _ b\nd\n", []string{"a"}},
		{"a _", []string{"a", "_"}}, // at the end without a newline, xargs keeps it
		{"_", nil},
	} {
		s := &xargsSplitter{r: bufio.NewReader(strings.NewReader(c.in)), delim: -1, eofStr: "_", maxLen: 1 << 20}
		var got []string
		for {
			args, _, done, err := s.readLine()
			if err != nil {
				t.Fatal(err)
			}
			got = append(got, args...)
			if done {
				break
			}
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%q: %q, want %q", c.in, got, c.want)
		}
	}
}

func TestSplitterTooLong(t *testing.T) {
	_, err := splitAll([]byte("abcdefgh\n"), -1, false)
	if err != "" {
		t.Fatal(err)
	}
	s := &xargsSplitter{r: bufio.NewReader(strings.NewReader("ab abcd\n")), delim: -1, maxLen: 4}
	args, _, _, e := s.readLine()
	if !slices.Equal(args, []string{"ab"}) || e != errLineTooLong {
		t.Errorf("%q, %v; want [ab], argument line too long", args, e)
	}
}

// FuzzXargsSplit checks the splitter against splitModel, and -0 against
// a plain split at NULs.
func FuzzXargsSplit(f *testing.F) {
	f.Fuzz(func(t *testing.T, in []byte, replace bool) {
		got, gerr := splitAll(in, -1, replace)
		want, werr := splitModel(in, replace)
		if gerr != werr || !slices.Equal(got, want) {
			t.Fatalf("%q (replace %v):\nsplitter %q, %q\nmodel    %q, %q", in, replace, got, gerr, want, werr)
		}
		got, gerr = splitAll(in, 0, replace)
		want = strings.Split(string(in), "\x00")
		if want[len(want)-1] == "" {
			want = want[:len(want)-1]
		}
		if gerr != "" || !slices.Equal(got, want) && !(len(got) == 0 && len(want) == 0) {
			t.Fatalf("%q with -0: %q, %q; want %q", in, got, gerr, want)
		}
	})
}

// The splitter against GNU xargs itself, when it is installed: random
// inputs made of the bytes its rules are about, each run through
// "xargs -r printf '<%s>'".
func TestSplitterLikeGNU(t *testing.T) {
	gnu, err := exec.LookPath("xargs")
	if err != nil {
		t.Skip("GNU xargs is not installed")
	}
	if out, err := exec.Command(gnu, "--version").Output(); err != nil || !strings.Contains(string(out), "GNU findutils") {
		t.Skip("the xargs installed is not GNU's")
	}
	rng := rand.New(rand.NewPCG(1, 2))
	const alphabet = "ab  \t\n\n'\"\\\r\v"
	for range 300 {
		in := make([]byte, rng.IntN(12))
		for i := range in {
			in[i] = alphabet[rng.IntN(len(alphabet))]
		}
		for _, replace := range []bool{false, true} {
			args := []string{"-r", "printf", "<%s>"}
			if replace {
				args = []string{"-I{}", "printf", "<%s>", "{}"}
			}
			cmd := exec.Command(gnu, args...)
			cmd.Stdin = bytes.NewReader(in)
			var out, errb bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &errb
			cmd.Run()
			got, gerr := splitAll(in, -1, replace)
			var want strings.Builder
			for _, a := range got {
				want.WriteString("<" + a + ">")
			}
			gotErr := ""
			if e := strings.TrimSpace(errb.String()); e != "" {
				gotErr = strings.TrimPrefix(e, gnu+": ")
			}
			if out.String() != want.String() || gotErr != gerr {
				t.Errorf("%q (-I %v): GNU xargs printed %q, %q; the splitter gives %q, %q", in, replace, out.String(), gotErr, want.String(), gerr)
			}
		}
	}
}
