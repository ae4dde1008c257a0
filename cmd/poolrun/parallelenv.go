package main

import (
	"fmt"
	"strings"
)

// envOptions are the options in $PARALLEL, which GNU parallel reads before
// those of its command line (PARALLEL="-k -j1" parallel ...): split into
// words as the shell splits them.
func envOptions(v string) ([]string, error) {
	words, err := shellWords(v)
	if err != nil {
		return nil, fmt.Errorf("$PARALLEL %q: %v: fix its quoting or unset it", v, err)
	}
	return words, nil
}

// shellWords splits s into words as sh does, without expansions: blanks
// separate words, '...' keeps everything, "..." keeps everything but \",
// \\, \$ and \` (and a backslash-newline), a backslash outside quotes
// keeps the next byte.
func shellWords(s string) ([]string, error) {
	var words []string
	var w strings.Builder
	inWord := false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c == ' ' || c == '\t' || c == '\n':
			if inWord {
				words = append(words, w.String())
				w.Reset()
				inWord = false
			}
		case c == '\\':
			inWord = true
			if i+1 < len(s) {
				i++
				if s[i] != '\n' {
					w.WriteByte(s[i])
				}
			}
		case c == '\'':
			inWord = true
			j := strings.IndexByte(s[i+1:], '\'')
			if j < 0 {
				return nil, fmt.Errorf("unmatched single quote")
			}
			w.WriteString(s[i+1 : i+1+j])
			i += j + 1
		case c == '"':
			inWord = true
			closed := false
			for i++; i < len(s); i++ {
				if s[i] == '"' {
					closed = true
					break
				}
				if s[i] == '\\' && i+1 < len(s) && strings.IndexByte("\"\\$`\n", s[i+1]) >= 0 {
					i++
					if s[i] != '\n' {
						w.WriteByte(s[i])
					}
					continue
				}
				w.WriteByte(s[i])
			}
			if !closed {
				return nil, fmt.Errorf("unmatched double quote")
			}
		default:
			inWord = true
			w.WriteByte(c)
		}
	}
	if inWord {
		words = append(words, w.String())
	}
	return words, nil
}
