package processor

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/logcollect/logcollect/pkg/record"
)

// timestampConfig takes @timestamp from a field, trying its layouts in
// order; the read time stays as event.created:
//
//	{"type":"timestamp","field":"parsed.time","layouts":["nginx"]}
//	{"type":"timestamp","field":"json.ts","layouts":["unix_ms","rfc3339"]}
//	{"type":"timestamp","field":"parsed.when","layouts":["2006-01-02 15:04:05"],"timezone":"Europe/Berlin"}
//
// timezone (an IANA name; default UTC) applies to times that state no
// zone. A line whose field is missing or matches no layout keeps the read
// time and is flagged timestamp_failed.
type timestampConfig struct {
	Type     string   `json:"type"`
	Field    string   `json:"field"`
	Layouts  []string `json:"layouts"`
	Timezone string   `json:"timezone"`
}

// layout parses a time; read is when the line was read (for formats that
// leave out the year).
type layout func(s string, loc *time.Location, read time.Time) (time.Time, bool)

var namedLayouts = map[string]layout{
	"rfc3339": func(s string, _ *time.Location, _ time.Time) (time.Time, bool) {
		t, err := time.Parse(time.RFC3339Nano, s) // the standard library's fast path
		return t, err == nil
	},
	"iso8601": parseISO8601,
	"nginx":   parseCLF,
	"apache":  parseCLF,
	"syslog":  parseBSD,
	"unix":    unixLayout(time.Second),
	"unix_ms": unixLayout(time.Millisecond),
	"unix_us": unixLayout(time.Microsecond),
	"unix_ns": unixLayout(time.Nanosecond),
}

const layoutFix = `write rfc3339, iso8601, nginx, apache, syslog, unix, unix_ms, unix_us, unix_ns, or a Go layout like "2006-01-02 15:04:05.000"`

type timestamp struct {
	from    fieldRef
	layouts []layout
	loc     *time.Location
}

func (c *timestampConfig) compile(Options) (step, error) {
	if c.Field == "" {
		return nil, &ConfigError{Field: "field", Problem: "missing", Fix: `name the field that holds the time, e.g. "parsed.time"`}
	}
	from, err := parseFieldRef("field", c.Field)
	if err != nil {
		return nil, err
	}
	if len(c.Layouts) == 0 {
		return nil, &ConfigError{Field: "layouts", Problem: "missing", Fix: layoutFix}
	}
	ts := &timestamp{from: from, loc: time.UTC}
	for i, name := range c.Layouts {
		l, ok := namedLayouts[name]
		if !ok {
			if err := misnamedLayout(name); err != nil {
				err.Field = fmt.Sprintf("layouts[%d]", i)
				return nil, err
			}
			if sample := time.Date(2001, 2, 3, 4, 5, 6, 0, time.UTC).Format(name); sample == name {
				return nil, badValue(fmt.Sprintf("layouts[%d]", i), name, "neither a layout name nor a Go layout (it has no 2006, 01, 15, ... element)", layoutFix)
			}
			l = goLayout(name)
		}
		ts.layouts = append(ts.layouts, l)
	}
	if c.Timezone == "Local" {
		// The agent's own zone would make the document depend on the
		// agent's TZ, not on the line.
		return nil, badValue("timezone", c.Timezone, "the agent's zone would vary with its environment",
			`write the IANA name of the zone the log is written in, like "Europe/Berlin"`)
	}
	if c.Timezone != "" {
		loc, err := time.LoadLocation(c.Timezone)
		if err != nil {
			return nil, badValue("timezone", c.Timezone, "not a time zone the agent knows",
				`write an IANA name like "Europe/Berlin" (the host's zoneinfo), or "UTC"`)
		}
		ts.loc = loc
	}
	return ts, nil
}

func (p *timestamp) apply(l *Line) Verdict {
	read := l.Time
	if !l.Created.IsZero() { // an earlier timestamp processor moved it
		read = l.Created
	}
	l.Created = read
	if v, ok := p.from.get(l); ok {
		for _, parse := range p.layouts {
			if t, ok := parse(v, p.loc, read); ok {
				l.Time = t
				return Keep
			}
		}
	}
	l.Flag(record.FlagTimestampFailed)
	return Keep
}

