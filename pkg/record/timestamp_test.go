package record

import (
	"testing"
	"time"
)

// FuzzTimestamp: the in-place parse of the usual shape and time.Parse
// agree on every input, as a string (the transfer) and as bytes (the
// agent's container-log decoder).
func FuzzTimestamp(f *testing.F) {
	for _, s := range []string{"2026-12-02T10:00:00.123456789Z", "2026-12-02T10:00:00Z", "2024-02-29T23:59:59.5Z",
		"2026-02-29T00:00:00Z", "2026-12-02T24:00:00Z", "2026-12-02T10:00:60Z", "0000-01-01T00:00:00Z", "2026-12-02T10:00:00.Z",
		"2026-12-02T10:00:00.123+01:00"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, werr := time.Parse(time.RFC3339Nano, s)
		got, gerr := ParseTimestamp(s)
		gotB, gerrB := ParseTimestamp([]byte(s))
		if (gerr == nil) != (werr == nil) || !same(got, want) || (gerrB == nil) != (werr == nil) || !same(gotB, want) {
			t.Fatalf("%q: %v %v (bytes %v %v), time.Parse %v %v", s, got, gerr, gotB, gerrB, want, werr)
		}
	})
}

// same: the same instant in the same zone (time.Parse makes a new
// *Location for every offset it reads, so == would differ).
func same(a, b time.Time) bool {
	an, ao := a.Zone()
	bn, bo := b.Zone()
	return a.Equal(b) && an == bn && ao == bo
}

// DaysIn and UnixDays agree with the time package on every day of the
// years a timestamp can have (0000 to 9999), and refuse nothing it has.
func TestCalendarAgreesWithTime(t *testing.T) {
	d := time.Date(0, time.January, 1, 0, 0, 0, 0, time.UTC)
	end := time.Date(10000, time.January, 1, 0, 0, 0, 0, time.UTC)
	for ; d.Before(end); d = d.AddDate(0, 0, 1) {
		y, m, day := d.Date()
		if got := UnixDays(y, m, day); got*86400 != d.Unix() {
			t.Fatalf("UnixDays(%d, %d, %d) = %d, want %d", y, m, day, got, d.Unix()/86400)
		}
		if last := d.AddDate(0, 0, 1).Day() == 1; last && DaysIn(m, y) != day {
			t.Fatalf("DaysIn(%d, %d) = %d, want %d", m, y, DaysIn(m, y), day)
		}
	}
}
