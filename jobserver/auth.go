package jobserver

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// Style is how a jobserver is handed to a process.
type Style uint8

const (
	// Pipe hands the two ends of a pipe as inherited descriptors:
	// --jobserver-auth=R,W. Every GNU make reads it (4.3 reads only
	// this), and cargo, rustc and GCC do; make passes it on only to the
	// recipes it takes as recursive ($(MAKE) or a + prefix).
	Pipe Style = iota
	// Fifo hands the path of a named pipe: --jobserver-auth=fifo:PATH.
	// GNU make ≥ 4.4, cargo and ninja ≥ 1.13 (which reads only this)
	// read it; make 4.3 fails on it.
	Fifo
	// Off hands no jobserver, and a process started without one has its
	// MAKEFLAGS' jobserver words removed.
	Off
)

// String is the style's name on the command line: pipe, fifo or off.
func (s Style) String() string {
	switch s {
	case Pipe:
		return "pipe"
	case Fifo:
		return "fifo"
	case Off:
		return "off"
	}
	return "Style(" + strconv.Itoa(int(s)) + ")"
}

// ParseStyle is the style named s: "pipe" or "fifo" (--jobserver-style),
// or "off".
func ParseStyle(s string) (Style, error) {
	switch s {
	case "pipe":
		return Pipe, nil
	case "fifo":
		return Fifo, nil
	case "off":
		return Off, nil
	}
	return 0, fmt.Errorf("jobserver: style %q: want pipe or fifo", s)
}

// Vars are the environment variables a jobserver is named in, in the
// order clients look at them: cargo's jobserver crate takes the first
// that is set; make reads MAKEFLAGS.
var Vars = []string{"CARGO_MAKEFLAGS", "MAKEFLAGS", "MFLAGS"}

// Auth is what a MAKEFLAGS says about the jobserver and the run.
type Auth struct {
	// Style is Pipe (R and W are set) or Fifo (Path is set); Off if the
	// flags name no jobserver or a disabled one.
	Style Style
	R, W  int    // Pipe: the inherited descriptors
	Path  string // Fifo: the named pipe
	// Word is the jobserver word as written (--jobserver-auth=… or the
	// older --jobserver-fds=…), "" if none.
	Word string
	// Jobs is the -jN make was given (0: not said; it says it from 4.2
	// on, next to the jobserver word).
	Jobs int
	// DryRun is make's -n: the first word's one-letter flags hold n.
	DryRun bool
}

// ErrSyntax is a jobserver word that cannot be read; ErrDisabled a word
// that names no jobserver on purpose (negative descriptors: make hands
// --jobserver-auth=-2,-2 to recipes it does not take as recursive).
var (
	ErrSyntax   = errors.New("jobserver: bad jobserver word")
	ErrDisabled = errors.New("jobserver: the jobserver is disabled for this process (negative descriptors): make runs recipes it does not take as recursive without it; prefix the recipe with +")
)

// Parse reads a MAKEFLAGS value. The last jobserver word counts, as in
// make. A value without one is an Auth of Style Off and no error; a
// word that cannot be read is an error that wraps ErrSyntax, and a
// disabled one (negative descriptors) ErrDisabled, with the rest of the
// Auth (Jobs, DryRun) filled in either way.
func Parse(makeflags string) (Auth, error) {
	a := Auth{Style: Off}
	words := strings.Fields(makeflags)
	for i, w := range words {
		if i == 0 && !strings.HasPrefix(w, "-") && !strings.Contains(w, "=") {
			a.DryRun = strings.ContainsRune(w, 'n') // the one-letter flags, without a dash
		}
		if w == "--" {
			break // the variables make passes on come after
		}
		switch {
		case strings.HasPrefix(w, "--jobserver-auth="), strings.HasPrefix(w, "--jobserver-fds="):
			a.Word = w
		case strings.HasPrefix(w, "-j") && len(w) > 2:
			if n, err := strconv.Atoi(w[2:]); err == nil && n > 0 {
				a.Jobs = n
			}
		}
	}
	if a.Word == "" {
		return a, nil
	}
	_, v, _ := strings.Cut(a.Word, "=")
	if p, ok := strings.CutPrefix(v, "fifo:"); ok {
		if p == "" {
			return a, fmt.Errorf("%w %q: an empty fifo path", ErrSyntax, a.Word)
		}
		a.Style, a.Path = Fifo, p
		return a, nil
	}
	rs, ws, ok := strings.Cut(v, ",")
	r, rerr := strconv.Atoi(rs)
	w, werr := strconv.Atoi(ws)
	if !ok || rerr != nil || werr != nil {
		return a, fmt.Errorf("%w %q: want R,W (two descriptors) or fifo:PATH", ErrSyntax, a.Word)
	}
	if r < 0 || w < 0 {
		return a, fmt.Errorf("%w (%s)", ErrDisabled, a.Word)
	}
	a.Style, a.R, a.W = Pipe, r, w
	return a, nil
}

