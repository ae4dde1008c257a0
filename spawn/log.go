package spawn

import (
	"bytes"
	"encoding/json"
	"sort"
	"strings"
	"sync"

	"github.com/hashicorp/go-hclog"
)

// maxLine bounds one forwarded line; a longer one is cut into pieces.
const maxLine = 64 << 10

// lineLogger is the io.Writer that forwards a child's stderr to an hclog
// logger, one log entry per line.
type lineLogger struct {
	mu  sync.Mutex
	log hclog.Logger
	buf []byte
}

func newLineLogger(l hclog.Logger) *lineLogger { return &lineLogger{log: l} }

func (w *lineLogger) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	n := len(p)
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			w.buf = append(w.buf, p...)
			for len(w.buf) >= maxLine {
				w.emit(w.buf[:maxLine])
				w.buf = append(w.buf[:0], w.buf[maxLine:]...)
			}
			break
		}
		if len(w.buf) > 0 {
			w.buf = append(w.buf, p[:i]...)
			w.emit(w.buf)
			w.buf = w.buf[:0]
		} else {
			w.emit(p[:i])
		}
		p = p[i+1:]
	}
	return n, nil
}

// Flush forwards a last line that has no newline.
func (w *lineLogger) Flush() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.buf) > 0 {
		w.emit(w.buf)
		w.buf = nil
	}
}

func (w *lineLogger) emit(line []byte) {
	line = bytes.TrimRight(line, "\r")
	if len(bytes.TrimSpace(line)) == 0 {
		return
	}
	level, msg, args := parseLine(line)
	w.log.Log(level, msg, args...)
}

// parseLine reads an hclog JSON line (its level, message and fields), an
// hclog text line ("... [WARN]  name: message"), or any other line
// (level Info, the line as the message).
func parseLine(line []byte) (hclog.Level, string, []any) {
	if line[0] == '{' {
		var m map[string]any
		if json.Unmarshal(line, &m) == nil {
			if lv, ok := m["@level"].(string); ok {
				msg, _ := m["@message"].(string)
				keys := make([]string, 0, len(m))
				for k := range m {
					if !strings.HasPrefix(k, "@") {
						keys = append(keys, k)
					}
				}
				sort.Strings(keys)
				args := make([]any, 0, 2*len(keys))
				for _, k := range keys {
					args = append(args, k, m[k])
				}
				return levelOf(lv), msg, args
			}
		}
	}
	s := string(line)
	head := s
	if len(head) > 64 {
		head = head[:64]
	}
	if i := strings.IndexByte(head, '['); i >= 0 {
		if j := strings.IndexByte(head[i:], ']'); j > 0 {
			if lv := hclog.LevelFromString(head[i+1 : i+j]); lv != hclog.NoLevel && lv != hclog.Off {
				return lv, strings.TrimSpace(s[i+j+1:]), nil
			}
		}
	}
	return hclog.Info, s, nil
}

func levelOf(s string) hclog.Level {
	if lv := hclog.LevelFromString(s); lv != hclog.NoLevel && lv != hclog.Off {
		return lv
	}
	return hclog.Info
}