func goLayout(layout string) layout {
	return func(s string, loc *time.Location, _ time.Time) (time.Time, bool) {
		t, err := time.ParseInLocation(layout, s, loc)
		return t, err == nil
	}
}

// parseISO8601 reads 2006-01-02T15:04:05 with a 'T' or a space, an
// optional fraction (. or ,) and an optional zone (Z, +07:00, +0700).
func parseISO8601(s string, loc *time.Location, _ time.Time) (time.Time, bool) {
	if t, err := time.Parse(time.RFC3339Nano, s); err == nil {
		return t, true
	}
	if len(s) > 10 && s[10] == ' ' {
		s = s[:10] + "T" + s[11:]
	}
	for _, l := range [...]string{"2006-01-02T15:04:05.999999999Z07:00", "2006-01-02T15:04:05.999999999Z0700", "2006-01-02T15:04:05.999999999"} {
		if t, err := time.ParseInLocation(l, s, loc); err == nil {
			return t, true
		}
	}
	return time.Time{}, false
}

// parseCLF reads the common log format's time, 21/Nov/2026:10:00:00 +0100,
// by hand: time.Parse takes several times as long.
func parseCLF(s string, _ *time.Location, _ time.Time) (time.Time, bool) {
	if len(s) != 26 || s[2] != '/' || s[6] != '/' || s[11] != ':' || s[14] != ':' || s[17] != ':' || s[20] != ' ' {
		return time.Time{}, false
	}
	day, ok1 := digits(s[0:2])
	month, ok2 := monthOf(s[3:6])
	year, ok3 := digits(s[7:11])
	hour, ok4 := digits(s[12:14])
	minute, ok5 := digits(s[15:17])
	sec, ok6 := digits(s[18:20])
	zh, ok7 := digits(s[22:24])
	zm, ok8 := digits(s[24:26])
	// The zone's limits are time.Parse's, so both read the same times.
	if !(ok1 && ok2 && ok3 && ok4 && ok5 && ok6 && ok7 && ok8) || hour > 23 || minute > 59 || sec > 59 || zh > 24 || zm > 60 {
		return time.Time{}, false
	}
	offset := (zh*60 + zm) * 60
	switch s[21] {
	case '-':
		offset = -offset
	case '+':
	default:
		return time.Time{}, false
	}
	if day < 1 || day > record.DaysIn(month, year) {
		return time.Time{}, false
	}
	// time.Date's normalising is most of its cost, and the fields are
	// checked already: the seconds are counted here.
	secs := record.UnixDays(year, month, day)*86400 + int64(hour*3600+minute*60+sec-offset)
	return time.Unix(secs, 0).UTC(), true
}

// parseBSD reads RFC 3164's "Nov 21 10:00:00", which has no year: of the
// read time's year and the years either side, the one that puts the line
// nearest the read time (a December line read on 1 January is last
// year's).
func parseBSD(s string, loc *time.Location, read time.Time) (time.Time, bool) {
	if len(s) != 15 || !isBSDTimestamp(s) {
		return time.Time{}, false
	}
	month, _ := monthOf(s[0:3])
	day, _ := digits(strings.TrimLeft(s[4:6], " "))
	hour, _ := digits(s[7:9])
	minute, _ := digits(s[10:12])
	sec, _ := digits(s[13:15])
	if hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, false
	}
	var best time.Time
	found := false
	year := read.In(loc).Year()
	for _, y := range [...]int{year, year - 1, year + 1} {
		t, ok := date(y, month, day, hour, minute, sec, loc)
		if ok && (!found || absDuration(t.Sub(read)) < absDuration(best.Sub(read))) {
			best, found = t, true
		}
	}
	return best, found
}

func absDuration(d time.Duration) time.Duration {
	if d < 0 {
		return -d
	}
	return d
}

// date is time.Date that refuses a day the month does not have.
func date(year int, month time.Month, day, hour, minute, sec int, loc *time.Location) (time.Time, bool) {
	t := time.Date(year, month, day, hour, minute, sec, 0, loc)
	return t, day >= 1 && t.Day() == day
}

