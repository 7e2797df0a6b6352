package esemu

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// parseDateMath evaluates ES date math ("now-15m", "now-1d/d",
// "2026-11-21||+1M/d") relative to now. roundUp selects the end of a rounded
// unit, which ES uses for lte and gt bounds so that "lte: now/d" includes the
// whole day.
func parseDateMath(expr, format string, now time.Time, roundUp bool, loc *time.Location) (time.Time, error) {
	var anchor time.Time
	var ops string
	switch {
	case strings.HasPrefix(expr, "now"):
		anchor, ops = now, expr[len("now"):]
	default:
		base := expr
		if i := strings.Index(expr, "||"); i >= 0 {
			base, ops = expr[:i], expr[i+2:]
		}
		t, err := parseDateIn(base, format, loc)
		if err != nil {
			return time.Time{}, err
		}
		if roundUp && !hasTime(base) && strings.Contains(base, "-") {
			// ES fills the missing time of an upper bound with its maximum, so
			// "lte": "2026-11-21" includes that whole day.
			t = t.Add(24*time.Hour - time.Nanosecond)
		}
		anchor = t
	}
	t := anchor.In(loc)
	for ops != "" {
		op := ops[0]
		ops = ops[1:]
		switch op {
		case '+', '-':
			n := 0
			for n < len(ops) && ops[n] >= '0' && ops[n] <= '9' {
				n++
			}
			amount := 1
			if n > 0 {
				amount, _ = strconv.Atoi(ops[:n])
			}
			ops = ops[n:]
			if ops == "" {
				return time.Time{}, fmt.Errorf("truncated date math [%s]", expr)
			}
			if op == '-' {
				amount = -amount
			}
			var err error
			if t, err = addUnit(t, ops[0], amount); err != nil {
				return time.Time{}, fmt.Errorf("date math [%s]: %w", expr, err)
			}
			ops = ops[1:]
		case '/':
			if ops == "" {
				return time.Time{}, fmt.Errorf("truncated date math [%s]", expr)
			}
			var err error
			if t, err = roundUnit(t, ops[0], roundUp); err != nil {
				return time.Time{}, fmt.Errorf("date math [%s]: %w", expr, err)
			}
			ops = ops[1:]
		default:
			return time.Time{}, fmt.Errorf("operator not supported for date math [%s]", expr)
		}
	}
	return t.UTC(), nil
}

func parseDateIn(s, format string, loc *time.Location) (time.Time, error) {
	if loc != time.UTC && !hasZone(s) {
		if t, err := parseDate(s, format); err == nil {
			y, mo, d := t.Date()
			return time.Date(y, mo, d, t.Hour(), t.Minute(), t.Second(), t.Nanosecond(), loc), nil
		}
	}
	return parseDate(s, format)
}

func hasTime(s string) bool { return strings.Contains(s, "T") }

func hasZone(s string) bool {
	i := strings.Index(s, "T")
	return i >= 0 && strings.ContainsAny(s[i:], "Z+-")
}

func addUnit(t time.Time, unit byte, n int) (time.Time, error) {
	switch unit {
	case 'y':
		return t.AddDate(n, 0, 0), nil
	case 'M':
		return t.AddDate(0, n, 0), nil
	case 'w':
		return t.AddDate(0, 0, 7*n), nil
	case 'd':
		return t.AddDate(0, 0, n), nil
	case 'h', 'H':
		return t.Add(time.Duration(n) * time.Hour), nil
	case 'm':
		return t.Add(time.Duration(n) * time.Minute), nil
	case 's':
		return t.Add(time.Duration(n) * time.Second), nil
	}
	return t, fmt.Errorf("unit [%c] not supported", unit)
}

func roundUnit(t time.Time, unit byte, up bool) (time.Time, error) {
	y, mo, d := t.Date()
	var start time.Time
	var next func(time.Time) time.Time
	switch unit {
	case 'y':
		start, next = time.Date(y, 1, 1, 0, 0, 0, 0, t.Location()), func(s time.Time) time.Time { return s.AddDate(1, 0, 0) }
	case 'M':
		start, next = time.Date(y, mo, 1, 0, 0, 0, 0, t.Location()), func(s time.Time) time.Time { return s.AddDate(0, 1, 0) }
	case 'w':
		offset := (int(t.Weekday()) + 6) % 7 // ISO weeks start on Monday
		start = time.Date(y, mo, d-offset, 0, 0, 0, 0, t.Location())
		next = func(s time.Time) time.Time { return s.AddDate(0, 0, 7) }
	case 'd':
		start, next = time.Date(y, mo, d, 0, 0, 0, 0, t.Location()), func(s time.Time) time.Time { return s.AddDate(0, 0, 1) }
	case 'h', 'H':
		start, next = t.Truncate(time.Hour), func(s time.Time) time.Time { return s.Add(time.Hour) }
	case 'm':
		start, next = t.Truncate(time.Minute), func(s time.Time) time.Time { return s.Add(time.Minute) }
	case 's':
		start, next = t.Truncate(time.Second), func(s time.Time) time.Time { return s.Add(time.Second) }
	default:
		return t, fmt.Errorf("rounding unit [%c] not supported", unit)
	}
	if up {
		// The last millisecond of the unit, as ES computes it.
		return next(start).Add(-time.Millisecond), nil
	}
	return start, nil
}
