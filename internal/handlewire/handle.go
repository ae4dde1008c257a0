package handlewire

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/poolrun/poolrun/semlock"
)

const (
	maxID    = 1<<31 - 1
	maxToken = 1<<30 - 1
)

// Error says which field of a handle is wrong and how. rebuild turns it
// into a FormatError that also names the variable and the handle.
type Error struct {
	Field string // "key", "id", "kind", "max", "undo", "creator", "token", "set name", or "" for the field count
	Msg   string
}

func (e *Error) Error() string {
	if e.Field == "" {
		return "handle: " + e.Msg
	}
	return "handle: field " + e.Field + ": " + e.Msg
}

// Encode checks h and writes its fields: KEY,ID,KIND,MAX,UNDO,CREATOR,TOKEN
// and, for a named set, ",SETNAME". The error is an *Error.
func Encode(h semlock.Handle) (string, error) {
	if err := Check(h); err != nil {
		return "", err
	}
	return string(Append(nil, h)), nil
}

// Decode parses the fields Encode writes, as strictly as Parse. The error
// is an *Error.
func Decode(s string) (semlock.Handle, error) {
	h, err := Parse(s)
	if err != nil {
		return h, err
	}
	return h, nil
}

// Append appends h's fields to b, as Encode writes them. h must have
// passed Check.
func Append(b []byte, h semlock.Handle) []byte {
	b = strconv.AppendInt(b, int64(h.Key), 10)
	b = append(b, ',')
	b = strconv.AppendInt(b, int64(h.ID), 10)
	letter, _ := kindLetter(h.Kind) // Check accepted it
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

// kindLetters maps each semlock.Kind (by its stable number) to its letter
// in the wire format.
var kindLetters = [...]byte{1: 's', 2: 'm', 3: 'e', 4: 'b', 5: 'c', 6: 't'}

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

// Check validates the fields of h the way Parse does: a handle Check
// accepts is written by Append and read back by Parse unchanged.
func Check(h semlock.Handle) *Error {
	_, validKind := kindLetter(h.Kind)
	switch {
	case !validKind:
		return &Error{Field: "kind", Msg: fmt.Sprintf("unknown kind %d", h.Kind)}
	case h.ID < 0 || h.ID > maxID:
		return &Error{Field: "id", Msg: fmt.Sprintf("%d outside 0..%d", h.ID, maxID)}
	case h.MaxValue < 1 || h.MaxValue > semlock.MaxValue:
		return &Error{Field: "max", Msg: fmt.Sprintf("%d outside 1..%d", h.MaxValue, semlock.MaxValue)}
	case h.Kind == semlock.Mutex && h.MaxValue != 1:
		return &Error{Field: "max", Msg: fmt.Sprintf("a mutex has max 1, not %d", h.MaxValue)}
	case h.Kind == semlock.Mutex && !h.Undo:
		return &Error{Field: "undo", Msg: "a mutex always uses undo"}
	case (h.Kind == semlock.EventKind || h.Kind == semlock.ConditionKind) && h.MaxValue != 1:
		return &Error{Field: "max", Msg: fmt.Sprintf("a%s has max 1, not %d", article(h.Kind), h.MaxValue)}
	case (h.Kind == semlock.EventKind || h.Kind == semlock.ConditionKind) && h.Undo:
		return &Error{Field: "undo", Msg: fmt.Sprintf("a%s never uses undo", article(h.Kind))}
	case h.Kind == semlock.BarrierKind && !h.Undo:
		return &Error{Field: "undo", Msg: "a barrier always uses undo"}
	case h.Kind >= semlock.EventKind && h.Name != "":
		return &Error{Field: "set name", Msg: fmt.Sprintf("a%s is private: it has no set name", article(h.Kind))}
	case h.Creator < 1 || h.Creator > maxID:
		return &Error{Field: "creator", Msg: fmt.Sprintf("pid %d outside 1..%d", h.Creator, maxID)}
	case h.Token > maxToken:
		return &Error{Field: "token", Msg: fmt.Sprintf("%d outside 0..%d", h.Token, maxToken)}
	case h.Name == "" && h.Key != 0:
		return &Error{Field: "key", Msg: fmt.Sprintf("a private set (no set name) has key 0, not %d", h.Key)}
	case h.Name != "" && h.Key == 0:
		return &Error{Field: "key", Msg: fmt.Sprintf("named set %q has key 0 (IPC_PRIVATE)", h.Name)}
	}
	if h.Name != "" {
		if err := semlock.ValidateName(h.Name); err != nil {
			return &Error{Field: "set name", Msg: err.Error()}
		}
	}
	return nil
}

// Parse reads a handle's fields: exactly 7, or 8 with a set name; numbers
// canonical (decimal, no sign but KEY's "-", no leading zeros) and in
// range; then Check.
func Parse(s string) (semlock.Handle, *Error) {
	var h semlock.Handle
	var f [8]string
	n := 0
	for {
		field, rest, more := strings.Cut(s, ",")
		if n == len(f) {
			return h, &Error{Msg: fmt.Sprintf("more than %d fields", len(f))}
		}
		f[n] = field
		n++
		if !more {
			break
		}
		s = rest
	}
	if n < 7 {
		return h, &Error{Msg: fmt.Sprintf("%d fields, want KEY,ID,KIND,MAX,UNDO,CREATOR,TOKEN[,SETNAME]", n)}
	}
	var err *Error
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
		return h, &Error{Field: "kind", Msg: fmt.Sprintf("%s: want s (semaphore), m (mutex), e (event), b (barrier) or c (condition)", quote(f[2]))}
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
		return h, &Error{Field: "undo", Msg: fmt.Sprintf("%s: want u (undo) or n (no undo)", quote(f[4]))}
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
			return h, &Error{Field: "set name", Msg: "empty (leave out the trailing comma for a private set)"}
		}
		h.Name = f[7]
	}
	return h, Check(h)
}

// number parses a canonical decimal in [lo, hi].
func number(field, s string, lo, hi int64) (int64, *Error) {
	digits := s
	if lo < 0 && len(s) > 0 && s[0] == '-' {
		digits = s[1:]
	}
	bad := len(digits) == 0 || len(digits) > 10 || len(digits) > 1 && digits[0] == '0' || s == "-0"
	for i := 0; i < len(digits) && !bad; i++ {
		bad = digits[i] < '0' || digits[i] > '9'
	}
	if bad {
		return 0, &Error{Field: field, Msg: fmt.Sprintf("%s is not a canonical decimal number", quote(s))}
	}
	v, err := strconv.ParseInt(s, 10, 64)
	if err != nil || v < lo || v > hi {
		return 0, &Error{Field: field, Msg: fmt.Sprintf("%s outside %d..%d", quote(s), lo, hi)}
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
