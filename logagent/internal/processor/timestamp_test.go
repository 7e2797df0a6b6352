package processor

import (
	"fmt"
	"slices"
	"testing"
	"time"

	"github.com/logcollect/logcollect/pkg/record"
)

func TestTimestampLayouts(t *testing.T) {
	if _, err := time.LoadLocation("Europe/Berlin"); err != nil {
		t.Skip("no zoneinfo:", err)
	}
	utc := func(s string) time.Time {
		ts, err := time.Parse(time.RFC3339Nano, s)
		if err != nil {
			t.Fatal(err)
		}
		return ts
	}
	tests := []struct {
		name, layouts, timezone, value string
		read                           time.Time
		want                           time.Time // zero: no time found
	}{
		{"nginx", `"nginx"`, "", "21/Nov/2026:10:00:00 +0100", readTime, utc("2026-11-21T09:00:00Z")},
		{"nginx negative zone", `"apache"`, "", "01/Feb/2026:23:30:59 -0330", readTime, utc("2026-02-02T03:00:59Z")},
		{"nginx matches time.Parse", `"nginx"`, "", "29/Feb/2024:00:00:00 +0000", readTime, utc("2024-02-29T00:00:00Z")},
		{"nginx day the month lacks", `"nginx"`, "", "30/Feb/2026:00:00:00 +0000", readTime, time.Time{}},
		{"nginx bad month", `"nginx"`, "", "21/Noo/2026:10:00:00 +0100", readTime, time.Time{}},
		{"nginx bad hour", `"nginx"`, "", "21/Nov/2026:24:00:00 +0100", readTime, time.Time{}},
		{"nginx no zone sign", `"nginx"`, "", "21/Nov/2026:10:00:00 0100 ", readTime, time.Time{}},
		{"rfc3339", `"rfc3339"`, "", "2026-11-21T10:00:00.123456789+02:00", readTime, utc("2026-11-21T08:00:00.123456789Z")},
		{"rfc3339 without zone fails", `"rfc3339"`, "", "2026-11-21T10:00:00", readTime, time.Time{}},
		{"iso8601 space and comma, zone from config", `"iso8601"`, "Europe/Berlin", "2026-07-01 10:00:00,250", readTime, utc("2026-07-01T08:00:00.25Z")},
		{"iso8601 +0200", `"iso8601"`, "", "2026-07-01T10:00:00+0200", readTime, utc("2026-07-01T08:00:00Z")},
		{"syslog this year", `"syslog"`, "", "Nov 21 09:59:58", readTime, utc("2026-11-21T09:59:58Z")},
		{"syslog December read in January", `"syslog"`, "", "Dec 31 23:59:59", utc("2027-01-01T00:00:05Z"), utc("2026-12-31T23:59:59Z")},
		{"syslog January read in December (clock skew)", `"syslog"`, "", "Jan  1 00:00:01", utc("2026-12-31T23:59:59Z"), utc("2027-01-01T00:00:01Z")},
		{"syslog in a zone", `"syslog"`, "Europe/Berlin", "Jul  4 12:00:00", readTime, utc("2026-07-04T10:00:00Z")},
		{"unix", `"unix"`, "", "1732183200", readTime, utc("2024-11-21T10:00:00Z")},
		{"unix fraction", `"unix"`, "", "1732183200.123456789123", readTime, utc("2024-11-21T10:00:00.123456789Z")},
		{"unix negative fraction", `"unix"`, "", "-1.5", readTime, utc("1969-12-31T23:59:58.5Z")},
		{"unix_ms", `"unix_ms"`, "", "1732183200123", readTime, utc("2024-11-21T10:00:00.123Z")},
		{"unix_us", `"unix_us"`, "", "1732183200123456", readTime, utc("2024-11-21T10:00:00.123456Z")},
		{"unix_ns", `"unix_ns"`, "", "1732183200123456789", readTime, utc("2024-11-21T10:00:00.123456789Z")},
		{"unix_ms fraction", `"unix_ms"`, "", "1732183200123.5", readTime, utc("2024-11-21T10:00:00.1235Z")},
		{"unix overflow", `"unix"`, "", "99999999999999999", readTime, time.Time{}},
		{"unix junk", `"unix"`, "", "12a", readTime, time.Time{}},
		{"unix junk fraction", `"unix"`, "", "12.3a", readTime, time.Time{}},
		{"go layout in a zone", `"2006-01-02 15:04:05.000"`, "Europe/Berlin", "2026-01-15 10:00:00.500", readTime, utc("2026-01-15T09:00:00.5Z")},
		{"first layout that parses wins", `"unix_ms","nginx"`, "", "21/Nov/2026:10:00:00 +0000", readTime, utc("2026-11-21T10:00:00Z")},
		{"none parses", `"unix_ms","nginx"`, "", "yesterday", readTime, time.Time{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := `[{"type":"parse","pattern":"^(?P<time>.*)$"},{"type":"timestamp","field":"parsed.time","layouts":[` + tt.layouts + `]`
			if tt.timezone != "" {
				cfg += `,"timezone":"` + tt.timezone + `"`
			}
			c := mustParse(t, cfg+`}]`)
			l := &Line{Message: tt.value, Time: tt.read}
			c.Apply(l)
			if !l.Created.Equal(tt.read) {
				t.Errorf("created = %v, want the read time %v", l.Created, tt.read)
			}
			failed := slices.Contains(l.Flags, record.FlagTimestampFailed)
			if tt.want.IsZero() {
				if !failed || !l.Time.Equal(tt.read) {
					t.Errorf("time = %v flags %v; want the read time, flagged", l.Time, l.Flags)
				}
				return
			}
			if failed || !l.Time.Equal(tt.want) {
				t.Errorf("time = %v (flags %v), want %v", l.Time.UTC(), l.Flags, tt.want)
			}
		})
	}
}

