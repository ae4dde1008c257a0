package rebuild

import (
	"testing"

	"github.com/poolrun/poolrun/semlock"
)

var benchHandles = map[string]semlock.Handle{"lock": hLock, "jobs": hJobs, "cap": hNamed}

func BenchmarkEncode(b *testing.B) {
	for b.Loop() {
		if _, err := Encode(benchHandles); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecode(b *testing.B) {
	s, _ := Encode(benchHandles)
	for b.Loop() {
		if _, err := Decode(s); err != nil {
			b.Fatal(err)
		}
	}
}
