package agent

import (
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	kt "github.com/logcollect/logcollect/logagent/internal/testutil"
)

// TestTopicChangeLosesNothing edits an entry's topic (start=end, the
// default) while its file is written continuously: every line reaches
// exactly one of the two topics. At b566241 the edited entry was a new
// stream that started every existing file at its end, so the lines written
// while the old task stopped and the new one started went to neither.
func TestTopicChangeLosesNothing(t *testing.T) {
	s := newStack(t)
	s.run(t)
	addr := s.kafka.Addr()
	log := filepath.Join(s.dir, "t.log")
	writeLines(t, log, "history", 1, 3)
	s.put(t, `[{"path":"DIR/t.log","topic":"topic_1"}]`)
	waitLog(t, s, "following file")

	f, err := os.OpenFile(log, os.O_WRONLY|os.O_APPEND, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var (
		stop    atomic.Bool
		wg      sync.WaitGroup
		mu      sync.Mutex
		written []string
	)
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := 1; !stop.Load() && i <= 100000; i++ {
			l := fmt.Sprintf("line %d", i)
			if _, err := fmt.Fprintln(f, l); err != nil {
				t.Error(err)
				return
			}
			mu.Lock()
			written = append(written, l)
			mu.Unlock()
			time.Sleep(time.Millisecond)
		}
	}()
	kt.WaitFor(t, addr, "topic_1", 15*time.Second, func(rs []kt.Record) bool { return len(rs) >= 20 })
	s.put(t, `[{"path":"DIR/t.log","topic":"topic_2"}]`)
	kt.WaitFor(t, addr, "topic_2", 15*time.Second, func(rs []kt.Record) bool { return len(rs) >= 20 })
	stop.Store(true)
	wg.Wait()
	mu.Lock()
	want := written
	mu.Unlock()

	deadline := time.Now().Add(30 * time.Second)
	var r1, r2 []kt.Record
	for {
		r1, r2 = kt.ReadAll(t, addr, "topic_1"), kt.ReadAll(t, addr, "topic_2")
		if contains(append(r1, r2...), want) || time.Now().After(deadline) {
			break
		}
		time.Sleep(200 * time.Millisecond)
	}
	in := func(rs []kt.Record) map[string]bool {
		m := map[string]bool{}
		for _, r := range rs {
			m[r.Message] = true
		}
		return m
	}
	in1, in2 := in(r1), in(r2)
	missing, both := 0, 0
	for _, l := range want {
		switch {
		case !in1[l] && !in2[l]:
			if missing++; missing <= 5 {
				t.Errorf("%q reached neither topic", l)
			}
		case in1[l] && in2[l]:
			if both++; both <= 5 {
				t.Errorf("%q reached both topics", l)
			}
		}
	}
	if in1["history line 1"] || in2["history line 1"] {
		t.Error("start=end sent history")
	}
	checkSameIDs(t, r1)
	checkSameIDs(t, r2)
	t.Logf("%d lines written: %d in topic_1, %d in topic_2; %d missing, %d in both", len(want), len(r1), len(r2), missing, both)
}
