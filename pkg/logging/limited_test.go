package logging

import (
	"bytes"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"time"
)

func TestLimited(t *testing.T) {
	var buf bytes.Buffer
	log := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{ReplaceAttr: dropTime}))
	now := time.Unix(1000, 0)
	l := NewLimited(time.Second)
	l.now = func() time.Time { return now }

	steps := []struct {
		advance time.Duration
		key     string
		want    string // the line written, "" if held back
	}{
		{0, "a", `level=WARN msg=failed n=0`},
		{100 * time.Millisecond, "a", ""},
		{100 * time.Millisecond, "a", ""},
		{0, "b", `level=WARN msg=failed n=3`}, // another key has its own gate
		{time.Second, "a", `level=WARN msg=failed n=4 similar_messages_suppressed=2`},
		{999 * time.Millisecond, "a", ""},
		{time.Millisecond, "a", `level=WARN msg=failed n=6 similar_messages_suppressed=1`},
		{5 * time.Second, "a", `level=WARN msg=failed n=7`}, // the count starts again
	}
	for i, s := range steps {
		now = now.Add(s.advance)
		buf.Reset()
		l.Log(log, slog.LevelWarn, s.key, "failed", "n", i)
		if got := strings.TrimSpace(buf.String()); got != s.want {
			t.Errorf("step %d: wrote %q, want %q", i, got, s.want)
		}
	}
}

func TestLimitedForgetsIdleKeys(t *testing.T) {
	now := time.Unix(1000, 0)
	l := NewLimited(time.Minute)
	l.now = func() time.Time { return now }
	for i := range 3 * maxIdleGates {
		if i%maxIdleGates == 0 {
			now = now.Add(time.Hour)
		}
		l.Log(Discard(), slog.LevelError, fmt.Sprint("path", i), "cannot open")
	}
	if n := len(l.gates); n > maxIdleGates {
		t.Fatalf("%d gates kept, want at most %d", n, maxIdleGates)
	}
}

func dropTime(_ []string, a slog.Attr) slog.Attr {
	if a.Key == slog.TimeKey {
		return slog.Attr{}
	}
	return a
}