func digits(s string) (int, bool) {
	n, ok := number(s)
	return int(n), ok
}

// monthOf reads a month's abbreviation in any case, as time.Parse does.
func monthOf(s string) (time.Month, bool) {
	if len(s) != 3 {
		return 0, false
	}
	k := foldedMonth(s)
	for i, m := range monthKeys {
		if k == m {
			return time.Month(i + 1), true
		}
	}
	return 0, false
}

// monthKeys are the months as foldedMonth reads them: one comparison a
// month, where comparing the strings cost a fifth of parsing a time.
var monthKeys = func() (keys [12]uint32) {
	for i, m := range months {
		keys[i] = foldedMonth(m)
	}
	return keys
}()

// foldedMonth packs three bytes with 0x20 or-ed in (equalFoldASCII's
// folding: the months are letters).
func foldedMonth(s string) uint32 {
	return uint32(s[0]|0x20)<<16 | uint32(s[1]|0x20)<<8 | uint32(s[2]|0x20)
}

// unixLayout reads a count of unit since 1970 (a decimal, maybe with a
// fraction: 1732183200.123 for unix).
func unixLayout(unit time.Duration) layout {
	return func(s string, _ *time.Location, _ time.Time) (time.Time, bool) {
		if s == "" || !(isDigit(s[0]) || s[0] == '-') {
			return time.Time{}, false
		}
		if n, err := strconv.ParseInt(s, 10, 64); err == nil {
			if n > math.MaxInt64/int64(unit) || n < math.MinInt64/int64(unit) {
				return time.Time{}, false
			}
			return time.Unix(0, 0).Add(time.Duration(n) * unit).UTC(), true
		}
		whole, frac, ok := strings.Cut(s, ".")
		if !ok || frac == "" {
			return time.Time{}, false
		}
		for i := 0; i < len(frac); i++ {
			if !isDigit(frac[i]) {
				return time.Time{}, false
			}
		}
		n, err := strconv.ParseInt(whole, 10, 64)
		if err != nil || n > math.MaxInt64/int64(unit) || n < math.MinInt64/int64(unit) {
			return time.Time{}, false
		}
		// The fraction of a unit, to the nanosecond, without float rounding.
		var nanos int64
		scale := int64(unit)
		for i := 0; i < len(frac) && scale > 1; i++ {
			scale /= 10
			nanos += int64(frac[i]-'0') * scale
		}
		if s[0] == '-' {
			nanos = -nanos
		}
		return time.Unix(0, 0).Add(time.Duration(n)*unit + time.Duration(nanos)).UTC(), true
	}
}

// goLayoutNames are the names of the time package's layout constants,
// which people write where the layout itself belongs ("RFC3339" is also a
// valid, and wrong, Go layout: its 3 is the hour).
var goLayoutNames = map[string]string{
	"ANSIC": time.ANSIC, "UnixDate": time.UnixDate, "RubyDate": time.RubyDate, "RFC822": time.RFC822,
	"RFC822Z": time.RFC822Z, "RFC850": time.RFC850, "RFC1123": time.RFC1123, "RFC1123Z": time.RFC1123Z,
	"RFC3339": time.RFC3339, "RFC3339Nano": time.RFC3339Nano, "Kitchen": time.Kitchen, "Stamp": time.Stamp,
	"StampMilli": time.StampMilli, "StampMicro": time.StampMicro, "StampNano": time.StampNano,
	"DateTime": time.DateTime, "DateOnly": time.DateOnly, "TimeOnly": time.TimeOnly,
}

// misnamedLayout catches a layout name in the wrong case and a Go
// constant's name written for its value.
func misnamedLayout(name string) *ConfigError {
	for n := range namedLayouts {
		if strings.EqualFold(n, name) {
			return badValue("", name, "layout names are lower case", fmt.Sprintf("write %q", n))
		}
	}
	if v, ok := goLayoutNames[name]; ok {
		return badValue("", name, "the name of a Go constant, not a layout", fmt.Sprintf("write its value %q", v))
	}
	return nil
}
