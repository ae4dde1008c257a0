package batch

import (
	"context"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// The per-job work poolrun does itself before a fork: building the argv.
func BenchmarkBuildDirect(b *testing.B) {
	c, err := parseCommand([]string{"convert", "-resize", "50%", "{}", "{.}.png"})
	if err != nil {
		b.Fatal(err)
	}
	var buf []byte
	v := &jobVars{args: []string{"photos/2024/img_0001.jpg"}, seq: 1, slot: 1}
	b.ReportAllocs()
	for b.Loop() {
		c.build(v, &buf)
	}
}

func BenchmarkBuildShell(b *testing.B) {
	c, err := parseCommand([]string{"gzip {} && mv {}.gz {//}/archive/"})
	if err != nil {
		b.Fatal(err)
	}
	var buf []byte
	v := &jobVars{args: []string{"logs/app server.log"}, seq: 1, slot: 1}
	b.ReportAllocs()
	for b.Loop() {
		c.build(v, &buf)
	}
}

func BenchmarkJoblogWrite(b *testing.B) {
	f, err := os.Create(filepath.Join(b.TempDir(), "log"))
	if err != nil {
		b.Fatal(err)
	}
	defer f.Close()
	l := &joblog{f: f}
	start := time.Now()
	b.ReportAllocs()
	for b.Loop() {
		l.write(1, start, time.Second, 0, 12, 0, 0, "echo hello")
	}
}

func BenchmarkTagWriter(b *testing.B) {
	p := []byte("line one\nline two\nline three\n")
	w := &tagWriter{w: io.Discard, tag: []byte("input\t")}
	b.ReportAllocs()
	for b.Loop() {
		w.Write(p)
	}
}

// BenchmarkRunEcho runs 500 x echo at 4 at a time, grouped, per
// iteration: the engine's whole per-job cost, fork/exec included (compare
// with xargs in bench/engine.sh).
func BenchmarkRunEcho(b *testing.B) {
	inputs := make([]string, 500)
	for i := range inputs {
		inputs[i] = strconv.Itoa(i)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Run(context.Background(), Spec{Command: []string{"echo", "{}"}, Inputs: Args(inputs...), Jobs: 4, Stdout: io.Discard}); err != nil {
			b.Fatal(err)
		}
	}
}
