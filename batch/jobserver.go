package batch

import (
	"errors"
	"fmt"
	"strings"
	"sync/atomic"

	"github.com/poolrun/poolrun/jobserver"
	"github.com/poolrun/poolrun/slots"
)

// jobservers is the batch's side of the GNU make jobserver each job gets
// (Spec.Jobserver): one jobserver.Server per job attempt, backed by the
// batch's cap, so that the makes, cargos and ninjas in the jobs take
// their parallelism from the cap too.
type jobservers struct {
	style jobserver.Style
	jobs  int // the -jN of the jobs' MAKEFLAGS: the cap's size
	// vars are the batch's values of jobserver.Vars, which each job gets
	// with its own jobserver word (none when style is Off).
	vars    []string    // "NAME=value"
	waiting atomic.Bool // the dispatcher waits for a unit of the cap
}

// newJobservers takes jobserver.Vars out of env (the jobs' base
// environment) and keeps them to give each job its own.
func newJobservers(style jobserver.Style, env []string, jobs int) (*jobservers, []string) {
	js := &jobservers{style: style, jobs: jobs}
	out := env[:0:0]
	for _, kv := range env {
		k, _, _ := strings.Cut(kv, "=")
		switch k {
		case "MAKEFLAGS", "CARGO_MAKEFLAGS", "MFLAGS":
			js.vars = append(js.vars, kv)
			continue
		case jobserver.ParentEnv:
			continue // each job gets its own
		}
		out = append(out, kv)
	}
	return js, out
}

// env appends to env the job's jobserver variables: s's word (s nil:
// none, their jobserver words removed).
func (js *jobservers) env(env []string, s *jobserver.Server) []string {
	if js == nil {
		return env
	}
	word, jobs := "", 0
	if s != nil {
		word, jobs = s.Word(3), js.jobs // ExtraFiles start at descriptor 3
	}
	env = jobserver.SetWord(append(env, js.vars...), word, jobs)
	if s != nil {
		env = append(env, jobserver.ParentEnv+"="+jobserver.ParentMark(env, word))
	}
	return env
}

// serve starts the jobserver of one attempt of a job, or returns nil:
// none for this batch, or it could not be made (the job then runs
// without one, after a warning).
func (r *batchRun) serve() *jobserver.Server {
	js := r.js
	if js == nil || js.style == jobserver.Off {
		return nil
	}
	s, err := jobserver.Serve(r.sched.cap, js.style, js.waiting.Load)
	if errors.Is(err, jobserver.ErrUnsupported) {
		return nil // not on this system: the jobs run without, as before
	}
	if err != nil {
		r.jsWarn.Do(func() {
			r.out.say("poolrun: warning: %s: jobs run without a jobserver (their makes run with their own -j)\n", strings.TrimPrefix(err.Error(), "jobserver: "))
		})
		return nil
	}
	return s
}

// jobserverCap is the cap of a batch that was given none, under a make
// (or cargo) jobserver: a client of it, so that the batch's jobs take
// make's tokens; nil if there is none. A jobserver that the environment
// names but that cannot be used is said on Stderr, in one line, and the
// batch runs with a cap of its own, as make does in that case.
func jobserverCap(spec *Spec) slots.Cap {
	if spec.Jobserver == jobserver.Off || jobserver.ServedByParent(spec.Env) {
		return nil
	}
	c, err := jobserver.ClientFromEnv(spec.Env)
	if err != nil {
		if !errors.Is(err, jobserver.ErrNoJobserver) {
			fmt.Fprintf(spec.Stderr, "poolrun: warning: %s; running with poolrun's own cap\n", strings.TrimPrefix(err.Error(), "jobserver: "))
		}
		return nil
	}
	return c
}

// wait tells the jobs' jobservers whether the dispatcher waits for a
// unit of the cap.
func (js *jobservers) wait(on bool) {
	if js != nil {
		js.waiting.Store(on)
	}
}
