package semlock

import (
	"encoding/binary"
	"fmt"
	"github.com/poolrun/poolrun/internal/sha256"
	"strconv"
)

// MaxNameLen is the longest set name.
const MaxNameLen = 128

// ValidateName reports whether name can name a set: 1 to MaxNameLen
// characters from [A-Za-z0-9._-], starting with a letter or digit.
func ValidateName(name string) error {
	if name == "" {
		return &Error{Op: "name", ID: -1, Kind: ErrName, Msg: "empty name: use letters, digits, '.', '_' or '-'"}
	}
	if len(name) > MaxNameLen {
		return &Error{Op: "name", ID: -1, Kind: ErrName, Msg: fmt.Sprintf("name of %d bytes is longer than %d", len(name), MaxNameLen)}
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if alnum || i > 0 && (c == '.' || c == '_' || c == '-') {
			continue
		}
		return &Error{Op: "name", ID: -1, Kind: ErrName,
			Msg: fmt.Sprintf("%q: byte %d (%q) not allowed: use letters, digits, '.', '_' or '-', starting with a letter or digit", name, i, c)}
	}
	return nil
}

// nameKey maps a user's set name to a SysV key and a 30-bit fingerprint,
// both from SHA-256 over the uid and the name, so users never share a key
// by accident and a key collision between two names is detected by the
// fingerprint the set carries (docs/design.md, rule 6).
func nameKey(uid int, name string) (key int32, fp uint32) {
	h := sha256.Sum256([]byte("poolrun/v1\x00" + strconv.Itoa(uid) + "\x00" + name))
	key = int32(binary.BigEndian.Uint32(h[0:4]))
	if key == 0 || key == -1 { // IPC_PRIVATE, and a key some tools treat as none
		key = 0x706f6f6c
	}
	fp = binary.BigEndian.Uint32(h[4:8]) & (1<<30 - 1)
	return key, fp
}
