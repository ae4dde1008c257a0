package rebuild

import (
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"

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
		if err := check(h); err != nil {
			err.Handle = strconv.Quote(name)
			return "", err
		}
		b = append(b, ';')
		b = append(b, name...)
		b = append(b, '=')
		b = appendHandle(b, h)
	}
	if len(b) > MaxLen {
		return "", &FormatError{Field: "length", Msg: fmt.Sprintf("%d bytes, at most %d", len(b), MaxLen)}
	}
	return string(b), nil
}

// EncodeHandle writes one handle as the part of an entry after "NAME=".
func EncodeHandle(h semlock.Handle) (string, error) {
	if err := check(h); err != nil {
		return "", err
	}
	return string(appendHandle(nil, h)), nil
}

func appendHandle(b []byte, h semlock.Handle) []byte {
	b = strconv.AppendInt(b, int64(h.Key), 10)
	b = append(b, ',')
	b = strconv.AppendInt(b, int64(h.ID), 10)
	letter, _ := kindLetter(h.Kind) // check() accepted it
	b = append(b, ',', letter, ',')
	b = strconv.AppendInt(b, int64(h.MaxValue), 10)
	if h.Undo {
		b = append(b, ",u,"...)
	} else {
		b = append(b, ",n,"...)
	}
	b = strconv.AppendInt(b, int64(h.Creator), 10)
	b = append(b, ',')
	b = strconv.AppendUint(b, uint64(h.Token), 10)
	if h.Name != "" {
		b = append(b, ',')
		b = append(b, h.Name...)
	}
	return b
}

const (
	maxID    = 1<<31 - 1
	maxToken = 1<<30 - 1
)

// kindLetters maps each semlock.Kind (by its stable number) to its letter
// in the wire format.
var kindLetters = [...]byte{1: 's', 2: 'm', 3: 'e', 4: 'b', 5: 'c'}

func kindLetter(k semlock.Kind) (byte, bool) {
	if int(k) >= len(kindLetters) || kindLetters[k] == 0 {
		return 0, false
	}
	return kindLetters[k], true
}

func letterKind(s string) (semlock.Kind, bool) {
	if len(s) != 1 {
		return 0, false
	}
	for k, c := range kindLetters {
		if c != 0 && c == s[0] {
			return semlock.Kind(k), true
		}
	}
	return 0, false
}

func validKind(k semlock.Kind) bool {
	_, ok := kindLetter(k)
	return ok
}

