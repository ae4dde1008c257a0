package rebuild

import (
	"errors"
	"strings"
	"testing"

	"github.com/poolrun/poolrun/internal/leakcheck"
	"github.com/poolrun/poolrun/semlock"
)

var (
	hJobs  = semlock.Handle{Key: 0, ID: 32769, Kind: semlock.Semaphore, MaxValue: 4, Undo: true, Creator: 1234, Token: 987654321}
	hLock  = semlock.Handle{Key: 0, ID: 7, Kind: semlock.Mutex, MaxValue: 1, Undo: true, Creator: 99, Token: 0}
	hNamed = semlock.Handle{Name: "build-jobs", Key: -1412567278, ID: 65538, Kind: semlock.Semaphore, MaxValue: 8, Undo: false, Creator: 1, Token: 1<<30 - 1}
)

func TestEncodeFormat(t *testing.T) {
	leakcheck.Check(t)
	got, err := Encode(map[string]semlock.Handle{"lock": hLock, "jobs": hJobs, "cap": hNamed})
	if err != nil {
		t.Fatal(err)
	}
	want := "v1;cap=-1412567278,65538,s,8,n,1,1073741823,build-jobs;jobs=0,32769,s,4,u,1234,987654321;lock=0,7,m,1,u,99,0"
	if got != want {
		t.Fatalf("Encode:\n got %s\nwant %s", got, want)
	}
	hs, err := Decode(got)
	if err != nil {
		t.Fatal(err)
	}
	if len(hs) != 3 || hs["lock"] != hLock || hs["jobs"] != hJobs || hs["cap"] != hNamed {
		t.Fatalf("Decode(Encode) = %+v", hs)
	}
	if empty, err := Encode(nil); err != nil || empty != "v1" {
		t.Fatalf("Encode(nil) = %q, %v; want v1", empty, err)
	}
	if hs, err := Decode("v1"); err != nil || len(hs) != 0 {
		t.Fatalf("Decode(v1) = %v, %v", hs, err)
	}
}

func TestDecodeRejects(t *testing.T) {
	leakcheck.Check(t)
	ok := "0,5,s,4,u,100,77"
	long := "v1" + strings.Repeat(";x=0,5,s,4,u,100,77", 1000)
	var many strings.Builder
	many.WriteString("v1")
	for i := 0; i <= MaxHandles; i++ {
		many.WriteString(";h" + strings.Repeat("a", i%5) + string(rune('a'+i%26)) + string(rune('a'+i/26)) + "=" + ok)
	}
	for _, tc := range []struct {
		in, handle, field string
	}{
		{"", "", "version"},
		{"garbage", "", "version"},
		{"v2;a=" + ok, "", "version"},
		{"V1;a=" + ok, "", "version"},
		{long, "", "length"},
		{many.String(), "", "count"},
		{"v1;", "entry 1", "name"},
		{"v1;a=" + ok + ";", "entry 2", "name"},
		{"v1;=" + ok, "entry 1", "name"},
		{"v1;-a=" + ok, "entry 1", "name"},
		{"v1;a b=" + ok, "entry 1", "name"},
		{"v1;" + strings.Repeat("a", 65) + "=" + ok, "entry 1", "name"},
		{"v1;a" + ok, "entry 1", "name"},
		{"v1;a=" + ok + ";a=" + ok, `"a"`, "name"},
		{"v1;a=1,5,s,4,u,100,77", `"a"`, "key"},
		{"v1;a=0,5,e,2,n,100,77", `"a"`, "max"},
		{"v1;a=0,5,e,1,u,100,77", `"a"`, "undo"},
		{"v1;a=0,5,c,3,n,100,77", `"a"`, "max"},
		{"v1;a=0,5,c,1,u,100,77", `"a"`, "undo"},
		{"v1;a=0,5,b,5,n,100,77", `"a"`, "undo"},
		{"v1;a=5,5,e,1,n,100,77,ev", `"a"`, "set name"},
		{"v1;a=0,5,s,4,u,100,77,", `"a"`, "set name"},
		{"v1;a=0,5,s,4,u,100,77,bad/name", `"a"`, "key"},
		{"v1;a=5,5,s,4,u,100,77,bad/name", `"a"`, "set name"},
		{"v1;a=00,5,s,4,u,100,77", `"a"`, "key"},
		{"v1;a=-0,5,s,4,u,100,77,x", `"a"`, "key"},
		{"v1;a=2147483648,5,s,4,u,100,77,x", `"a"`, "key"},
		{"v1;a=0,-5,s,4,u,100,77", `"a"`, "id"},
		{"v1;a=0,+5,s,4,u,100,77", `"a"`, "id"},
		{"v1;a=0,05,s,4,u,100,77", `"a"`, "id"},
		{"v1;a=0,2147483648,s,4,u,100,77", `"a"`, "id"},
		{"v1;a=0,99999999999,s,4,u,100,77", `"a"`, "id"},
		{"v1;a=0,5,x,4,u,100,77", `"a"`, "kind"},
		{"v1;a=0,5,,4,u,100,77", `"a"`, "kind"},
		{"v1;a=0,5,ss,4,u,100,77", `"a"`, "kind"},
		{"v1;a=0,5,S,4,u,100,77", `"a"`, "kind"},
		{"v1;a=0,5,s,0,u,100,77", `"a"`, "max"},
		{"v1;a=0,5,s,32768,u,100,77", `"a"`, "max"},
		{"v1;a=0,5,m,2,u,100,77", `"a"`, "max"},
		{"v1;a=0,5,s,4,x,100,77", `"a"`, "undo"},
		{"v1;a=0,5,m,1,n,100,77", `"a"`, "undo"},
		{"v1;a=0,5,s,4,u,0,77", `"a"`, "creator"},
		{"v1;a=0,5,s,4,u,100,1073741824", `"a"`, "token"},
		{"v1;a=0,5,s,4,u,100", `"a"`, ""},
		{"v1;a=0,5,s,4,u,100,77,x,y", `"a"`, ""},
		{"v1;a=0,5,s,4,u,100,7 7", `"a"`, "token"},
	} {
		_, err := Decode(tc.in)
		var fe *FormatError
		if !errors.As(err, &fe) || !errors.Is(err, ErrFormat) {
			t.Errorf("Decode(%.40q) = %v, want a *FormatError", tc.in, err)
			continue
		}
		if fe.Handle != tc.handle || fe.Field != tc.field {
			t.Errorf("Decode(%.40q): handle %q field %q, want %q %q (%v)", tc.in, fe.Handle, fe.Field, tc.handle, tc.field, err)
		}
		if !strings.HasPrefix(err.Error(), "rebuild: "+EnvVar+": ") {
			t.Errorf("Decode(%.40q): %q does not name the variable", tc.in, err)
		}
	}
}

