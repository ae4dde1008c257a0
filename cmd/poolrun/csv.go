package main

import (
	"fmt"
	"strings"

	"github.com/poolrun/poolrun/batch"
)

// GNU parallel's --csv: each input is a CSV record, its fields the job's
// arguments ({1} {2} …), split at --colsep (one character; default ,)
// as perl's Text::CSV splits them with binary => 1: a field in double
// quotes may hold the separator, a newline, and "" for a quote; a quote
// anywhere else, or a CR that does not end the line, is not CSV, and
// stops the run (parallel dies there).

// csvRecords joins the lines of src that make one CSV record, as GNU
// parallel reads them: a line with an odd number of '"' opens a quoted
// field that the next line with an odd number closes, the lines joined
// with delim (the newline they were read at).
func csvRecords(src batch.Source, delim byte) batch.Source {
	return sourceFunc(func() ([]string, error) {
		rec, err := src.Next()
		if err != nil || len(rec) != 1 {
			return rec, err
		}
		line := rec[0]
		for strings.Count(line, `"`)%2 == 1 {
			more, err := src.Next()
			if err != nil {
				break // the record ends with the input: parsing it says what is wrong
			}
			line += string(delim) + strings.Join(more, "")
			if strings.Count(more[0], `"`)%2 == 1 {
				break
			}
		}
		return []string{line}, nil
	})
}

// csvColumns parses each argument of src's inputs as a CSV record, its
// fields the job's arguments. An empty line is one empty field.
func csvColumns(src batch.Source, sep byte) batch.Source {
	return sourceFunc(func() ([]string, error) {
		rec, err := src.Next()
		if err != nil {
			return rec, err
		}
		var out []string
		for _, a := range rec {
			f, err := parseCSV(a, sep)
			if err != nil {
				return nil, err
			}
			out = append(out, f...)
		}
		return out, nil
	})
}

// parseCSV splits line into its fields as Text::CSV (binary => 1,
// sep_char => sep) parses it.
func parseCSV(line string, sep byte) ([]string, error) {
	bad := func(why string) error {
		return fmt.Errorf("CSV has unexpected format: ^%s^ (%s)", line, why)
	}
	if line == "" {
		return []string{""}, nil
	}
	var fields []string
	i := 0
	for {
		if i < len(line) && line[i] == '"' {
			var b strings.Builder
			i++
			for {
				if i >= len(line) {
					return nil, bad("a quoted field is not closed")
				}
				c := line[i]
				if c == '"' {
					if i+1 < len(line) && line[i+1] == '"' {
						b.WriteByte('"')
						i += 2
						continue
					}
					i++
					break
				}
				b.WriteByte(c)
				i++
			}
			fields = append(fields, b.String())
			switch {
			case i == len(line) || line[i] == '\n' || line[i] == '\r' && i+1 < len(line) && line[i+1] == '\n':
				return fields, nil // the end of the record
			case line[i] == sep:
				i++
			default:
				return nil, bad("text after a closing quote")
			}
		} else {
			j := i
			for j < len(line) && line[j] != sep && line[j] != '\n' {
				switch line[j] {
				case '"':
					return nil, bad("a quote inside a field without quotes")
				case '\r':
					if j+1 < len(line) && line[j+1] == '\n' {
						return append(fields, line[i:j]), nil
					}
					return nil, bad("a CR inside a field without quotes")
				}
				j++
			}
			fields = append(fields, line[i:j])
			if j == len(line) || line[j] == '\n' {
				return fields, nil // a newline ends the record: Text::CSV ignores what follows
			}
			i = j + 1
		}
		if i == len(line) {
			return append(fields, ""), nil // a separator at the end: an empty last field
		}
	}
}