// The hand-written nginx layout agrees with time.Parse on the layout it
// stands for.
func TestParseCLFMatchesTimeParse(t *testing.T) {
	const layout = "02/Jan/2006:15:04:05 -0700"
	for _, s := range []string{
		"21/Nov/2026:10:00:00 +0000", "01/Jan/0001:00:00:00 +1400", "31/Dec/9999:23:59:59 -1200", "29/Feb/2023:10:00:00 +0000",
		"31/Apr/2026:10:00:00 +0000", "00/Jan/2026:10:00:00 +0000", "21/nov/2026:10:00:00 +0000", "21/Nov/2026:10:60:00 +0000",
		"21/Nov/2026:10:00:00 +0060", "21/Nov/2026:10:00:00 +9900", "2/Nov/2026:10:00:00 +0000",
	} {
		want, werr := time.Parse(layout, s)
		got, ok := parseCLF(s, time.UTC, readTime)
		if ok != (werr == nil) || ok && !got.Equal(want) {
			t.Errorf("parseCLF(%q) = %v, %v; time.Parse: %v, %v", s, got, ok, want, werr)
		}
	}
}

// parseCLF counts days itself: every day of some years across the range
// (leap and century years among them), at zones either side, against
// time.Parse, and the result is a UTC time as time.Date's would be.
func TestParseCLFEveryDay(t *testing.T) {
	const layout = "02/Jan/2006:15:04:05 -0700"
	for _, year := range []int{0, 1, 4, 100, 400, 1600, 1899, 1900, 1969, 1970, 1999, 2000, 2023, 2024, 2026, 2100, 2400, 9999} {
		for d := time.Date(year, 1, 1, 0, 0, 0, 0, time.UTC); d.Year() == year; d = d.AddDate(0, 0, 1) {
			for _, zone := range []string{"+0000", "+1400", "-0330"} {
				s := d.Format("02/Jan/2006:") + "23:59:58 " + zone
				want, werr := time.Parse(layout, s)
				got, ok := parseCLF(s, time.UTC, readTime)
				if werr != nil || !ok || got != time.Unix(want.Unix(), 0).UTC() {
					t.Fatalf("parseCLF(%q) = %v, %v; time.Parse: %v, %v", s, got, ok, want, werr)
				}
			}
		}
		for _, month := range []string{"Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec"} {
			for _, day := range []string{"00", "29", "30", "31", "32"} {
				s := fmt.Sprintf("%s/%s/%04d:00:00:00 +0000", day, month, year)
				want, werr := time.Parse(layout, s)
				got, ok := parseCLF(s, time.UTC, readTime)
				if ok != (werr == nil) || ok && got != time.Unix(want.Unix(), 0).UTC() {
					t.Fatalf("parseCLF(%q) = %v, %v; time.Parse: %v, %v", s, got, ok, want, werr)
				}
			}
		}
	}
}

func TestTimestampFromJSONAndNumbers(t *testing.T) {
	c := mustParse(t, `[{"type":"timestamp","field":"json.ts","layouts":["unix_ms","rfc3339"]}]`)
	for _, tt := range []struct {
		json string
		want time.Time
	}{
		{`{"ts":1732183200123}`, time.UnixMilli(1732183200123)},
		{`{"ts":"2026-11-21T10:00:00Z"}`, readTime},
		{`{"ts":"1732183200123"}`, time.UnixMilli(1732183200123)},
		{`{"ts":null}`, time.Time{}},
		{`{"other":1}`, time.Time{}},
	} {
		l := &Line{Message: "m", JSON: []byte(tt.json), Time: readTime.Add(time.Hour)}
		c.Apply(l)
		if tt.want.IsZero() {
			if !l.Time.Equal(readTime.Add(time.Hour)) || !slices.Contains(l.Flags, record.FlagTimestampFailed) {
				t.Errorf("%s: %v %v", tt.json, l.Time, l.Flags)
			}
		} else if !l.Time.Equal(tt.want) {
			t.Errorf("%s: %v, want %v", tt.json, l.Time, tt.want)
		}
	}
	// A number a parser typed.
	c = mustParse(t, `[{"type":"parse","format":"logfmt","types":{"t":"int"}},{"type":"timestamp","field":"parsed.t","layouts":["unix"]}]`)
	if l, _ := run(c, "t=1732183200"); !l.Time.Equal(time.Unix(1732183200, 0)) {
		t.Errorf("parsed int: %v", l.Time)
	}
}

// Two timestamp processors (a fallback field): the read time stays the
// created time.
func TestTimestampTwiceKeepsTheReadTime(t *testing.T) {
	c := mustParse(t, `[{"type":"parse","format":"logfmt"},
		{"type":"timestamp","field":"parsed.ts","layouts":["rfc3339"]},
		{"type":"timestamp","field":"parsed.t","layouts":["unix"]}]`)
	l, _ := run(c, "ts=2020-01-01T00:00:00Z t=0")
	if !l.Created.Equal(readTime) || !l.Time.Equal(time.Unix(0, 0)) {
		t.Errorf("created %v time %v", l.Created, l.Time)
	}
}
