package pool

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"
)

// The parent and a worker talk over two pipes (the worker's fds 3 and 4,
// so that whatever a task prints cannot corrupt the stream) in frames:
//
//	u32 size (of what follows) | u8 type | u64 task id | body
//
// Frames are batched: a writer appends every frame it has to one buffer
// and writes it in one syscall, a reader reads through a large buffer,
// so a busy pool pays a few syscalls per batch of tasks, not per task.
const (
	fTask       byte = 1  // parent → worker: i64 deadline (unix ns, 0: none) | i64 timeout (ns from its start, 0: none) | u16 name size | name | input
	fCancel     byte = 2  // parent → worker: the task's ctx is done
	fReady      byte = 3  // worker → parent: started, initialised, waiting for tasks
	fInitFailed byte = 4  // worker → parent: the initializer failed: message
	fOK         byte = 5  // worker → parent: output
	fErr        byte = 6  // worker → parent: u8 error kind | u32 message size | message | stack
	fRevoke     byte = 7  // parent → worker: give the task back if it has not started
	fRevoked    byte = 8  // worker → parent: given back, not run
	fHalt       byte = 9  // parent → worker: if you still run this (cancelled) task, start no other and say so
	fHalted     byte = 10 // worker → parent: still runs it, will start no other: stop me
)

// Error kinds in an fErr frame.
const (
	kTask     byte = 1 // the task returned an error
	kPanic    byte = 2 // the task panicked: message is the value, then the stack
	kUnknown  byte = 3 // no task of that name is registered in the worker
	kCanceled byte = 4 // the task's ctx was cancelled
	kDeadline byte = 5 // the task's ctx deadline passed
	kLimit    byte = 6 // taking the concurrency limit's slot failed
	kGoexit   byte = 7 // the task called runtime.Goexit: the worker exits after this frame
	kTooLarge byte = 8 // the task's output is more than a frame holds
)

const (
	headerSize = 4 + 1 + 8
	// maxFrame bounds a frame so that a corrupt size cannot make a reader
	// allocate gigabytes. Writers check what they send against it (see
	// taskFits, outputFits): a bigger frame would break the stream (or,
	// past 4 GiB, wrap its size and be read as other frames), stopping
	// the worker and failing the task it runs, another's.
	maxFrame = 1 << 30
	// maxMsg bounds an error frame's message and stack each.
	maxMsg = 1 << 20
)

// taskFits reports whether a task frame for name and in is within
// maxFrame.
func taskFits(name string, in []byte) bool {
	return uint64(len(in)) <= maxFrame-headerSize-18-uint64(len(name))
}

// outputFits reports whether an output frame for out is within maxFrame.
func outputFits(out []byte) bool { return uint64(len(out)) <= maxFrame-headerSize }

// appendHeader appends a header for a frame whose body has n bytes.
func appendHeader(b []byte, typ byte, id uint64, n int) []byte {
	b = binary.LittleEndian.AppendUint32(b, uint32(1+8+n))
	b = append(b, typ)
	return binary.LittleEndian.AppendUint64(b, id)
}

func appendTask(b []byte, id uint64, deadline, timeout int64, name string, in []byte) []byte {
	b = appendHeader(b, fTask, id, 8+8+2+len(name)+len(in))
	b = binary.LittleEndian.AppendUint64(b, uint64(deadline))
	b = binary.LittleEndian.AppendUint64(b, uint64(timeout))
	b = binary.LittleEndian.AppendUint16(b, uint16(len(name)))
	b = append(b, name...)
	return append(b, in...)
}

func appendOK(b []byte, id uint64, out []byte) []byte {
	b = appendHeader(b, fOK, id, len(out))
	return append(b, out...)
}

func appendErr(b []byte, id uint64, kind byte, msg, stack string) []byte {
	msg, stack = truncate(msg), truncate(stack)
	b = appendHeader(b, fErr, id, 1+4+len(msg)+len(stack))
	b = append(b, kind)
	b = binary.LittleEndian.AppendUint32(b, uint32(len(msg)))
	b = append(b, msg...)
	return append(b, stack...)
}

// truncate cuts s to maxMsg bytes, saying so.
func truncate(s string) string {
	if len(s) <= maxMsg {
		return s
	}
	return s[:maxMsg-64] + fmt.Sprintf("... (%d bytes more)", len(s)-(maxMsg-64))
}

func appendMsg(b []byte, typ byte, id uint64, msg string) []byte {
	msg = truncate(msg)
	b = appendHeader(b, typ, id, len(msg))
	return append(b, msg...)
}

// frame is one decoded frame; body aliases nothing (it is the caller's).
type frame struct {
	typ  byte
	id   uint64
	body []byte
}

type frameReader struct {
	r   *bufio.Reader
	hdr [headerSize]byte
}

func newFrameReader(r io.Reader) *frameReader {
	return &frameReader{r: bufio.NewReaderSize(r, 64<<10)}
}

// next reads one frame. io.EOF means the stream ended between frames;
// anything else (io.ErrUnexpectedEOF in mid-frame) is an error.
func (fr *frameReader) next() (frame, error) {
	if _, err := io.ReadFull(fr.r, fr.hdr[:]); err != nil {
		return frame{}, err
	}
	n := binary.LittleEndian.Uint32(fr.hdr[:4])
	if n < 9 || n > maxFrame {
		return frame{}, fmt.Errorf("pool: corrupt frame: size %d", n)
	}
	f := frame{typ: fr.hdr[4], id: binary.LittleEndian.Uint64(fr.hdr[5:])}
	if n > 9 {
		f.body = make([]byte, n-9)
		if _, err := io.ReadFull(fr.r, f.body); err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return frame{}, err
		}
	}
	return f, nil
}

type taskBody struct {
	deadline int64
	timeout  int64
	name     string
	in       []byte
}

func parseTask(b []byte) (taskBody, error) {
	if len(b) < 18 {
		return taskBody{}, fmt.Errorf("pool: corrupt task frame: %d bytes", len(b))
	}
	t := taskBody{
		deadline: int64(binary.LittleEndian.Uint64(b)),
		timeout:  int64(binary.LittleEndian.Uint64(b[8:])),
	}
	n := int(binary.LittleEndian.Uint16(b[16:]))
	if len(b) < 18+n {
		return taskBody{}, fmt.Errorf("pool: corrupt task frame: name of %d bytes in %d", n, len(b))
	}
	t.name = string(b[18 : 18+n])
	t.in = b[18+n:]
	return t, nil
}

type errBody struct {
	kind  byte
	msg   string
	stack string
}

func parseErr(b []byte) (errBody, error) {
	if len(b) < 5 {
		return errBody{}, fmt.Errorf("pool: corrupt error frame: %d bytes", len(b))
	}
	e := errBody{kind: b[0]}
	n := int(binary.LittleEndian.Uint32(b[1:]))
	if n > len(b)-5 {
		return errBody{}, fmt.Errorf("pool: corrupt error frame: message of %d bytes in %d", n, len(b))
	}
	e.msg = string(b[5 : 5+n])
	e.stack = string(b[5+n:])
	return e, nil
}
