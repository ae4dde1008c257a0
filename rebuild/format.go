package rebuild

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

	"github.com/poolrun/poolrun/internal/handlewire"
	"github.com/poolrun/poolrun/semlock"
)

// EnvVar is the environment variable that carries the handles.
const EnvVar = "POOLRUN_SEMLOCKS"

// The wire format, version 1. The value is ASCII:
//
//	v1;ENTRY;ENTRY...
//	ENTRY = NAME=KEY,ID,KIND,MAX,UNDO,CREATOR,TOKEN[,SETNAME]
//
// "v1" alone is an empty set. Entries are written sorted by NAME (byte
// order); a reader accepts any order but rejects a NAME given twice.
//
//	NAME     the handle's name in this variable: 1..64 bytes of
//	         [A-Za-z0-9._-], starting with a letter or a digit
//	KEY      the SysV key as a signed 32-bit decimal (as in
//	         /proc/sysvipc/sem): 0 (IPC_PRIVATE) for a private set, never 0
//	         for a named one
//	ID       the semid, decimal 0..2147483647
//	KIND     the set's semlock.Kind, one letter: "s" semaphore (1),
//	         "m" mutex (2), "e" event (3), "b" barrier (4), "c" condition (5)
//	MAX      the max value, decimal 1..32767; 1 for a mutex
//	UNDO     "u" (unit operations use SEM_UNDO) or "n"; "u" for a mutex
//	CREATOR  pid of the creating process, decimal 1..2147483647
//	TOKEN    30-bit generation token, decimal 0..1073741823
//	SETNAME  the set's name (named sets only; see semlock.ValidateName)
//
// Numbers are canonical: decimal digits without a sign (KEY may start with
// "-"), without leading zeros. At most MaxHandles entries and MaxLen bytes.
const (
	// Version is the format version this package writes and reads.
	Version = "v1"
	// MaxHandles bounds the number of handles in one value.
	MaxHandles = 64
	// MaxLen bounds the length of one value in bytes.
	MaxLen = 16384
	// MaxNameLen bounds the length of a handle name.
	MaxNameLen = 64
)

// ErrFormat is wrapped by every error Decode and Encode return.
var ErrFormat = errors.New("malformed handle list")

// FormatError says what in a POOLRUN_SEMLOCKS value is wrong: which
// handle (by name or position) and which field. It wraps ErrFormat.
type FormatError struct {
	Handle string // `"jobs"` or "entry 3"; "" for the whole value
	Field  string // "version", "name", "key", "id", "kind", "max", "undo", "creator", "token", "set name", "count", "length"
	Msg    string
}

func (e *FormatError) Error() string {
	s := "rebuild: " + EnvVar
	if e.Handle != "" {
		s += ": handle " + e.Handle
	}
	if e.Field != "" {
		s += ": field " + e.Field
	}
	return s + ": " + e.Msg
}

// Unwrap returns ErrFormat.
func (e *FormatError) Unwrap() error { return ErrFormat }

// ValidateName reports whether name can name a handle in the variable.
func ValidateName(name string) error {
	if name == "" {
		return fmt.Errorf("empty name")
	}
	if len(name) > MaxNameLen {
		return fmt.Errorf("name of %d bytes is longer than %d", len(name), MaxNameLen)
	}
	for i := 0; i < len(name); i++ {
		c := name[i]
		alnum := c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9'
		if !alnum && (i == 0 || c != '.' && c != '_' && c != '-') {
			return fmt.Errorf("%q: byte %d (%q) not allowed: use letters, digits, '.', '_' or '-', starting with a letter or digit", name, i, c)
		}
	}
	return nil
}

// Encode writes hs in the wire format, sorted by name: the same map always
// gives the same string. It checks what Decode checks.
func Encode(hs map[string]semlock.Handle) (string, error) {
	if len(hs) > MaxHandles {
		return "", &FormatError{Field: "count", Msg: fmt.Sprintf("%d handles, at most %d", len(hs), MaxHandles)}
	}
	names := make([]string, 0, len(hs))
	for name := range hs {
		names = append(names, name)
	}
	sort.Strings(names)
	b := make([]byte, 0, 2+48*len(names))
	b = append(b, Version...)
	for _, name := range names {
		if err := ValidateName(name); err != nil {
			return "", &FormatError{Handle: strconv.Quote(name), Field: "name", Msg: err.Error()}
		}
		h := hs[name]
		if err := handlewire.Check(h); err != nil {
			return "", formatError(strconv.Quote(name), err)
		}
		b = append(b, ';')
		b = append(b, name...)
		b = append(b, '=')
		b = handlewire.Append(b, h)
	}
	if len(b) > MaxLen {
		return "", &FormatError{Field: "length", Msg: fmt.Sprintf("%d bytes, at most %d", len(b), MaxLen)}
	}
	return string(b), nil
}

// formatError is a handle's field error (from handlewire) as a
// FormatError naming the handle.
func formatError(handle string, err *handlewire.Error) *FormatError {
	return &FormatError{Handle: handle, Field: err.Field, Msg: err.Msg}
}

// Decode parses a value in the wire format. It is strict: a value longer
// than MaxLen or with more than MaxHandles entries, an unknown version, a
// malformed or duplicate name, a missing, extra, non-canonical or
// out-of-range field are each an error (a *FormatError wrapping ErrFormat)
// naming the variable, the handle and the field.
func Decode(s string) (map[string]semlock.Handle, error) {
	if len(s) > MaxLen {
		return nil, &FormatError{Field: "length", Msg: fmt.Sprintf("%d bytes, at most %d", len(s), MaxLen)}
	}
	version, rest, _ := strings.Cut(s, ";")
	if version != Version {
		v := version
		if len(v) > 16 {
			v = v[:16] + "..."
		}
		return nil, &FormatError{Field: "version", Msg: fmt.Sprintf("unknown version %q (this program reads %q): parent and child are different poolrun versions, or the value is not a handle list", v, Version)}
	}
	hs := map[string]semlock.Handle{}
	if version == s {
		return hs, nil
	}
	for i := 1; ; i++ {
		if i > MaxHandles {
			return nil, &FormatError{Field: "count", Msg: fmt.Sprintf("more than %d handles", MaxHandles)}
		}
		entry, more, found := strings.Cut(rest, ";")
		name, h, err := decodeEntry(entry)
		if err != nil {
			if err.Field != "name" && name != "" {
				err.Handle = strconv.Quote(name)
			} else {
				err.Handle = fmt.Sprintf("entry %d", i)
			}
			return nil, err
		}
		if _, dup := hs[name]; dup {
			return nil, &FormatError{Handle: strconv.Quote(name), Field: "name", Msg: "given twice"}
		}
		hs[name] = h
		if !found {
			return hs, nil
		}
		rest = more
	}
}

func decodeEntry(entry string) (string, semlock.Handle, *FormatError) {
	name, fields, ok := strings.Cut(entry, "=")
	if !ok {
		return "", semlock.Handle{}, &FormatError{Field: "name", Msg: "no '=' after the name (want NAME=KEY,ID,KIND,MAX,UNDO,CREATOR,TOKEN[,SETNAME])"}
	}
	if err := ValidateName(name); err != nil {
		return "", semlock.Handle{}, &FormatError{Field: "name", Msg: err.Error()}
	}
	h, err := handlewire.Parse(fields)
	if err != nil {
		return name, h, formatError("", err)
	}
	return name, h, nil
}
