package main

import (
	"fmt"
	"os"
	"strings"
	"unicode"
	"unicode/utf8"
)

// shellEscape quotes s as GNU xargs 4.9 prints a command's arguments for
// -t and -p (gnulib's quotearg with shell_escape_quoting_style): bare if
// nothing in it is special to the shell; else in '...', a ' as '\”, a
// non-printable byte as $'\ooo' (\n, \t, \r, \a, \b, \f, \v by letter),
// or in "..." when it holds a ' and nothing that "..." would change.
// utf8: the locale's character set is UTF-8 (printable characters are
// kept as they are; in the C locale every byte >= 0x80 is escaped).
func shellEscape(s string, utf8Locale bool) string {
	if s == "" {
		return "''"
	}
	needQuotes := false
	hasSingle := false
	compat := true // every character means the same inside "..." as C and sh read it
	for i := 0; i < len(s); {
		c := s[i]
		n := 1
		switch {
		case c == '{' || c == '}':
			if len(s) == 1 {
				needQuotes = true
			} else {
				compat = false
			}
		case c == '#' || c == '~':
			if i == 0 {
				needQuotes = true
			} else {
				compat = false
			}
		case c == ' ':
			needQuotes = true
		case strings.IndexByte("!\"$&()*;<=>[^`|\\?", c) >= 0:
			needQuotes, compat = true, false
		case c == '\'':
			needQuotes, hasSingle = true, true
		case c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' || strings.IndexByte("%+,-./:]_@", c) >= 0:
		default:
			if p, w := printableAt(s[i:], utf8Locale); p {
				n = w
			} else {
				needQuotes, compat = true, false
			}
		}
		i += n
	}
	if !needQuotes {
		return s
	}
	if hasSingle && compat {
		return `"` + s + `"`
	}
	out, inEsc := quotePass(s, false, utf8Locale)
	if hasSingle {
		// gnulib scans a string with a ' first and writes it in a second
		// pass that starts in the state the scan ended in: after a
		// trailing escape, the first plain character reopens with ''.
		out, _ = quotePass(s, inEsc, utf8Locale)
	}
	return out
}

// quotePass writes s in '...' with $'...' escapes, starting inside an
// escape if inEsc; it returns the text and whether it ended inside one.
func quotePass(s string, inEsc, utf8Locale bool) (string, bool) {
	var b strings.Builder
	b.WriteByte('\'')
	for i := 0; i < len(s); {
		c := s[i]
		if c == '\'' {
			// Also right after $'...': its closing quote is the first one.
			inEsc = false
			b.WriteString(`'\''`)
			i++
			continue
		}
		p, w := true, 1
		if c < 0x20 || c >= 0x7f {
			p, w = printableAt(s[i:], utf8Locale)
		}
		if p {
			if inEsc {
				b.WriteString("''")
				inEsc = false
			}
			b.WriteString(s[i : i+w])
			i += w
			continue
		}
		if !inEsc {
			b.WriteString(`'$'`)
			inEsc = true
		}
		b.WriteByte('\\')
		switch c {
		case '\a':
			b.WriteByte('a')
		case '\b':
			b.WriteByte('b')
		case '\f':
			b.WriteByte('f')
		case '\n':
			b.WriteByte('n')
		case '\r':
			b.WriteByte('r')
		case '\t':
			b.WriteByte('t')
		case '\v':
			b.WriteByte('v')
		default:
			fmt.Fprintf(&b, "%03o", c)
		}
		i++
	}
	b.WriteByte('\'')
	return b.String(), inEsc
}

// printableAt reports whether s starts with a printable character in the
// locale, and its length in bytes.
func printableAt(s string, utf8Locale bool) (bool, int) {
	c := s[0]
	if c < 0x80 {
		return c >= 0x20 && c < 0x7f, 1
	}
	if !utf8Locale {
		return false, 1
	}
	r, w := utf8.DecodeRuneInString(s)
	if r == utf8.RuneError && w <= 1 {
		return false, 1
	}
	return unicode.IsGraphic(r) || unicode.Is(unicode.Cf, r), w
}

// localeIsUTF8 reports whether the locale's character set is UTF-8, as
// setlocale(LC_ALL, "") would find it from the environment.
func localeIsUTF8(category string) bool {
	v := os.Getenv("LC_ALL")
	if v == "" {
		v = os.Getenv(category)
	}
	if v == "" {
		v = os.Getenv("LANG")
	}
	v = strings.ToLower(v)
	return strings.Contains(v, "utf-8") || strings.Contains(v, "utf8")
}

// localeQuote quotes a file name as GNU's messages do (locale_quoting_style):
// ‘name’ in a UTF-8 locale, 'name' in the C locale.
func localeQuote(s string) string {
	if localeIsUTF8("LC_MESSAGES") {
		return "\u2018" + s + "\u2019"
	}
	return "'" + s + "'"
}
