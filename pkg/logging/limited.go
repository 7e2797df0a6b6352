package logging

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Limited lets through at most one log line per key per interval and counts
// the lines it held back, so a flood of the same failure (a broker down,
// thousands of rejected documents, an unreadable file rescanned every
// second) cannot flood the log. The next line that passes carries the count
// as similar_messages_suppressed. Safe for concurrent use.
type Limited struct {
	every time.Duration
	now   func() time.Time // time.Now; tests replace it

	mu    sync.Mutex
	gates map[string]*gate
}

type gate struct {
	last       time.Time
	suppressed int
}

// maxIdleGates bounds the keys kept: past it, keys quiet for longer than
// the interval are forgotten (a key per file path must not grow forever).
const maxIdleGates = 1024

// NewLimited returns a Limited that passes one line per key every interval.
func NewLimited(every time.Duration) *Limited {
	return &Limited{every: every, now: time.Now, gates: map[string]*gate{}}
}

// Log writes msg at level to log unless a line with the same key passed
// less than the interval ago. Use "" as the key when one kind of message
// has one gate.
func (l *Limited) Log(log *slog.Logger, level slog.Level, key, msg string, args ...any) {
	l.mu.Lock()
	now := l.now()
	g := l.gates[key]
	if g == nil {
		if len(l.gates) >= maxIdleGates {
			l.forgetIdle(now)
		}
		g = &gate{}
		l.gates[key] = g
	} else if now.Sub(g.last) < l.every {
		g.suppressed++
		l.mu.Unlock()
		return
	}
	n := g.suppressed
	g.last, g.suppressed = now, 0
	l.mu.Unlock()
	if n > 0 {
		args = append(args, "similar_messages_suppressed", n)
	}
	log.Log(context.Background(), level, msg, args...)
}

func (l *Limited) forgetIdle(now time.Time) {
	for k, g := range l.gates {
		if now.Sub(g.last) >= l.every {
			delete(l.gates, k)
		}
	}
}
