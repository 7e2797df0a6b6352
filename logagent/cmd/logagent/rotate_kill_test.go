package main

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	kt "github.com/logcollect/logcollect/logagent/internal/testutil"
)

// The agent process is SIGKILLed while two files are written fast, and
// while it is down each file gets more lines and is rotated by rename to a
// name outside the glob. At every restart the old generation is found
// where rotation moved it and finished: every line reaches Kafka, and a
// line sent twice carries the same event.id. Before, the lines written
// after the checkpoint of each rotated generation were lost.
func TestSIGKILLAroundRenameRotation(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	dir := t.TempDir()
	bin := binary(t)
	stack := kt.StartStack(t)
	k := stack.Kafka
	logs := filepath.Join(dir, "logs")
	os.Mkdir(logs, 0o755)
	ini := filepath.Join(dir, "config.ini")
	os.WriteFile(ini, []byte(fmt.Sprintf(`[kafka]
address = %s
[etcd]
address = %s
timeout = 5
collect_log_key = /logagent/%%s/collect_config
[agent]
ip = 127.0.0.1
hostname = rotate-kill-test
data_dir = %s
http_listen =
allowed_paths = %s/**
checkpoint_interval = 200ms
[log]
level = info
`, k.Addr(), stack.Etcd.Endpoint(), filepath.Join(dir, "data"), dir)), 0o644)
	stack.PutCollect(t, `[{"path":"`+logs+`/*.log","topic":"rot_kill","start":"beginning"}]`)

	var want []string
	write := func(name string, gen, from, to int) {
		f, err := os.OpenFile(filepath.Join(logs, name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		for i := from; i <= to; i++ {
			l := fmt.Sprintf("%s gen %d line %05d", name, gen, i)
			fmt.Fprintln(f, l)
			want = append(want, l)
		}
	}
	files := []string{"a", "b"}
	const rounds, perRound = 3, 1200
	for gen := 1; gen <= rounds; gen++ {
		p := startAgent(t, bin, ini)
		var wg sync.WaitGroup
		var mu sync.Mutex
		for _, name := range files {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var lines []string
				f, err := os.OpenFile(filepath.Join(logs, name+".log"), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
				if err != nil {
					t.Error(err)
					return
				}
				defer f.Close()
				for i := 1; i <= perRound; i++ {
					l := fmt.Sprintf("%s gen %d line %05d", name, gen, i)
					fmt.Fprintln(f, l)
					lines = append(lines, l)
					if i%40 == 0 {
						time.Sleep(20 * time.Millisecond) // 2,000 lines/s
					}
				}
				mu.Lock()
				want = append(want, lines...)
				mu.Unlock()
			}()
		}
		wg.Wait()
		p.cmd.Process.Signal(syscall.SIGKILL)
		p.cmd.Wait()
		// While the agent is down: the service writes on, then logrotate
		// renames the file away and the service starts a new one.
		for _, name := range files {
			write(name, gen, perRound+1, perRound+160)
			if err := os.Rename(filepath.Join(logs, name+".log"), filepath.Join(logs, fmt.Sprintf("%s.log.%d", name, gen))); err != nil {
				t.Fatal(err)
			}
			write(name, gen+1, 0, 0)
		}
	}
	p := startAgent(t, bin, ini)
	rs := kt.WaitFor(t, k.Addr(), "rot_kill", 60*time.Second, func(rs []kt.Record) bool { return countOf(rs, want) == len(want) })
	if n := countOf(rs, want); n != len(want) {
		t.Fatalf("%d of %d lines in Kafka; agent log:\n%s", n, len(want), p.log())
	}
	dups := kt.RepeatsKeepTheirIDs(t, rs)
	t.Logf("%d lines, %d records, %d sent again with the same event.id", len(want), len(rs), dups)
}

// countOf is how many lines of want rs holds.
func countOf(rs []kt.Record, want []string) int {
	have := map[string]bool{}
	for _, r := range rs {
		have[r.Message] = true
	}
	n := 0
	for _, w := range want {
		if have[w] {
			n++
		}
	}
	return n
}
