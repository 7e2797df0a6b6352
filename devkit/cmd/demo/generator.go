package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"
)

// generator writes sample logs: nginx access lines and JSON application
// lines, and rotates the access log once (rename + create) halfway, the way
// logrotate does, so the demo shows that rotation loses nothing. The access
// log starts with a backlog of lines from yesterday (a host's history when
// the agent is installed): by their own time they land in yesterday's
// index. Some requests carry a password, which the agent masks.
type generator struct {
	accessLog, appLog string
	rate              int // lines per second per file
	out               io.Writer
	backlog           int // access lines from yesterday written first
	written           atomic.Int64
}

// demoPassword is in the generator's login requests; the agent's mask
// processor must keep it from leaving the host.
const demoPassword = "hunter2"

func accessLine(dst []byte, seq int, at time.Time) []byte {
	return fmt.Appendf(dst, "10.0.%d.%d - - [%s] \"GET %s HTTP/1.1\" %d %d \"-\" \"demo/1.0\" seq=%d\n",
		seq%7, seq%250, at.Format("02/Jan/2006:15:04:05 -0700"), paths[seq%len(paths)], statuses[(seq/len(paths))%len(statuses)], 200+seq%5000, seq)
}

var (
	paths    = []string{"/", "/index.html", "/api/orders", "/api/users/42", "/static/app.js", "/login?user=alice&password=hunter2", "/search?q=kafka"}
	statuses = []int{200, 200, 200, 200, 304, 404, 500}
	levels   = []string{"info", "info", "info", "warn", "error"}
)

func (g *generator) run(ctx context.Context, d time.Duration) error {
	for _, p := range []string{g.accessLog, g.appLog} {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
	}
	access, err := os.OpenFile(g.accessLog, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer func() { access.Close() }()
	app, err := os.OpenFile(g.appLog, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	defer app.Close()
	var back []byte
	yesterday := time.Now().UTC().AddDate(0, 0, -1)
	for seq := 1; seq <= g.backlog; seq++ {
		back = accessLine(back, seq, yesterday.Add(time.Duration(seq-g.backlog)*time.Second))
	}
	if _, err := access.Write(back); err != nil {
		return err
	}
	g.written.Add(int64(g.backlog))

	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	end := time.Now().Add(d)
	rotateAt := time.Now().Add(d / 2)
	perTick := max(1, g.rate/10)
	seq := g.backlog
	for time.Now().Before(end) {
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
		if !rotateAt.IsZero() && time.Now().After(rotateAt) {
			rotateAt = time.Time{}
			access.Close()
			if err := os.Rename(g.accessLog, g.accessLog+".1"); err != nil {
				return fmt.Errorf("rotate: %w", err)
			}
			if access, err = os.OpenFile(g.accessLog, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644); err != nil {
				return err
			}
			fmt.Fprintf(g.out, "  generator: rotated %s -> %s.1\n", g.accessLog, g.accessLog)
		}
		now := time.Now().UTC()
		var a, j []byte
		for i := 0; i < perTick; i++ {
			seq++
			a = accessLine(a, seq, now)
			j = fmt.Appendf(j, `{"time":%q,"level":%q,"msg":"order processed","order_id":%d,"duration_ms":%d,"seq":%d}`+"\n",
				now.Format(time.RFC3339Nano), levels[seq%len(levels)], 1000+seq, seq%300, seq)
		}
		if _, err := access.Write(a); err != nil {
			return err
		}
		if _, err := app.Write(j); err != nil {
			return err
		}
		g.written.Add(int64(2 * perTick))
	}
	return nil
}
