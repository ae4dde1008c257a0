package sha256_test

import (
	std "crypto/sha256"
	"encoding/hex"
	"strings"
	"testing"

	"github.com/poolrun/poolrun/internal/sha256"
)

func TestKnownDigests(t *testing.T) {
	for in, want := range map[string]string{
		"":    "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
		"abc": "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad",
		"abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq": "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1",
	} {
		if got := sha256.Sum256([]byte(in)); hex.EncodeToString(got[:]) != want {
			t.Errorf("Sum256(%q) = %x, want %s", in, got, want)
		}
	}
}

// Every length around the block and padding boundaries agrees with
// crypto/sha256.
func TestMatchesCrypto(t *testing.T) {
	for n := 0; n < 300; n++ {
		in := []byte(strings.Repeat("poolrun/v1\x00", n/11+1)[:n])
		if got, want := sha256.Sum256(in), std.Sum256(in); got != want {
			t.Fatalf("length %d: %x, want %x", n, got, want)
		}
	}
}

func FuzzMatchesCrypto(f *testing.F) {
	f.Add([]byte("poolrun/v1\x000\x00build"))
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, in []byte) {
		if got, want := sha256.Sum256(in), std.Sum256(in); got != want {
			t.Fatalf("%q: %x, want %x", in, got, want)
		}
	})
}
