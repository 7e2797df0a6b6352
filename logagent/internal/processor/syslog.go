package processor

import (
	"strings"

	"github.com/logcollect/logcollect/pkg/record"
)

// syslog parses RFC 5424 and RFC 3164 lines, with or without the <PRI>
// that files written by rsyslog or syslog-ng leave out:
//
//	<165>1 2026-11-21T10:00:00.123Z web-1 app 42 ID47 [ex@32473 a="1"] message
//	<34>Nov 21 10:00:00 web-1 sshd[123]: message
//	Nov 21 10:00:00 web-1 sshd[123]: message
//	2026-11-21T10:00:00.123456+01:00 web-1 sshd[123]: message   (rsyslog's high-precision file format)
//
// into priority, facility and severity (numbers, with a PRI), timestamp
// (as written: the timestamp processor's layouts rfc3339 and syslog read
// it), hostname, app_name, proc_id, msg_id, structured_data (as written)
// and message. RFC 5424's "-" (nil) fields are left out.
type syslog struct{}

type syslogFields struct {
	pri                                          int64
	hasPri                                       bool
	timestamp, host, app, procID, msgID, sd, msg string
}

func (syslog) scan(s string, l *Line) bool {
	var f syslogFields
	if strings.HasPrefix(s, "<") {
		end := strings.IndexByte(s, '>')
		if end < 2 || end > 4 {
			return false
		}
		pri, ok := number(s[1:end])
		if !ok || pri > 191 {
			return false
		}
		f.pri, f.hasPri, s = pri, true, s[end+1:]
		if v := versionLen(s); v > 0 {
			if !f.scan5424(s[v+1:]) {
				return false
			}
			f.set(l)
			return true
		}
	}
	if !f.scan3164(s) {
		return false
	}
	f.set(l)
	return true
}

// versionLen is the length of an RFC 5424 VERSION followed by a space at
// the start of s, or 0.
func versionLen(s string) int {
	i := 0
	for i < len(s) && i < 3 && isDigit(s[i]) {
		i++
	}
	if i == 0 || i == 3 || s[0] == '0' || i >= len(s) || s[i] != ' ' {
		return 0
	}
	return i
}

func (f *syslogFields) scan5424(s string) bool {
	var ok bool
	for _, dst := range []*string{&f.timestamp, &f.host, &f.app, &f.procID, &f.msgID} {
		if *dst, s, ok = word(s); !ok || s == "" { // the structured data must follow

			return false
		}
	}
	switch {
	case strings.HasPrefix(s, "-"):
		s = s[1:]
	case strings.HasPrefix(s, "["):
		n := structuredDataLen(s)
		if n == 0 {
			return false
		}
		f.sd, s = s[:n], s[n:]
	default:
		return false
	}
	if s != "" && s[0] != ' ' {
		return false
	}
	f.msg = strings.TrimPrefix(strings.TrimPrefix(s, " "), "\uFEFF") // the BOM RFC 5424 allows before UTF-8
	return true
}

// structuredDataLen is the length of the SD-ELEMENTs at the start of s:
// [id param="value" ...] repeated, where a value may hold \" \\ and \].
func structuredDataLen(s string) int {
	i := 0
	for i < len(s) && s[i] == '[' {
		i++
		inValue := false
		for ; i < len(s); i++ {
			c := s[i]
			if inValue {
				if c == '\\' {
					i++
				} else if c == '"' {
					inValue = false
				}
				continue
			}
			if c == '"' {
				inValue = true
			} else if c == ']' {
				break
			}
		}
		if i >= len(s) {
			return 0
		}
		i++ // past ']'
	}
	return i
}

var months = [...]string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"}

func (f *syslogFields) scan3164(s string) bool {
	switch {
	case isBSDTimestamp(s):
		f.timestamp, s = s[:15], strings.TrimLeft(s[15:], " ")
	case len(s) > 10 && isDigit(s[0]) && isDigit(s[1]) && isDigit(s[2]) && isDigit(s[3]) && s[4] == '-':
		f.timestamp, s, _ = word(s)
	default:
		return false
	}
	var ok bool
	if f.host, s, ok = word(s); !ok {
		return false
	}
	// TAG[PID]: only when a ':' or '[' ends it; otherwise the rest is all
	// message ("last message repeated 2 times").
	for i := 0; i < len(s); i++ {
		switch s[i] {
		case ':':
			if i > 0 {
				f.app, f.msg = s[:i], strings.TrimPrefix(s[i+1:], " ")
				return true
			}
		case '[':
			end := strings.Index(s[i:], "]:")
			if i > 0 && end > 1 && !strings.Contains(s[i:i+end], " ") {
				f.app, f.procID, f.msg = s[:i], s[i+1:i+end], strings.TrimPrefix(s[i+end+2:], " ")
				return true
			}
		case ' ':
		default:
			continue
		}
		break
	}
	f.msg = s
	return true
}

// isBSDTimestamp reports whether s starts with "Mmm dd hh:mm:ss" (day
// padded with a space).
func isBSDTimestamp(s string) bool {
	if len(s) < 15 || s[3] != ' ' || s[6] != ' ' || s[9] != ':' || s[12] != ':' || len(s) > 15 && s[15] != ' ' {
		return false
	}
	_, ok := monthOf(s[:3])
	return ok && (s[4] == ' ' || isDigit(s[4])) && isDigit(s[5]) && isDigit(s[7]) && isDigit(s[8]) &&
		isDigit(s[10]) && isDigit(s[11]) && isDigit(s[13]) && isDigit(s[14])
}

func (f *syslogFields) set(l *Line) {
	if f.hasPri {
		l.set(record.IntField("priority", f.pri))
		l.set(record.IntField("facility", f.pri/8))
		l.set(record.IntField("severity", f.pri%8))
	}
	for _, kv := range [...]struct{ key, v string }{
		{"timestamp", f.timestamp}, {"hostname", f.host}, {"app_name", f.app}, {"proc_id", f.procID},
		{"msg_id", f.msgID}, {"structured_data", f.sd},
	} {
		if kv.v != "" && kv.v != "-" {
			l.set(record.StringField(kv.key, kv.v))
		}
	}
	l.set(record.StringField("message", f.msg))
}
