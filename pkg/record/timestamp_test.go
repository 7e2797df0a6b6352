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
