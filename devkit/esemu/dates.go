package esemu

import (
	"fmt"
	"math"
	"strconv"
	"strings"
	"time"
)

// defaultDateFormat is the format of a date field that declares none.
const defaultDateFormat = "strict_date_optional_time||epoch_millis"

// parseDate parses s with an ES format expression: alternatives separated by
// "||", each a built-in name or a Java-style pattern such as
// "yyyy-MM-dd HH:mm:ss".
func parseDate(s, format string) (time.Time, error) {
	if format == "" {
		format = defaultDateFormat
	}
	for _, f := range strings.Split(format, "||") {
		if t, ok := parseDateWith(strings.TrimSpace(s), strings.TrimSpace(f)); ok {
			return t, nil
		}
	}
	return time.Time{}, fmt.Errorf("failed to parse date field [%s] with format [%s]", s, format)
}

func parseDateWith(s, format string) (time.Time, bool) {
	switch format {
	case "strict_date_optional_time", "date_optional_time", "strict_date_optional_time_nanos",
		"strict_date_time", "date_time", "strict_date", "date", "strict_date_time_no_millis", "date_time_no_millis":
		return parseISODate(s)
	case "epoch_millis":
		return parseEpoch(s, 1e6)
	case "epoch_second":
		return parseEpoch(s, 1e9)
	case "basic_date":
		t, err := time.Parse("20060102", s)
		return t, err == nil
	}
	t, err := time.Parse(javaToGoLayout(format), s)
	return t.UTC(), err == nil
}

// parseISODate implements strict_date_optional_time: yyyy[-MM[-dd[Thh[:mm[:ss[.fff]]][zone]]]].
// Missing parts default to their minimum and a missing zone means UTC, as in ES.
func parseISODate(s string) (time.Time, bool) {
	p := isoParser{s: s}
	year, ok := p.digits(4)
	if !ok {
		return time.Time{}, false
	}
	month, day, hour, minute, sec, nanos := 1, 1, 0, 0, 0, 0
	loc := time.UTC
	if p.eat('-') {
		if month, ok = p.digits(2); !ok {
			return time.Time{}, false
		}
		if p.eat('-') {
			if day, ok = p.digits(2); !ok {
				return time.Time{}, false
			}
			if p.eat('T') {
				if hour, ok = p.digits(2); !ok {
					return time.Time{}, false
				}
				if p.eat(':') {
					if minute, ok = p.digits(2); !ok {
						return time.Time{}, false
					}
					if p.eat(':') {
						if sec, ok = p.digits(2); !ok {
							return time.Time{}, false
						}
						if p.eat('.') || p.eat(',') {
							if nanos, ok = p.fraction(); !ok {
								return time.Time{}, false
							}
						}
					}
				}
				if loc, ok = p.zone(); !ok {
					return time.Time{}, false
				}
			}
		}
	}
	if p.i != len(s) || month < 1 || month > 12 || day < 1 || hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, false
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, nanos, loc)
	if t.Day() != day { // e.g. February 30th normalised into March
		return time.Time{}, false
	}
	return t.UTC(), true
}

type isoParser struct {
	s string
	i int
}

func (p *isoParser) eat(c byte) bool {
	if p.i < len(p.s) && p.s[p.i] == c {
		p.i++
		return true
	}
	return false
}

func (p *isoParser) digits(n int) (int, bool) {
	if p.i+n > len(p.s) {
		return 0, false
	}
	v := 0
	for _, c := range []byte(p.s[p.i : p.i+n]) {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	p.i += n
	return v, true
}

func (p *isoParser) fraction() (int, bool) {
	start := p.i
	for p.i < len(p.s) && p.s[p.i] >= '0' && p.s[p.i] <= '9' {
		p.i++
	}
	digits := p.s[start:p.i]
	if digits == "" || len(digits) > 9 {
		return 0, false
	}
	v, _ := strconv.Atoi(digits + strings.Repeat("0", 9-len(digits)))
	return v, true
}

func (p *isoParser) zone() (*time.Location, bool) {
	if p.i == len(p.s) {
		return time.UTC, true
	}
	if p.eat('Z') {
		return time.UTC, true
	}
	sign := 1
	switch {
	case p.eat('+'):
	case p.eat('-'):
		sign = -1
	default:
		return nil, false
	}
	h, ok := p.digits(2)
	if !ok {
		return nil, false
	}
	m := 0
	if p.eat(':') {
		if m, ok = p.digits(2); !ok {
			return nil, false
		}
	} else if p.i < len(p.s) {
		if m, ok = p.digits(2); !ok {
			return nil, false
		}
	}
	return time.FixedZone("", sign*(h*3600+m*60)), true
}

func parseEpoch(s string, unit float64) (time.Time, bool) {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || math.IsInf(f, 0) || math.IsNaN(f) {
		return time.Time{}, false
	}
	return time.Unix(0, int64(f*unit)).UTC(), true
}

// javaToGoLayout translates the common letters of Java DateTimeFormatter
// patterns; anything else is kept literally.
func javaToGoLayout(f string) string {
	r := strings.NewReplacer(
		"yyyy", "2006", "uuuu", "2006", "yy", "06", "MMM", "Jan", "MM", "01", "dd", "02",
		"HH", "15", "hh", "03", "mm", "04", "ss", "05", "SSSSSSSSS", "000000000", "SSSSSS", "000000",
		"SSS", "000", "XXX", "Z07:00", "ZZ", "-07:00", "Z", "-0700", "'T'", "T", "a", "PM", "EEE", "Mon",
	)
	return r.Replace(f)
}

// epochMillis is how ES renders a date in sort values.
func epochMillis(t time.Time) int64 { return t.UnixMilli() }
