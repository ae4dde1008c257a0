package handlewire

import (
	"errors"
	"strings"
	"testing"

	"github.com/poolrun/poolrun/semlock"
)

// TestKindLetters: every kind semlock knows has a letter, the letter the
// format documents (the first of its name), and a handle of each kind
// reads back as written.
func TestKindLetters(t *testing.T) {
	for k := semlock.Kind(1); k < 16; k++ {
		name := k.String()
		if strings.HasPrefix(name, "kind(") {
			if _, ok := kindLetter(k); ok {
				t.Errorf("kind %d has a letter but no name", k)
			}
			continue // not a kind semlock knows
		}
		letter, ok := kindLetter(k)
		if !ok || letter != name[0] {
			t.Errorf("kind %d (%s): letter %q, %v", k, name, letter, ok)
		}
		undo := k != semlock.EventKind && k != semlock.ConditionKind
		h := semlock.Handle{ID: 1, Kind: k, MaxValue: 1, Undo: undo, Creator: 1, Token: 1}
		enc, err := Encode(h)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got, err := Decode(enc); err != nil || got != h {
			t.Errorf("%s: %q decodes to %+v, %v", name, enc, got, err)
		}
	}
}

func TestRoundTrip(t *testing.T) {
	for _, tc := range []struct {
		h    semlock.Handle
		want string
	}{
		{semlock.Handle{Key: 0, ID: 32769, Kind: semlock.Semaphore, MaxValue: 4, Undo: true, Creator: 1234, Token: 987654321}, "0,32769,s,4,u,1234,987654321"},
		{semlock.Handle{Name: "build-jobs", Key: -1412567278, ID: 65538, Kind: semlock.Semaphore, MaxValue: 8, Creator: 1, Token: 1<<30 - 1}, "-1412567278,65538,s,8,n,1,1073741823,build-jobs"},
		{semlock.Handle{ID: 7, Kind: semlock.Mutex, MaxValue: 1, Undo: true, Creator: 99}, "0,7,m,1,u,99,0"},
	} {
		got, err := Encode(tc.h)
		if err != nil || got != tc.want {
			t.Errorf("Encode(%+v) = %q, %v; want %q", tc.h, got, err, tc.want)
			continue
		}
		if h, err := Decode(got); err != nil || h != tc.h {
			t.Errorf("Decode(%q) = %+v, %v; want %+v", got, h, err, tc.h)
		}
	}
}

func TestRejects(t *testing.T) {
	for _, tc := range []struct{ in, field string }{
		{"0,5,s,4,u,100", ""},
		{"0,5,s,4,u,100,77,a,b", ""},
		{"1,5,s,4,u,100,77", "key"},
		{"00,5,s,4,u,100,77", "key"},
		{"0,-5,s,4,u,100,77", "id"},
		{"0,5,x,4,u,100,77", "kind"},
		{"0,5,m,2,u,100,77", "max"},
		{"0,5,s,0,u,100,77", "max"},
		{"0,5,m,1,n,100,77", "undo"},
		{"0,5,s,4,y,100,77", "undo"},
		{"0,5,s,4,u,0,77", "creator"},
		{"0,5,s,4,u,100,1073741824", "token"},
		{"0,5,s,4,u,100,77,", "set name"},
		{"5,5,s,4,u,100,77,bad/name", "set name"},
	} {
		_, err := Decode(tc.in)
		var we *Error
		if !errors.As(err, &we) || we.Field != tc.field {
			t.Errorf("Decode(%q) = %v, want an *Error on field %q", tc.in, err, tc.field)
		}
	}
	if _, err := Encode(semlock.Handle{Kind: semlock.Semaphore, MaxValue: 1, Creator: 1, Key: 5}); err == nil {
		t.Error("Encode of a private set with a key succeeded")
	}
}
