package batch

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"time"
)

// joblogHeader is GNU parallel's --joblog header: tab-separated columns.
const joblogHeader = "Seq\tHost\tStarttime\tJobRuntime\tSend\tReceive\tExitval\tSignal\tCommand\n"

// joblog writes one line per finished job. Each line is one write(2), so
// a run killed half-way leaves a log that --resume can read.
type joblog struct {
	f      *os.File
	w      io.Writer // f, or Stdout for "-"
	path   string
	buf    []byte
	stdout bool // the joblog is Stdout ("-")
}

// openJoblog creates (or, when resuming or appending, appends to) the
// joblog; "-" is stdout. The header line starts a new or empty log, but
// not one appended to (GNU parallel's --joblog +FILE writes none).
func openJoblog(path string, appendTo, header bool, stdout io.Writer) (*joblog, error) {
	if path == "-" {
		if _, err := io.WriteString(stdout, joblogHeader); err != nil {
			return nil, &WriteError{Path: "stdout", Err: err}
		}
		return &joblog{w: stdout, path: "stdout", stdout: true}, nil
	}
	flags := os.O_WRONLY | os.O_CREATE | os.O_TRUNC
	if appendTo {
		flags = os.O_WRONLY | os.O_CREATE | os.O_APPEND
	}
	f, err := os.OpenFile(path, flags, 0o644)
	if err != nil {
		return nil, specErr("Joblog", "joblog %s: %v", path, unwrapPath(err))
	}
	if st, err := f.Stat(); err == nil && st.Size() == 0 && header {
		if _, err := f.WriteString(joblogHeader); err != nil {
			f.Close()
			return nil, &WriteError{Path: path, Err: unwrapPath(err)}
		}
	}
	return &joblog{f: f, w: f, path: path}, nil
}

// write logs one job: Host is ":" (this machine), Send is the bytes of
// input given on its stdin (a pipe batch's block; else 0), Receive is the
// bytes of output, Exitval -1 means killed by Signal.
func (l *joblog) write(seq int, start time.Time, runtime time.Duration, send, recv int64, exit, sig int, cmd string) error {
	b := l.buf[:0]
	b = strconv.AppendInt(b, int64(seq), 10)
	b = append(b, "\t:\t"...)
	b = fmt.Appendf(b, "%.3f\t%10.3f\t", float64(start.UnixMicro())/1e6, runtime.Seconds())
	b = strconv.AppendInt(b, send, 10)
	b = append(b, '\t')
	b = strconv.AppendInt(b, recv, 10)
	b = append(b, '\t')
	b = strconv.AppendInt(b, int64(exit), 10)
	b = append(b, '\t')
	b = strconv.AppendInt(b, int64(sig), 10)
	b = append(b, '\t')
	for i := 0; i < len(cmd); i++ {
		c := cmd[i]
		if c == '\n' || c == '\t' || c == '\r' {
			c = ' '
		}
		b = append(b, c)
	}
	b = append(b, '\n')
	l.buf = b
	if _, err := l.w.Write(b); err != nil {
		return &WriteError{Path: l.path, Err: unwrapPath(err)}
	}
	return nil
}

func (l *joblog) close() error {
	if l.f == nil {
		return nil
	}
	return l.f.Close()
}

// resumeState is what an earlier run's joblog says: for each Seq, whether
// its last recorded attempt succeeded.
type resumeState map[int]bool

// readJoblog reads a joblog for --resume/--resume-failed. A missing file
// means nothing ran yet.
func readJoblog(path string) (resumeState, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return resumeState{}, nil
	}
	if err != nil {
		return nil, specErr("Joblog", "joblog %s: %v", path, unwrapPath(err))
	}
	defer f.Close()
	st := resumeState{}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "Seq\t") {
			continue
		}
		fs := strings.SplitN(line, "\t", 9)
		if len(fs) < 8 {
			return nil, specErr("Joblog", "joblog %s line %d: %d columns, want 9 (Seq Host Starttime JobRuntime Send Receive Exitval Signal Command): is it a joblog?", path, n, len(fs))
		}
		seq, err1 := strconv.Atoi(fs[0])
		exit, err2 := strconv.Atoi(strings.TrimSpace(fs[6]))
		sig, err3 := strconv.Atoi(strings.TrimSpace(fs[7]))
		if err1 != nil || err2 != nil || err3 != nil || seq < 1 {
			return nil, specErr("Joblog", "joblog %s line %d: Seq, Exitval or Signal is not a number: is it a joblog?", path, n)
		}
		st[seq] = exit == 0 && sig == 0
	}
	if err := sc.Err(); err != nil {
		return nil, specErr("Joblog", "joblog %s: %w", path, err)
	}
	return st, nil
}

func unwrapPath(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}
