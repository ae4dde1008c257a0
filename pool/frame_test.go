package pool

import (
	"bytes"
	"io"
	"testing"
)

func TestFrameRoundTrip(t *testing.T) {
	var b []byte
	b = appendTask(b, 7, 123456789, 5000, "square", []byte("42"))
	b = appendHeader(b, fCancel, 7, 0)
	b = appendOK(b, 8, []byte("out"))
	b = appendErr(b, 9, kPanic, "boom", "goroutine 1 [running]:")
	b = appendMsg(b, fInitFailed, 0, "no db")
	fr := newFrameReader(bytes.NewReader(b))

	f, err := fr.next()
	if err != nil || f.typ != fTask || f.id != 7 {
		t.Fatalf("task frame: %+v, %v", f, err)
	}
	tb, err := parseTask(f.body)
	if err != nil || tb.deadline != 123456789 || tb.timeout != 5000 || tb.name != "square" || string(tb.in) != "42" {
		t.Fatalf("task body: %+v, %v", tb, err)
	}
	if f, err = fr.next(); err != nil || f.typ != fCancel || f.id != 7 || len(f.body) != 0 {
		t.Fatalf("cancel frame: %+v, %v", f, err)
	}
	if f, err = fr.next(); err != nil || f.typ != fOK || f.id != 8 || string(f.body) != "out" {
		t.Fatalf("ok frame: %+v, %v", f, err)
	}
	f, err = fr.next()
	if err != nil || f.typ != fErr || f.id != 9 {
		t.Fatalf("err frame: %+v, %v", f, err)
	}
	eb, err := parseErr(f.body)
	if err != nil || eb.kind != kPanic || eb.msg != "boom" || eb.stack != "goroutine 1 [running]:" {
		t.Fatalf("err body: %+v, %v", eb, err)
	}
	if f, err = fr.next(); err != nil || f.typ != fInitFailed || string(f.body) != "no db" {
		t.Fatalf("init failed frame: %+v, %v", f, err)
	}
	if _, err = fr.next(); err != io.EOF {
		t.Fatalf("at the end: %v, want io.EOF", err)
	}
}

func TestFrameCorrupt(t *testing.T) {
	whole := appendOK(nil, 1, []byte("hello"))
	for _, c := range []struct {
		name string
		in   []byte
	}{
		{"size too small", []byte{3, 0, 0, 0, fOK, 0, 0, 0, 0, 0, 0, 0, 0}},
		{"size too large", []byte{0xff, 0xff, 0xff, 0xff, fOK, 0, 0, 0, 0, 0, 0, 0, 0}},
		{"truncated header", whole[:7]},
		{"truncated body", whole[:len(whole)-2]},
	} {
		if _, err := newFrameReader(bytes.NewReader(c.in)).next(); err == nil || err == io.EOF {
			t.Errorf("%s: err %v, want an error other than EOF", c.name, err)
		}
	}
	if _, err := parseTask([]byte{1, 2, 3}); err == nil {
		t.Error("short task body accepted")
	}
	if _, err := parseTask(append(make([]byte, 16), 0xff, 0xff, 'a')); err == nil {
		t.Error("task name longer than its body accepted")
	}
	if _, err := parseErr([]byte{kTask, 0xff, 0xff, 0xff, 0xff}); err == nil {
		t.Error("error message longer than its body accepted")
	}
}

// FuzzFrames feeds arbitrary bytes to the frame reader and parsers: they
// return errors, never panic, and never allocate past the size bound.
func FuzzFrames(f *testing.F) {
	f.Add(appendTask(nil, 1, 0, 0, "echo", []byte("x")))
	f.Add(appendErr(nil, 2, kPanic, "boom", "stack"))
	f.Add(appendOK(appendHeader(nil, fCancel, 3, 0), 3, nil))
	f.Add([]byte{9, 0, 0, 0, fReady, 0, 0, 0, 0, 0, 0, 0, 0})
	f.Fuzz(func(t *testing.T, b []byte) {
		fr := newFrameReader(bytes.NewReader(b))
		for range 64 {
			fm, err := fr.next()
			if err != nil {
				return
			}
			switch fm.typ {
			case fTask:
				if tb, err := parseTask(fm.body); err == nil && len(tb.name)+len(tb.in)+18 != len(fm.body) {
					t.Fatalf("task body sizes do not add up: %+v of %d", tb, len(fm.body))
				}
			case fErr:
				parseErr(fm.body)
			}
		}
	})
}

func TestErrFrameTruncatesHugeMessages(t *testing.T) {
	msg := string(bytes.Repeat([]byte("m"), 3*maxMsg))
	b := appendErr(nil, 1, kTask, msg, msg)
	f, err := newFrameReader(bytes.NewReader(b)).next()
	if err != nil {
		t.Fatal(err)
	}
	e, err := parseErr(f.body)
	if err != nil || len(e.msg) > maxMsg || len(e.stack) > maxMsg || !bytes.Contains([]byte(e.msg), []byte("bytes more)")) {
		t.Fatalf("huge message: %d and %d bytes, %v", len(e.msg), len(e.stack), err)
	}
	if taskFits("x", make([]byte, maxFrame)) || !taskFits("x", make([]byte, 1<<20)) {
		t.Error("taskFits")
	}
}
