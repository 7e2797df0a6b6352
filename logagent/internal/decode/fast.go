package decode

import (
	"time"
	"unicode/utf16"
	"unicode/utf8"
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
		ev.Time, _ = parseTime(timeB)
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

// parseTime parses an RFC 3339 UTC time as time.Parse(time.RFC3339Nano)
// does. The usual shape, 2026-12-02T10:00:00.123456789Z (0 to 9
// fractional digits), is parsed in place; anything else goes to time.Parse.
func parseTime(b []byte) (time.Time, error) {
	if t, ok := parseUTC(b); ok {
		return t, nil
	}
	return time.Parse(time.RFC3339Nano, string(b))
}

func parseUTC(b []byte) (time.Time, bool) {
	if len(b) < 20 || b[len(b)-1] != 'Z' || b[4] != '-' || b[7] != '-' || b[10] != 'T' || b[13] != ':' || b[16] != ':' {
		return time.Time{}, false
	}
	num := func(s []byte) (int, bool) {
		n := 0
		for _, c := range s {
			if c < '0' || c > '9' {
				return 0, false
			}
			n = n*10 + int(c-'0')
		}
		return n, true
	}
	y, ok1 := num(b[0:4])
	mo, ok2 := num(b[5:7])
	d, ok3 := num(b[8:10])
	h, ok4 := num(b[11:13])
	mi, ok5 := num(b[14:16])
	s, ok6 := num(b[17:19])
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6) {
		return time.Time{}, false
	}
	ns := 0
	if frac := b[19 : len(b)-1]; len(frac) > 0 {
		if frac[0] != '.' || len(frac) < 2 || len(frac) > 10 {
			return time.Time{}, false
		}
		f, ok := num(frac[1:])
		if !ok {
			return time.Time{}, false
		}
		for range 10 - len(frac) {
			f *= 10
		}
		ns = f
	}
	if mo < 1 || mo > 12 || d < 1 || d > daysIn(time.Month(mo), y) || h > 23 || mi > 59 || s > 59 {
		return time.Time{}, false
	}
	return time.Date(y, time.Month(mo), d, h, mi, s, ns, time.UTC), true
}

func daysIn(m time.Month, y int) int {
	return time.Date(y, m+1, 0, 0, 0, 0, 0, time.UTC).Day()
}
