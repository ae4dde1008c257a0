package main

import (
	"bufio"
	"bytes"
	"io"
	"strconv"
	"testing"
)

// BenchmarkXargsBuild splits and packs 100 000 short lines into command
// lines of 128 KiB, as xargs echo does (without running them).
func BenchmarkXargsBuild(b *testing.B) {
	var in bytes.Buffer
	for i := range 100000 {
		in.WriteString(strconv.Itoa(i))
		in.WriteByte('\n')
	}
	data := in.Bytes()
	o := newXargsOptions(nil)
	b.SetBytes(int64(len(data)))
	for b.Loop() {
		sp := &xargsSplitter{r: bufio.NewReader(bytes.NewReader(data)), delim: -1}
		bl, err := newXargsBuilder(sp, []string{"echo"}, o)
		if err != nil {
			b.Fatal(err)
		}
		for {
			if _, err := bl.Next(); err == io.EOF {
				break
			} else if err != nil {
				b.Fatal(err)
			}
		}
	}
}
