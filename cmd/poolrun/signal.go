package main

import (
	"sync/atomic"
	"syscall"
)

// atomicSignal holds the signal that stopped poolrun, 0 if none.
type atomicSignal struct{ v atomic.Int32 }

func (a *atomicSignal) store(s syscall.Signal) { a.v.Store(int32(s)) }
func (a *atomicSignal) load() syscall.Signal   { return syscall.Signal(a.v.Load()) }
