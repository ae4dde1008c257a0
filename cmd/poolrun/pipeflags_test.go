package main

import (
	"errors"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/poolrun/poolrun/batch"
)

// TestParseSize: GNU parallel's multiply_binary_prefix: k m g are powers
// of 1000, K M G (and ki Mi Gi) of 1024, fractions truncated.
func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{
		"1": 1, "10k": 10000, "10K": 10240, "1M": 1 << 20, "1m": 1e6, "1Mi": 1 << 20, "1mi": 1 << 20, "2G": 2 << 30,
		"1g": 1e9, "1.5k": 1500, "0.5K": 512, "-1": -1, "-10": -10, "0": 0, "1T": 1 << 40, "3ki": 3072,
	} {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "k", "1x", "1kk", "1 k", "NaN", "Inf", "1e30", "1e3", "0x10", "99999999999G", "1iK", "M1"} {
		if _, err := parseSize(in); err == nil {
			t.Errorf("parseSize(%q): no error", in)
		}
	}
}

// FuzzParseSize: any text is a size or a usage error, never a panic; a
// size read back from its decimal form is itself.
func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"1M", "10k", "1.5Gi", "-10", "0", "1e3", "x"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := parseSize(s)
		if err != nil {
			var ue *usageError
			if !errors.As(err, &ue) {
				t.Fatalf("parseSize(%q): %T, want a usage error", s, err)
			}
			return
		}
		if m, err := parseSize(strconv.FormatInt(n, 10)); err != nil || m != n {
			t.Fatalf("parseSize(%q) = %d, but %d reads back as %d, %v", s, n, n, m, err)
		}
	})
}

// TestPipeFlags: the pipe flags make the batch.Pipe GNU parallel's flags
// describe, with its defaults for the separators.
func TestPipeFlags(t *testing.T) {
	for _, c := range []struct {
		args []string
		want batch.Pipe
	}{
		{[]string{"--pipe", "wc"}, batch.Pipe{RecEnd: "\n"}},
		{[]string{"--pipe", "--block", "10k", "-N", "3", "wc"}, batch.Pipe{BlockSize: 10000, RecEnd: "\n", Records: 3}},
		{[]string{"--pipe", "-n", "2", "wc"}, batch.Pipe{RecEnd: "\n", Records: 2}},
		{[]string{"--pipe", "-L", "4", "wc"}, batch.Pipe{RecEnd: "\n", Lines: 4}},
		{[]string{"--pipe", "--recstart", ">", "wc"}, batch.Pipe{RecStart: ">"}},
		{[]string{"--pipe", "--recend", "", "wc"}, batch.Pipe{Anywhere: true}},
		{[]string{"--pipe", "--recend", `\0`, "--recstart", `\t`, "wc"}, batch.Pipe{RecEnd: "\x00", RecStart: "\t"}},
		{[]string{"--pipe", "--regexp", "--recend", `\n`, "wc"}, batch.Pipe{RecEnd: `\n`, Regexp: true}},
		{[]string{"--pipe", "--header", ":", "wc"}, batch.Pipe{RecEnd: "\n", Header: `.*\n`}},
		{[]string{"--pipe", "--header", "2", "wc"}, batch.Pipe{RecEnd: "\n", Header: `(?:.*\n){2}`}},
		{[]string{"--pipe", "--rrs", "--cat", "wc"}, batch.Pipe{RecEnd: "\n", RemoveRecSep: true, Cat: true}},
		{[]string{"--cat", "wc"}, batch.Pipe{RecEnd: "\n", Cat: true}},
		{[]string{"--pipepart", "-a", "f", "--block", "-2", "wc"}, batch.Pipe{BlockSize: -2, RecEnd: "\n", Files: []string{"f"}}},
	} {
		o, err := parseArgs(c.args)
		if err != nil {
			t.Errorf("%q: %v", c.args, err)
			continue
		}
		p, err := o.pipeSpec()
		if err != nil || !equalPipe(p, &c.want) {
			t.Errorf("%q: %+v, %v; want %+v", c.args, p, err, c.want)
		}
	}
}

func equalPipe(a, b *batch.Pipe) bool {
	return a.BlockSize == b.BlockSize && a.RecStart == b.RecStart && a.RecEnd == b.RecEnd && a.Anywhere == b.Anywhere &&
		a.Regexp == b.Regexp && a.Records == b.Records && a.Lines == b.Lines && a.Header == b.Header &&
		a.RemoveRecSep == b.RemoveRecSep && a.Cat == b.Cat && strings.Join(a.Files, ",") == strings.Join(b.Files, ",")
}

// TestPipeFlagErrors: one clear line for what cannot work.
func TestPipeFlagErrors(t *testing.T) {
	for args, want := range map[string]string{
		"--pipe --block -1 wc":          "needs --pipepart",
		"--pipe --block 1x wc":          "want a size",
		"--pipe":                        "needs a command",
		"--pipe -a f wc":                "reads its blocks from stdin",
		"--pipe wc ::: a":               "reads its blocks from stdin",
		"--pipepart -a f -N 2 wc":       "incompatible with",
		"--pipepart ::: a":              "not seekable",
		"--pipe --fifo wc":              "--fifo is not supported",
		"--pipe --roundrobin wc":        "--roundrobin is not supported",
		"--pipe --regexp --recend ( wc": "not a regular expression",
		"--pipe --header ( wc":          "--header",
	} {
		_, err := parseArgs(strings.Fields(args))
		var ue *usageError
		if !errors.As(err, &ue) || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "\n") {
			t.Errorf("%s: %v, want a one-line usage error with %q", args, err, want)
		}
	}
}

func TestHeaderRegexp(t *testing.T) {
	for in, want := range map[string]string{":": "a\n", "1": "a\n", "2": "a\nb\n", "a.*\n": "a\n", "0": ""} {
		if got := regexp.MustCompile(`^(?:` + headerRegexp(in) + `)`).FindString("a\nb\nc\n"); got != want {
			t.Errorf("--header %q matches %q, want %q", in, got, want)
		}
	}
}
