package record

import "time"

// ParseTimestamp parses an @timestamp as the agent writes it, or any RFC 3339
// time a foreign producer or a container runtime may have used, exactly as
// time.Parse(time.RFC3339Nano) does. It runs once per record in the
// transfer (Peek) and once per line of a container log in the agent, so the
// usual shape, 2026-12-02T10:00:00.123456789Z (UTC, 0 to 9 fractional
// digits), is read in place; anything else goes to time.Parse.
func ParseTimestamp[T ~string | ~[]byte](s T) (time.Time, error) {
	if t, ok := parseUTC(s); ok {
		return t, nil
	}
	return time.Parse(time.RFC3339Nano, string(s))
}

func parseUTC[T ~string | ~[]byte](b T) (time.Time, bool) {
	if len(b) < 20 || b[len(b)-1] != 'Z' || b[4] != '-' || b[7] != '-' || b[10] != 'T' || b[13] != ':' || b[16] != ':' {
		return time.Time{}, false
	}
	num := func(s T) (int, bool) {
		n := 0
		for i := range len(s) {
			c := s[i]
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
	if mo < 1 || mo > 12 || d < 1 || d > DaysIn(time.Month(mo), y) || h > 23 || mi > 59 || s > 59 {
		return time.Time{}, false
	}
	return time.Unix(UnixDays(y, time.Month(mo), d)*86400+int64(h*3600+mi*60+s), int64(ns)).UTC(), true
}

// DaysIn is the number of days in month of year (proleptic Gregorian, as
// the time package counts). With UnixDays it lets the parsers of times
// read on every line (here, and the agent's timestamp processor) skip
// time.Date, whose normalising was most of their cost.
func DaysIn(month time.Month, year int) int {
	if month == time.February {
		if year%4 == 0 && (year%100 != 0 || year%400 == 0) {
			return 29
		}
		return 28
	}
	return 30 + int((month+month/8)%2) // 31 in Jan, Mar, May, Jul, Aug, Oct, Dec
}

// UnixDays counts the days from 1970-01-01 to a valid date of a year from
// 0 to 9999. The count starts each year in March, so a leap day is the last
// day of its year and the months before it have fixed lengths; 400 years
// (146097 days) are added so no division is of a negative number.
func UnixDays(year int, month time.Month, day int) int64 {
	y, m := int64(year)+400, int64(month)
	if m <= 2 {
		y--
		m += 12
	}
	// (153*(m-3)+2)/5 is the number of days from March 1 to the first of
	// month m, for m from 3 (March) to 14 (February).
	return 365*y + y/4 - y/100 + y/400 + (153*(m-3)+2)/5 + int64(day) - 1 - 719468 - 146097
}
