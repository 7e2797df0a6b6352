package agent

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	kt "github.com/logcollect/logcollect/logagent/internal/testutil"
)

// exactlyOnce fails the test unless every want line is in rs exactly once.
func exactlyOnce(t *testing.T, rs []kt.Record, want []string) {
	t.Helper()
	n := map[string]int{}
	for _, r := range rs {
		n[r.Message]++
	}
	missing, twice := 0, 0
	for _, w := range want {
		switch {
		case n[w] == 0:
			missing++
		case n[w] > 1:
			twice++
		}
	}
	if missing > 0 || twice > 0 {
		t.Fatalf("%d of %d lines never reached Kafka, %d more than once", missing, len(want), twice)
	}
}

// countIn is how many lines of want rs holds.
func countIn(rs []kt.Record, want []string) int {
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

// writeFile creates path with lines and closes it.
func writeFile(t *testing.T, path string, lines []string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

func inode(path string) uint64 {
	var st syscall.Stat_t
	if syscall.Stat(path, &st) != nil {
		return 0
	}
	return st.Ino
}

// Files that appear and leave the glob between two scans (scan_interval is
// a minute here) are read, each line once: generations created, written and
// renamed out of the glob within microseconds, and a file deleted and
// recreated under its name (inode reused, same size). Before, only a scan
// found files: none of these lines were sent.
func TestFilesLivingBetweenScansAreRead(t *testing.T) {
	s := newStack(t)
	s.cfg.Agent.ScanInterval = time.Minute
	s.cfg.Agent.CloseInactive = 200 * time.Millisecond
	s.cfg.Agent.PollInterval = 50 * time.Millisecond
	logs := filepath.Join(s.dir, "logs")
	if err := os.Mkdir(logs, 0o755); err != nil {
		t.Fatal(err)
	}
	seed := writeLines(t, filepath.Join(logs, "seed.log"), "seed", 1, 1)
	s.run(t)
	s.put(t, `[{"path":"DIR/logs/*.log","topic":"rot","start":"beginning"}]`)
	addr := s.kafka.Addr()
	kt.WaitFor(t, addr, "rot", 15*time.Second, func(rs []kt.Record) bool { return countIn(rs, seed) == 1 }) // the first scan ran: the watch is set

	// Rename rotation, logrotate style, far faster than the scan: four
	// writers each create a generation, write it and rename it to a name
	// outside the glob at once.
	var (
		want []string
		mu   sync.Mutex
		wg   sync.WaitGroup
	)
	for _, name := range []string{"a", "b", "d", "e"} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			p := filepath.Join(logs, name+".log")
			for gen := 1; gen <= 30; gen++ {
				var lines []string
				for i := 1; i <= 40; i++ {
					lines = append(lines, fmt.Sprintf("%s gen %02d line %02d", name, gen, i))
				}
				if err := os.WriteFile(p, []byte(strings.Join(lines, "\n")+"\n"), 0o644); err != nil {
					t.Error(err)
					return
				}
				if err := os.Rename(p, fmt.Sprintf("%s.%d", p, gen)); err != nil {
					t.Error(err)
					return
				}
				mu.Lock()
				want = append(want, lines...)
				mu.Unlock()
			}
		}()
	}
	wg.Wait()

	// Delete and recreate under the same name, every generation the same
	// size: the freed inode is reused by the next one once the agent
	// closed the old one (close_inactive).
	c := filepath.Join(logs, "c.log")
	var inodes []uint64
	for gen := 1; gen <= 8; gen++ {
		var lines []string
		for i := 1; i <= 64; i++ {
			lines = append(lines, fmt.Sprintf("c gen %02d line %02d", gen, i))
		}
		writeFile(t, c, lines)
		inodes = append(inodes, inode(c))
		want = append(want, lines...)
		time.Sleep(600 * time.Millisecond)
		if err := os.Remove(c); err != nil {
			t.Fatal(err)
		}
	}
	reused := 0
	for i := 1; i < len(inodes); i++ {
		if inodes[i] == inodes[i-1] {
			reused++
		}
	}
	t.Logf("%d of %d generations of c.log reused the inode before them", reused, len(inodes)-1)

	rs := kt.WaitFor(t, addr, "rot", 30*time.Second, func(rs []kt.Record) bool { return countIn(rs, want) == len(want) })
	exactlyOnce(t, rs, want)
}

// Two entries whose globs overlap, with the same topic: each line once,
// read by the first entry; the status says so. Removing that entry hands
// the file to the other, which continues where the first stopped.
func TestOverlappingEntriesReadOnce(t *testing.T) {
	s := newStack(t)
	a, _ := s.run(t)
	app := filepath.Join(s.dir, "app")
	if err := os.Mkdir(app, 0o755); err != nil {
		t.Fatal(err)
	}
	aLog, bLog := filepath.Join(app, "a.log"), filepath.Join(app, "b.log")
	want := writeLines(t, aLog, "a", 1, 50)
	want = append(want, writeLines(t, bLog, "b", 1, 10)...)
	s.put(t, `[{"path":"DIR/app/*.log","topic":"same","start":"beginning"},{"path":"DIR/app/a*.log","topic":"same","start":"beginning"}]`)
	addr := s.kafka.Addr()
	kt.WaitFor(t, addr, "same", 15*time.Second, func(rs []kt.Record) bool { return countIn(rs, want) == len(want) })
	time.Sleep(500 * time.Millisecond) // several scans of both entries: a second reader would have sent its copy by now
	exactlyOnce(t, kt.ReadAll(t, addr, "same"), want)

	owner := func() string {
		files, _ := a.fileStatuses(statCache{})
		for _, f := range files {
			if f.Path == aLog && f.Open {
				return f.Entry
			}
		}
		return ""
	}
	if got, first := owner(), filepath.Join(app, "*.log"); got != first {
		t.Fatalf("status says a.log is read by entry %q, want the first entry %q", got, first)
	}

	// Remove the owning entry while the file is being written.
	s.put(t, `[{"path":"DIR/app/a*.log","topic":"same","start":"beginning"}]`)
	waitLog(t, s, "tasks stopped")
	want = append(want, writeLines(t, aLog, "a", 51, 100)...)
	kt.WaitFor(t, addr, "same", 15*time.Second, func(rs []kt.Record) bool { return countIn(rs, want) == len(want) })
	time.Sleep(500 * time.Millisecond)
	exactlyOnce(t, kt.ReadAll(t, addr, "same"), want)
	deadline := time.Now().Add(10 * time.Second)
	for second := filepath.Join(app, "a*.log"); owner() != second; {
		if time.Now().After(deadline) {
			t.Fatalf("status says a.log is read by entry %q, want %q", owner(), second)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
