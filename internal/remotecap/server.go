package remotecap

import (
	"bufio"
	"context"
	"encoding/json"
	"io"
	"sync"

	"github.com/poolrun/poolrun/slots"
)

// Loser is a cap that can lose its slots (an etcd cap's lease): Serve
// tells the client when Lost is closed.
type Loser interface {
	Lost() <-chan struct{}
	Err() error
}

// Ready is what a helper writes first, once it has its cap: w gets
// {"ready":SIZE}. Serve does it itself; helpers that fail before they
// have a cap write Failed instead.
func Ready(w io.Writer, size int) error { return json.NewEncoder(w).Encode(msg{Ready: size}) }

// Failed tells the client why there is no cap: {"err":MSG}.
func Failed(w io.Writer, err error) error { return json.NewEncoder(w).Encode(msg{Err: err.Error()}) }

// Serve serves c to the client at the other end of r and w until r ends,
// then releases the slots and shares still held and returns; the caller
// closes c. If c is a Loser, its loss is told as {"lost":MSG}.
func Serve(r io.Reader, w io.Writer, c slots.Cap) error {
	s := &server{c: c, enc: json.NewEncoder(w), slots: map[uint64]slots.Slot{}, shares: map[uint64]slots.Share{}, waits: map[uint64]context.CancelFunc{}}
	if err := Ready(w, c.Size()); err != nil {
		return err
	}
	done := make(chan struct{})
	defer close(done)
	if l, ok := c.(Loser); ok {
		go func() {
			select {
			case <-l.Lost():
				s.send(msg{Lost: l.Err().Error()})
			case <-done:
			}
		}()
	}
	sc := bufio.NewScanner(r)
	for sc.Scan() {
		var m msg
		if json.Unmarshal(sc.Bytes(), &m) != nil {
			continue
		}
		s.handle(m)
	}
	s.mu.Lock()
	for _, cancel := range s.waits {
		cancel()
	}
	s.mu.Unlock()
	s.wg.Wait()
	for _, sl := range s.slots {
		sl.Release()
	}
	for _, sh := range s.shares {
		sh.Close()
	}
	return sc.Err()
}

type server struct {
	c      slots.Cap
	wmu    sync.Mutex
	enc    *json.Encoder
	wg     sync.WaitGroup
	mu     sync.Mutex
	next   uint64
	slots  map[uint64]slots.Slot
	shares map[uint64]slots.Share
	waits  map[uint64]context.CancelFunc
}

func (s *server) send(m msg) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.enc.Encode(m)
}

// keep records a slot and answers with its number.
func (s *server) keep(id uint64, sl slots.Slot) {
	s.mu.Lock()
	s.next++
	n := s.next
	s.slots[n] = sl
	s.mu.Unlock()
	s.send(msg{ID: id, Slot: n})
}

func (s *server) handle(m msg) {
	switch m.Op {
	case "acquire":
		ctx, cancel := context.WithCancel(context.Background())
		s.mu.Lock()
		s.waits[m.ID] = cancel
		s.mu.Unlock()
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			sl, err := s.c.Acquire(ctx)
			s.mu.Lock()
			delete(s.waits, m.ID)
			s.mu.Unlock()
			cancel()
			if err != nil {
				s.send(msg{ID: m.ID, Err: err.Error()})
				return
			}
			s.keep(m.ID, sl)
		}()
	case "cancel":
		s.mu.Lock()
		if cancel := s.waits[m.ID]; cancel != nil {
			cancel()
		}
		s.mu.Unlock()
	case "try":
		// In the background too: a try makes a round trip to etcd.
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			sl, ok, err := s.c.TryAcquire()
			switch {
			case err != nil:
				s.send(msg{ID: m.ID, Err: err.Error()})
			case !ok:
				s.send(msg{ID: m.ID, None: true})
			default:
				s.keep(m.ID, sl)
			}
		}()
	case "release":
		s.mu.Lock()
		sl := s.slots[m.Slot]
		delete(s.slots, m.Slot)
		s.mu.Unlock()
		if sl == nil {
			s.send(msg{ID: m.ID, Err: "remotecap: no such slot"})
			return
		}
		// Released in the background: the answer waits for etcd, the
		// reading of the next request must not.
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			if err := sl.Release(); err != nil {
				s.send(msg{ID: m.ID, Err: err.Error()})
				return
			}
			s.send(msg{ID: m.ID})
		}()
	case "share":
		sh, err := s.c.Share()
		if err != nil {
			s.send(msg{ID: m.ID, Err: err.Error()})
			return
		}
		s.mu.Lock()
		s.next++
		n := s.next
		s.shares[n] = sh
		s.mu.Unlock()
		s.send(msg{ID: m.ID, Share: n, Env: sh.Env()})
	case "unshare":
		s.mu.Lock()
		sh := s.shares[m.Share]
		delete(s.shares, m.Share)
		s.mu.Unlock()
		if sh == nil {
			s.send(msg{ID: m.ID, Err: "remotecap: no such share"})
			return
		}
		if err := sh.Close(); err != nil {
			s.send(msg{ID: m.ID, Err: err.Error()})
			return
		}
		s.send(msg{ID: m.ID})
	default:
		s.send(msg{ID: m.ID, Err: "remotecap: unknown op " + m.Op})
	}
}
