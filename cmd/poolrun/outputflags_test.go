package main

import (
	"strings"
	"testing"
)

func TestParseSize(t *testing.T) {
	for in, want := range map[string]int64{"1": 1, "1k": 1024, "2K": 2048, "1.5M": 3 << 19, "1G": 1 << 30, "1t": 1 << 40} {
		if got, err := parseSize(in); err != nil || got != want {
			t.Errorf("parseSize(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "k", "-1", "1x", "1e30G", "NaN"} {
		if _, err := parseSize(in); err == nil {
			t.Errorf("parseSize(%q): no error", in)
		}
	}
}

func FuzzParseSize(f *testing.F) {
	for _, s := range []string{"1", "10k", "1.5M", "1G", "", "-1", "9e99"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		n, err := parseSize(s)
		if err == nil && n < 0 {
			t.Errorf("parseSize(%q) = %d: negative", s, n)
		}
	})
}

func TestRenameColumns(t *testing.T) {
	names := []string{"city", "pop", "2", "a.b"}
	for in, want := range map[string]string{
		"echo {city} {pop}":               "echo {1} {2}",
		"{city.} {city/} {pop//} {pop/.}": "{1.} {1/} {2//} {2/.}",
		"{2} {zip} {} {#}":                "{2} {zip} {} {#}",
		"{a.b}":                           "{4}",
		"awk '{print $1}' {city}":         "awk '{print $1}' {1}",
	} {
		if got := renameColumns(in, names); got != want {
			t.Errorf("renameColumns(%q) = %q, want %q", in, got, want)
		}
	}
}

func FuzzRenameColumns(f *testing.F) {
	for _, s := range []string{"echo {a}", "{a.} {b/.}", "{{a}}", "{", "}{a"} {
		f.Add(s, "a")
	}
	f.Fuzz(func(t *testing.T, s, name string) {
		got := renameColumns(s, []string{name})
		if !strings.Contains(s, "{") && got != s {
			t.Errorf("renameColumns(%q) = %q: changed text with no {", s, got)
		}
	})
}