// Lookup finds the jobserver in env ("NAME=value" entries, later ones
// winning): in the first of Vars that is set, as cargo's jobserver crate
// does. name is that variable ("" if none is set).
func Lookup(env []string) (a Auth, name string, err error) {
	vals := map[string]string{}
	for _, kv := range env {
		k, v, ok := strings.Cut(kv, "=")
		if !ok {
			continue
		}
		for _, n := range Vars {
			if k == n {
				vals[k] = v
			}
		}
	}
	for _, n := range Vars {
		if v, ok := vals[n]; ok {
			a, err = Parse(v)
			return a, n, err
		}
	}
	return Auth{Style: Off}, "", nil
}

// WithWord is makeflags with its jobserver words replaced by word (none
// if word is ""), and its -jN by -jJOBS if jobs > 0. The other words keep
// their order.
func WithWord(makeflags, word string, jobs int) string {
	words := strings.Fields(makeflags)
	out := make([]string, 0, len(words)+2)
	tail := []string(nil)
	for i, w := range words {
		if w == "--" {
			tail = words[i:]
			break
		}
		switch {
		case strings.HasPrefix(w, "--jobserver-auth="), strings.HasPrefix(w, "--jobserver-fds="):
			continue
		case jobs > 0 && strings.HasPrefix(w, "-j") && (len(w) == 2 || isDigits(w[2:])):
			continue
		}
		out = append(out, w)
	}
	if jobs > 0 {
		out = append(out, "-j"+strconv.Itoa(jobs))
	}
	if word != "" {
		out = append(out, word)
	}
	out = append(out, tail...)
	if len(out) == 0 {
		return ""
	}
	// make writes a leading space when there are no one-letter flags.
	s := strings.Join(out, " ")
	if strings.HasPrefix(s, "-") {
		s = " " + s
	}
	return s
}

func isDigits(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < '0' || s[i] > '9' {
			return false
		}
	}
	return s != ""
}

// ParentEnv marks, in a job's environment, the jobserver that a poolrun
// made for that job: "MAKELEVEL WORD", MAKELEVEL being the job's (""
// outside make). A poolrun started in the job itself (no make in
// between: MAKELEVEL unchanged, the same word) shares its parent's cap
// directly (slots.FromEnv), whose claim-once unit keeps two runs started
// at once in one job from both taking the job's slot for free — two
// jobserver clients would each count an implicit token. With a make in
// between (it raises MAKELEVEL), make's recipes each have their own
// token, and the poolrun in one is make's client.
const ParentEnv = "POOLRUN_JOBSERVER"

// ParentMark is the ParentEnv value of a job whose environment env
// (its MAKELEVEL) names the jobserver word.
func ParentMark(env []string, word string) string {
	return getenv(env, "MAKELEVEL") + " " + word
}

// ServedByParent reports whether the jobserver env names is the one a
// poolrun made for the job this process runs in, with no make in
// between (see ParentEnv). env nil: this process's environment.
func ServedByParent(env []string) bool {
	if env == nil {
		env = os.Environ()
	}
	a, _, err := Lookup(env)
	if err != nil || a.Word == "" {
		return false
	}
	mark, ok := lookupVar(env, ParentEnv)
	return ok && mark == ParentMark(env, a.Word)
}

func getenv(env []string, name string) string {
	v, _ := lookupVar(env, name)
	return v
}

// lookupVar is name's value in env, the last one winning.
func lookupVar(env []string, name string) (string, bool) {
	for i := len(env) - 1; i >= 0; i-- {
		if k, v, ok := strings.Cut(env[i], "="); ok && k == name {
			return v, true
		}
	}
	return "", false
}
