package main

import (
	"errors"
	"github.com/poolrun/poolrun/batch"
	"reflect"
	"strings"
	"testing"
	"time"
)

func TestParseJobs(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int
	}{{"1", 1}, {"4", 4}, {"100%", 8}, {"50%", 4}, {"1%", 1}, {"200%", 16}, {"32767", 32767},
		{"0", 0}, {"+2", 10}, {"-2", 6}, {"-20", 1}} { // GNU parallel's: 0 as many as possible, +N/-N the CPUs plus or minus N
		got, err := parseJobs(tc.in, 8)
		if err != nil || got != tc.want {
			t.Errorf("parseJobs(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
	for _, in := range []string{"abc", "+", "+x", "", "0%", "-5%", "x%", "32768", "99999999999999999999", "NaN%"} {
		if _, err := parseJobs(in, 8); err == nil {
			t.Errorf("parseJobs(%q): no error", in)
		}
	}
}

func TestParseArgs(t *testing.T) {
	o, err := parseArgs([]string{"-j4", "-k", "--tag", "-a", "f1", "--arg-file=f2", "--timeout", "1.5", "--halt", "soon,fail=20%", "--", "echo", "{}", ":::", "a", "b", "::::", "f3"})
	if err != nil {
		t.Fatal(err)
	}
	if o.jobs != 4 || !o.keepOrder || !o.tag || o.timeout != 1500*time.Millisecond {
		t.Errorf("got %+v", o)
	}
	wantSources := []sourceSpec{{file: "f1"}, {file: "f2"}, {args: []string{"a", "b"}, isArgs: true}, {file: "f3"}}
	if !reflect.DeepEqual(o.sources, wantSources) || !reflect.DeepEqual(o.command, []string{"echo", "{}"}) {
		t.Errorf("sources %+v command %q", o.sources, o.command)
	}
	if o.halt != (batch.Halt{When: batch.HaltSoon, On: batch.HaltOnFail, Percent: 20}) {
		t.Errorf("halt %+v", o.halt)
	}
	// Flags after the command belong to the command.
	o, err = parseArgs([]string{"grep", "-k", "x"})
	if err != nil || !reflect.DeepEqual(o.command, []string{"grep", "-k", "x"}) || o.keepOrder {
		t.Errorf("command %q keepOrder %v err %v", o.command, o.keepOrder, err)
	}
}

func TestParseArgsRejects(t *testing.T) {
	for _, args := range [][]string{
		{"--frobnicate"}, {"-j"}, {"-j", "abc"}, {"-j", "+x"}, {"--sem", "bad name!"}, {"--sem", ""},
		{"--timeout", "soon"}, {"--timeout", "-1s"}, {"--retries", "0"}, {"--halt", "sometimes"}, {"--halt", "now,fail=0"},
		{"--halt", "now,fail=101%"}, {"--resume"}, {"--resume", "--resume-failed", "--joblog", "x"},
		{"-u", "-k"}, {"-k=1"}, {"echo", "::::"}, {"-d", "ab"},
	} {
		_, err := parseArgs(args)
		var ue *usageError
		if !errors.As(err, &ue) {
			t.Errorf("parseArgs(%q): %v, want a usage error", args, err)
		}
	}
}

func TestParseHalt(t *testing.T) {
	for in, want := range map[string]batch.Halt{
		"now,fail=2":    {When: batch.HaltNow, On: batch.HaltOnFail, Count: 2},
		"soon,fail=50%": {When: batch.HaltSoon, On: batch.HaltOnFail, Percent: 50},
		"now,success=1": {When: batch.HaltNow, On: batch.HaltOnSuccess, Count: 1},
		"soon,done=3":   {When: batch.HaltSoon, On: batch.HaltOnDone, Count: 3},
		"never":         {},
		"2":             {When: batch.HaltNow, On: batch.HaltOnFail, Count: 1},
	} {
		if got, err := parseHalt(in); err != nil || got != want {
			t.Errorf("parseHalt(%q) = %+v, %v; want %+v", in, got, err, want)
		}
	}
	for _, in := range []string{"", "now", "now,fail", "now,fail=0", "later,fail=1", "now,fail=101%", "now,oops=1"} {
		if _, err := parseHalt(in); err == nil {
			t.Errorf("parseHalt(%q): no error", in)
		}
	}
}

// Every flag is explained in --help.
func TestHelpNamesEveryFlag(t *testing.T) {
	for _, f := range flagSpecs {
		for _, n := range f.names {
			if n == "-P" {
				continue // xargs's spelling of -j, not advertised
			}
			if !strings.Contains(helpText, n) {
				t.Errorf("--help does not mention %s", n)
			}
		}
	}
}
