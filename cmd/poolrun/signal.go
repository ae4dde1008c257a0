package main

import (
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"
)

// notify is signal.Notify for the signals that poolrun was not started
// with ignored: under nohup (SIGHUP ignored) or as a background job of a
// script (SIGINT ignored) Notify would turn the ignored signal back on,
// and the run would stop on a signal its starter meant it to survive. An
// ignored signal stays ignored, for poolrun and for its jobs.
func notify(c chan<- os.Signal, sigs ...os.Signal) {
	var on []os.Signal
	for _, s := range sigs {
		if !signal.Ignored(s) {
			on = append(on, s)
		}
	}
	if len(on) > 0 {
		signal.Notify(c, on...)
	}
}

// atomicSignal holds the signal that stopped poolrun, 0 if none.
type atomicSignal struct{ v atomic.Int32 }

func (a *atomicSignal) store(s syscall.Signal) { a.v.Store(int32(s)) }
func (a *atomicSignal) load() syscall.Signal   { return syscall.Signal(a.v.Load()) }
