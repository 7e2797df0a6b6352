package decode

import (
	"unicode/utf16"
	"unicode/utf8"

	"github.com/logcollect/logcollect/pkg/record"
)

// dockerFast decodes a json-file line of the usual shape without
// encoding/json: one object of string members "log", "stream" and "time",
// each at most once, no whitespace. Anything else (other keys, escapes it
// does not know, invalid UTF-8, lone surrogates, ...) reports ok false and
// the caller falls back to encoding/json, so the results never differ.
// The message is decoded into buf.
func dockerFast(ev *Event, line, buf []byte) (complete, ok bool) {
	if len(line) < 2 || line[0] != '{' || line[len(line)-1] != '}' {
		return false, false
	}
	var seen [3]bool
	var timeB []byte
	i, closed := 1, line[1] == '}' && len(line) == 2 // {}: no members
	for !closed {
		key, n, ok := rawKey(line, i)
		if !ok {
			return false, false
		}
		i = n
		if i >= len(line) || line[i] != ':' {
			return false, false
		}
		i++
		var k int
		switch string(key) { // no allocation: the compiler compares in place
		case "log":
			k = 0
		case "stream":
			k = 1
		case "time":
			k = 2
		default:
			return false, false
		}
		if seen[k] {
			return false, false
		}
		seen[k] = true
		if i >= len(line) || line[i] != '"' {
			return false, false
		}
		if k == 0 {
			msg, n, ok := appendString(buf, line, i+1)
			if !ok {
				return false, false
			}
			ev.Msg, i = msg, n
		} else {
			s, n, ok := rawKey(line, i) // stream and time: plain strings only
			if !ok {
				return false, false
			}
			i = n
			if k == 1 {
				ev.Stream = streamName(s)
			} else {
				timeB = s
			}
		}
		if i >= len(line) {
			return false, false
		}
		if line[i] == '}' {
			if i != len(line)-1 {
				return false, false
			}
			closed = true
			continue
		}
		if line[i] != ',' {
			return false, false
		}
		i++
	}
	if ev.Msg == nil {
		ev.Msg = buf
	}
	if seen[2] {
		ev.Time, _ = record.ParseTimestamp(timeB)
	}
	complete = len(ev.Msg) > 0 && ev.Msg[len(ev.Msg)-1] == '\n'
	if complete {
		ev.Msg = ev.Msg[:len(ev.Msg)-1]
	}
	return complete, true
}

// rawKey returns the string starting with the quote at line[i] when it has
// only printable ASCII and no escape, and the index after its closing quote.
func rawKey(line []byte, i int) ([]byte, int, bool) {
	if i >= len(line) || line[i] != '"' {
		return nil, 0, false
	}
	for j := i + 1; j < len(line); j++ {
		switch c := line[j]; {
		case c == '"':
			return line[i+1 : j], j + 1, true
		case c == '\\' || c < 0x20 || c >= 0x80:
			return nil, 0, false
		}
	}
	return nil, 0, false
}

// appendString decodes the JSON string whose body starts at line[i] into
// dst, and returns the index after its closing quote.
func appendString(dst, line []byte, i int) ([]byte, int, bool) {
	for i < len(line) {
		// Copy the run of plain bytes at once.
		j := i
		for j < len(line) && line[j] != '"' && line[j] != '\\' && line[j] >= 0x20 && line[j] < 0x80 {
			j++
		}
		dst = append(dst, line[i:j]...)
		i = j
		if i >= len(line) {
			return nil, 0, false
		}
		switch c := line[i]; {
		case c == '"':
			return dst, i + 1, true
		case c < 0x20:
			return nil, 0, false
		case c >= 0x80:
			r, n := utf8.DecodeRune(line[i:])
			if r == utf8.RuneError && n == 1 {
				return nil, 0, false // encoding/json would write U+FFFD
			}
			dst = append(dst, line[i:i+n]...)
			i += n
		default: // backslash
			if i+1 >= len(line) {
				return nil, 0, false
			}
			switch line[i+1] {
			case '"', '\\', '/':
				dst = append(dst, line[i+1])
			case 'b':
				dst = append(dst, '\b')
			case 'f':
				dst = append(dst, '\f')
			case 'n':
				dst = append(dst, '\n')
			case 'r':
				dst = append(dst, '\r')
			case 't':
				dst = append(dst, '\t')
			case 'u':
				r, ok := hex4(line, i+2)
				if !ok {
					return nil, 0, false
				}
				i += 6
				if utf16.IsSurrogate(r) {
					// Only a valid pair; encoding/json's U+FFFD cases fall back.
					if i+1 >= len(line) || line[i] != '\\' || line[i+1] != 'u' {
						return nil, 0, false
					}
					r2, ok := hex4(line, i+2)
					if !ok {
						return nil, 0, false
					}
					r = utf16.DecodeRune(r, r2)
					if r == utf8.RuneError {
						return nil, 0, false
					}
					i += 6
				}
				dst = utf8.AppendRune(dst, r)
				continue
			default:
				return nil, 0, false
			}
			i += 2
		}
	}
	return nil, 0, false
}

func hex4(b []byte, i int) (rune, bool) {
	if i+4 > len(b) {
		return 0, false
	}
	var r rune
	for _, c := range b[i : i+4] {
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return 0, false
		}
		r = r<<4 | rune(c)
	}
	return r, true
}

// streamName returns s as a string, without allocating for the usual two.
func streamName(s []byte) string {
	switch string(s) {
	case "stdout":
		return "stdout"
	case "stderr":
		return "stderr"
	}
	return string(s)
}
