package main

import (
	"strings"
	"testing"
)

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