// check validates the fields of h the way Decode does.
func check(h semlock.Handle) *FormatError {
	switch {
	case !validKind(h.Kind):
		return &FormatError{Field: "kind", Msg: fmt.Sprintf("unknown kind %d", h.Kind)}
	case h.ID < 0 || h.ID > maxID:
		return &FormatError{Field: "id", Msg: fmt.Sprintf("%d outside 0..%d", h.ID, maxID)}
	case h.MaxValue < 1 || h.MaxValue > semlock.MaxValue:
		return &FormatError{Field: "max", Msg: fmt.Sprintf("%d outside 1..%d", h.MaxValue, semlock.MaxValue)}
	case h.Kind == semlock.Mutex && h.MaxValue != 1:
		return &FormatError{Field: "max", Msg: fmt.Sprintf("a mutex has max 1, not %d", h.MaxValue)}
	case h.Kind == semlock.Mutex && !h.Undo:
		return &FormatError{Field: "undo", Msg: "a mutex always uses undo"}
	case (h.Kind == semlock.EventKind || h.Kind == semlock.ConditionKind) && h.MaxValue != 1:
		return &FormatError{Field: "max", Msg: fmt.Sprintf("a%s has max 1, not %d", article(h.Kind), h.MaxValue)}
	case (h.Kind == semlock.EventKind || h.Kind == semlock.ConditionKind) && h.Undo:
		return &FormatError{Field: "undo", Msg: fmt.Sprintf("a%s never uses undo", article(h.Kind))}
	case h.Kind == semlock.BarrierKind && !h.Undo:
		return &FormatError{Field: "undo", Msg: "a barrier always uses undo"}
	case h.Kind >= semlock.EventKind && h.Name != "":
		return &FormatError{Field: "set name", Msg: fmt.Sprintf("a%s is private: it has no set name", article(h.Kind))}
	case h.Creator < 1 || h.Creator > maxID:
		return &FormatError{Field: "creator", Msg: fmt.Sprintf("pid %d outside 1..%d", h.Creator, maxID)}
	case h.Token > maxToken:
		return &FormatError{Field: "token", Msg: fmt.Sprintf("%d outside 0..%d", h.Token, maxToken)}
	case h.Name == "" && h.Key != 0:
		return &FormatError{Field: "key", Msg: fmt.Sprintf("a private set (no set name) has key 0, not %d", h.Key)}
	case h.Name != "" && h.Key == 0:
		return &FormatError{Field: "key", Msg: fmt.Sprintf("named set %q has key 0 (IPC_PRIVATE)", h.Name)}
	}
	if h.Name != "" {
		if err := semlock.ValidateName(h.Name); err != nil {
			return &FormatError{Field: "set name", Msg: err.Error()}
		}
	}
	return nil
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

// DecodeHandle parses one handle written by EncodeHandle.
func DecodeHandle(s string) (semlock.Handle, error) {
	h, err := decodeFields(s)
	if err != nil {
		return h, err
	}
	return h, nil
}

func decodeEntry(entry string) (string, semlock.Handle, *FormatError) {
	name, fields, ok := strings.Cut(entry, "=")
	if !ok {
		return "", semlock.Handle{}, &FormatError{Field: "name", Msg: "no '=' after the name (want NAME=KEY,ID,KIND,MAX,UNDO,CREATOR,TOKEN[,SETNAME])"}
	}
	if err := ValidateName(name); err != nil {
		return "", semlock.Handle{}, &FormatError{Field: "name", Msg: err.Error()}
	}
	h, err := decodeFields(fields)
	return name, h, err
}

func decodeFields(s string) (semlock.Handle, *FormatError) {
	var h semlock.Handle
	var f [8]string
	n := 0
	for {
		field, rest, more := strings.Cut(s, ",")
		if n == len(f) {
			return h, &FormatError{Msg: fmt.Sprintf("more than %d fields", len(f))}
		}
		f[n] = field
		n++
		if !more {
			break
		}
		s = rest
	}
	if n < 7 {
		return h, &FormatError{Msg: fmt.Sprintf("%d fields, want KEY,ID,KIND,MAX,UNDO,CREATOR,TOKEN[,SETNAME]", n)}
	}
	var err *FormatError
	var key int64
	if key, err = number("key", f[0], -1<<31, 1<<31-1); err != nil {
		return h, err
	}
	h.Key = int32(key)
	var v int64
	if v, err = number("id", f[1], 0, maxID); err != nil {
		return h, err
	}
	h.ID = int(v)
	k, ok := letterKind(f[2])
	if !ok {
		return h, &FormatError{Field: "kind", Msg: fmt.Sprintf("%s: want s (semaphore), m (mutex), e (event), b (barrier) or c (condition)", quote(f[2]))}
	}
	h.Kind = k
	if v, err = number("max", f[3], 1, semlock.MaxValue); err != nil {
		return h, err
	}
	h.MaxValue = int(v)
	switch f[4] {
	case "u":
		h.Undo = true
	case "n":
	default:
		return h, &FormatError{Field: "undo", Msg: fmt.Sprintf("%s: want u (undo) or n (no undo)", quote(f[4]))}
	}
	if v, err = number("creator", f[5], 1, maxID); err != nil {
		return h, err
	}
	h.Creator = int(v)
	if v, err = number("token", f[6], 0, maxToken); err != nil {
		return h, err
	}
	h.Token = uint32(v)
	if n == 8 {
		if f[7] == "" {
			return h, &FormatError{Field: "set name", Msg: "empty (leave out the trailing comma for a private set)"}
		}
		h.Name = f[7]
	}
	return h, check(h)
}

// number parses a canonical decimal in [lo, hi].
func number(field, s string, lo, hi int64) (int64, *FormatError) {
	digits := s
	if lo < 0 && len(s) > 0 && s[0] == '-' {
		digits = s[1:]
	}
	bad := len(digits) == 0 || len(digits) > 10 || len(digits) > 1 && digits[0] == '0' || s == "-0"
	for i := 0; i < len(digits) && !bad; i++ {
		bad = digits[i] < '0' || digits[i] > '9'
	}
	if bad {
		return 0, &FormatError{Field: field, Msg: fmt.Sprintf("%s is not a canonical decimal number", quote(s))}
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v < lo || v > hi {
		return 0, &FormatError{Field: field, Msg: fmt.Sprintf("%s outside %d..%d", quote(s), lo, hi)}
	}
	return v, nil
}

// quote quotes s for an error message, cut to a readable length.
func quote(s string) string {
	if len(s) > 24 {
		s = s[:24] + "..."
	}
	return strconv.Quote(s)
}

// article returns " event", " condition", ... with the article's "n" when
// the kind's name starts with a vowel, for messages of the form "a%s".
func article(k semlock.Kind) string {
	name := k.String()
	if strings.ContainsRune("aeiou", rune(name[0])) {
		return "n " + name
	}
	return " " + name
}