// TestKindLetters: every kind semlock knows travels, under the letter the
// format documents (the first of its name). internal/handlewire tests the
// letters themselves.
func TestKindLetters(t *testing.T) {
	leakcheck.Check(t)
	for k := semlock.Kind(1); k < 16; k++ {
		name := k.String()
		if strings.HasPrefix(name, "kind(") {
			continue // not a kind semlock knows
		}
		undo := k != semlock.EventKind && k != semlock.ConditionKind
		h := semlock.Handle{ID: 1, Kind: k, MaxValue: 1, Undo: undo, Creator: 1, Token: 1}
		enc, err := Encode(map[string]semlock.Handle{"h": h})
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if want := "v1;h=0,1," + name[:1] + ","; !strings.HasPrefix(enc, want) {
			t.Errorf("%s: %q, want it to start with %q", name, enc, want)
		}
		if got, err := Decode(enc); err != nil || got["h"] != h {
			t.Errorf("%s: %q decodes to %+v, %v", name, enc, got, err)
		}
	}
}

func TestEncodeRejects(t *testing.T) {
	leakcheck.Check(t)
	bad := hJobs
	bad.MaxValue = 0
	for _, hs := range []map[string]semlock.Handle{
		{"": hJobs},
		{"a;b": hJobs},
		{"a=b": hJobs},
		{"a": bad},
		{"a": {Kind: semlock.Semaphore, MaxValue: 1, Creator: 1, Key: 5}},
	} {
		if s, err := Encode(hs); !errors.Is(err, ErrFormat) {
			t.Errorf("Encode(%+v) = %q, %v; want ErrFormat", hs, s, err)
		}
	}
	// A bad handle's error names the handle and the field, as Decode's do.
	_, err := Encode(map[string]semlock.Handle{"a": bad})
	var fe *FormatError
	if !errors.As(err, &fe) || fe.Handle != `"a"` || fe.Field != "max" {
		t.Errorf("Encode of max 0: %v, want handle \"a\" field max", err)
	}
}
