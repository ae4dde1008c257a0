package main

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"sync/atomic"
)

// inputs streams the batch's inputs to the dispatcher through a small
// buffered channel: ::: args first, then each -a file in turn (stdin if
// neither was given). Only the channel's few entries are held in memory,
// so an endless stdin works and 100 000 inputs are never loaded at once.
type inputs struct {
	ch    chan item
	err   error        // read error, valid once ch is closed
	count atomic.Int64 // inputs read so far
	eof   atomic.Bool  // all inputs read
	files []*os.File
}

// inputQueue is how many inputs may wait between the reader and the
// dispatcher.
const inputQueue = 64

// openInputs opens every input file before any job starts, so a missing
// file is bad input (exit 255, nothing started).
func openInputs(o *options, stdin *os.File) (*inputs, error) {
	in := &inputs{ch: make(chan item, inputQueue)}
	for _, name := range o.argFiles {
		if name == "-" {
			in.files = append(in.files, stdin)
			continue
		}
		f, err := os.Open(name)
		if err != nil {
			in.close()
			var pe *os.PathError
			if errors.As(err, &pe) {
				err = pe.Err
			}
			return nil, usagef("input file %s: %v", name, err)
		}
		if st, err := f.Stat(); err == nil && st.IsDir() {
			f.Close()
			in.close()
			return nil, usagef("input file %s is a directory: -a takes a file of inputs, one a line", name)
		}
		in.files = append(in.files, f)
	}
	if len(o.argFiles) == 0 && !o.hasArgs {
		in.files = append(in.files, stdin)
	}
	return in, nil
}

func (in *inputs) close() {
	for _, f := range in.files {
		if f != os.Stdin {
			f.Close()
		}
	}
}

// read sends every input to in.ch and closes it; it stops early when
// stop is closed. It runs in its own goroutine: a read of a slow stdin
// must not block the dispatcher's reaction to a signal.
func (in *inputs) read(args []string, delim byte, stop <-chan struct{}) {
	defer close(in.ch)
	defer in.eof.Store(true)
	defer in.close()
	seq := 0
	send := func(s string) bool {
		seq++
		in.count.Add(1)
		select {
		case in.ch <- item{seq: seq, input: s}:
			return true
		case <-stop:
			return false
		}
	}
	for _, a := range args {
		if !send(a) {
			return
		}
	}
	for _, f := range in.files {
		r := bufio.NewReaderSize(f, 64<<10)
		for {
			line, err := r.ReadString(delim)
			if err != nil && err != io.EOF {
				// A failed read runs nothing: what came before the error
				// in this read may be a partial line.
				in.err = fmt.Errorf("reading inputs from %s: %w", f.Name(), err)
				return
			}
			if len(line) > 0 && line[len(line)-1] == delim {
				line = line[:len(line)-1]
			} else if err == io.EOF && line == "" {
				break
			}
			if !send(line) {
				return
			}
			if err == io.EOF {
				break
			}
		}
	}
}
