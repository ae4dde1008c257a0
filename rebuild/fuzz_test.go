package rebuild

import (
	"testing"

	"github.com/poolrun/poolrun/semlock"
)

// FuzzDecode: Decode never panics, and what it accepts re-encodes to a
// value that decodes to the same handles.
func FuzzDecode(f *testing.F) {
	f.Add("v1")
	f.Add("v1;jobs=0,32769,s,4,u,1234,987654321")
	f.Add("v1;cap=-1412567278,65538,s,8,n,1,1073741823,build-jobs;lock=0,7,m,1,u,99,0")
	f.Add("v1;a=0,5,s,4,u,100,77;a=0,5,s,4,u,100,77")
	f.Add("v2;a=0,5,s,4,u,100,77")
	f.Fuzz(func(t *testing.T, s string) {
		hs, err := Decode(s)
		if err != nil {
			return
		}
		enc, err := Encode(hs)
		if err != nil {
			t.Fatalf("Decode(%q) accepted what Encode refuses: %v", s, err)
		}
		again, err := Decode(enc)
		if err != nil {
			t.Fatalf("Decode(Encode(%q)) = %v", enc, err)
		}
		if !equal(hs, again) {
			t.Fatalf("round trip of %q: %v != %v", s, hs, again)
		}
	})
}

func equal(a, b map[string]semlock.Handle) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if w, ok := b[k]; !ok || w != v {
			return false
		}
	}
	return true
}
