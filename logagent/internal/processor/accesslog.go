package processor

import (
	"strconv"
	"strings"

	"github.com/logcollect/logcollect/pkg/record"
)

// accessLog parses the NCSA common and combined log formats that nginx
// and Apache write by default:
//
//	client ident user [time] "request" status bytes ["referrer" "user_agent" [request_time]]
//
// into client_ip, ident, user, time, method, path, protocol (or request
// when it is not three words), status and bytes (numbers), referrer,
// user_agent and request_time (seconds, a number; nginx's $request_time
// appended to combined). A "-" field is left out. Quoted fields may hold
// \" (Apache) or \x22 (nginx); a quote ends a field only when a space or
// the end of the line follows it, so a bare quote in a user agent does
// not cut it.
type accessLog struct{}

type accessFields struct {
	client, ident, user, time, request, status, bytes, referrer, userAgent, requestTime string
	statusN, bytesN                                                                     int64
	requestTimeF                                                                        float64
}

func (accessLog) scan(s string, l *Line) bool {
	var a accessFields
	var ok bool
	if a.client, s, ok = word(s); !ok {
		return false
	}
	if a.ident, s, ok = word(s); !ok {
		return false
	}
	if a.user, s, ok = word(s); !ok {
		return false
	}
	if a.time, s, ok = bracketed(s); !ok {
		return false
	}
	if a.request, s, ok = quoted(s); !ok {
		return false
	}
	if a.status, s, ok = word(s); !ok || len(a.status) != 3 {
		return false
	}
	if a.statusN, ok = number(a.status); !ok {
		return false
	}
	a.bytes, s, _ = word(s)
	if a.bytes == "" {
		return false
	}
	if a.bytes != "-" {
		if a.bytesN, ok = number(a.bytes); !ok {
			return false
		}
	}
	if strings.HasPrefix(s, `"`) { // combined
		if a.referrer, s, ok = quoted(s); !ok {
			return false
		}
		if a.userAgent, s, ok = quoted(s); !ok {
			return false
		}
	}
	if s != "" {
		// request_time, if that is what follows; other additions to the
		// format are left in the message.
		t, _, _ := word(s)
		if f, err := strconv.ParseFloat(t, 64); err == nil && t != "" && isDigit(t[0]) {
			a.requestTime, a.requestTimeF = t, f
		}
	}
	a.set(l)
	return true
}

func (a *accessFields) set(l *Line) {
	// Gathered here and added at once: a call of l.set per field cost
	// more than the fields.
	var fs [12]record.Field
	n := 0
	add := func(f record.Field) {
		fs[n] = f
		n++
	}
	str := func(key, v string) {
		if v != "-" && v != "" {
			add(record.StringField(key, v))
		}
	}
	str("client_ip", a.client)
	str("ident", a.ident)
	str("user", a.user)
	str("time", a.time)
	if method, rest, ok := strings.Cut(a.request, " "); ok {
		if path, proto, ok := strings.Cut(rest, " "); ok && !strings.Contains(proto, " ") {
			str("method", method)
			str("path", path)
			str("protocol", proto)
		} else {
			str("request", a.request)
		}
	} else {
		str("request", a.request)
	}
	add(record.IntField("status", a.statusN))
	if a.bytes != "-" {
		add(record.IntField("bytes", a.bytesN))
	}
	str("referrer", a.referrer)
	str("user_agent", a.userAgent)
	if a.requestTime != "" {
		add(record.FloatField("request_time", a.requestTimeF))
	}
	l.setAll(fs[:n])
}

// word splits s at its first space: the word, and the rest after the
// spaces that follow it.
func word(s string) (w, rest string, ok bool) {
	i := strings.IndexByte(s, ' ')
	if i < 0 {
		return s, "", s != ""
	}
	return s[:i], trimSpaces(s[i:]), i > 0
}

// trimSpaces is strings.TrimLeft(s, " "), inlined: the fields of a line
// are mostly one space apart.
func trimSpaces(s string) string {
	for len(s) > 0 && s[0] == ' ' {
		s = s[1:]
	}
	return s
}

// bracketed reads "[text] ".
func bracketed(s string) (text, rest string, ok bool) {
	if !strings.HasPrefix(s, "[") {
		return "", "", false
	}
	i := strings.IndexByte(s, ']')
	if i < 0 {
		return "", "", false
	}
	return s[1:i], trimSpaces(s[i+1:]), true
}

// quoted reads `"text" ` as written (escapes are kept): the closing quote
// is the first unescaped one followed by a space or the end.
func quoted(s string) (text, rest string, ok bool) {
	if !strings.HasPrefix(s, `"`) {
		return "", "", false
	}
	for i := 1; ; i++ {
		q := strings.IndexByte(s[i:], '"') // vectorised; escapes are rare
		if q < 0 {
			return "", "", false
		}
		i += q
		if escapedAt(s, i) || i+1 < len(s) && s[i+1] != ' ' {
			continue
		}
		return s[1:i], trimSpaces(s[i+1:]), true
	}
}

// escapedAt reports whether an odd number of backslashes precede s[i].
func escapedAt(s string, i int) bool {
	n := 0
	for i > 0 && s[i-1] == '\\' {
		n++
		i--
	}
	return n%2 == 1
}

// number parses a non-negative decimal integer without allocating.
func number(s string) (int64, bool) {
	if s == "" || len(s) > 18 {
		return 0, false
	}
	var n int64
	for i := 0; i < len(s); i++ {
		if !isDigit(s[i]) {
			return 0, false
		}
		n = n*10 + int64(s[i]-'0')
	}
	return n, true
}
