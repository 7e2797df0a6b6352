package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/logcollect/logcollect/logagent/internal/journald"
	"github.com/logcollect/logcollect/logagent/internal/journaltest"
	kt "github.com/logcollect/logcollect/logagent/internal/testutil"
)

// The agent process follows a journal directory and is killed with SIGKILL
// mid-stream, then restarted: every entry reaches Kafka, a resent entry
// carries the same event.id, and the final checkpoint is the last cursor.
// highWater is the number of records in topic (all partitions).
func highWater(t *testing.T, addr, topic string) int64 {
	t.Helper()
	cfg := sarama.NewConfig()
	cfg.Version = sarama.V2_8_0_0
	c, err := sarama.NewClient([]string{addr}, cfg)
	if err != nil {
		t.Fatalf("kafka client: %v", err)
	}
	defer c.Close()
	parts, err := c.Partitions(topic)
	if err != nil {
		return 0 // not created yet
	}
	var n int64
	for _, p := range parts {
		off, err := c.GetOffset(topic, p, sarama.OffsetNewest)
		if err != nil {
			t.Fatalf("offset: %v", err)
		}
		n += off
	}
	return n
}

func TestJournaldSIGKILLMidStream(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	journaltest.Remote(t)
	dir := t.TempDir()
	jdir := filepath.Join(dir, "journal")
	const first, batch, batches = 5000, 250, 4
	const total = first + batch*batches
	journaltest.Write(t, filepath.Join(jdir, "a.journal"), 1_700_000_000, journaltest.Numbered("entry", 1, first, map[string]string{"_SYSTEMD_UNIT": "app.service"}))
	// Later batches are built aside and moved in while the agent runs.
	staged := make([]string, batches)
	for i := range staged {
		staged[i] = filepath.Join(dir, fmt.Sprintf("staged-%d.journal", i))
		journaltest.Write(t, staged[i], 1_700_010_000+int64(i)*1000, journaltest.Numbered("entry", first+i*batch+1, batch, map[string]string{"_SYSTEMD_UNIT": "app.service"}))
	}

	bin := binary(t)
	stack := kt.StartStack(t)
	k := stack.Kafka
	data := filepath.Join(dir, "data")
	ini := filepath.Join(dir, "config.ini")
	os.WriteFile(ini, []byte(fmt.Sprintf("[kafka]\nbrokers = %s\nchan_max_size = 100\n[etcd]\nendpoints = %s\n[agent]\nip = 127.0.0.1\nhostname = kill-test\ndata_dir = %s\nhttp_listen =\nallowed_paths = %s/**\ncheckpoint_interval = 50ms\n",
		k.Addr(), stack.Etcd.Endpoint(), data, dir)), 0o644)
	stack.PutCollect(t, `[{"type":"journald","topic":"kill_j","directory":"`+jdir+`","seek":"head","units":["app.service"]}]`)

	p := startAgent(t, bin, ini)
	moved := make(chan struct{})
	go func() {
		defer close(moved)
		for i, s := range staged {
			time.Sleep(200 * time.Millisecond)
			if err := os.Rename(s, filepath.Join(jdir, fmt.Sprintf("b%d.journal", i))); err != nil {
				panic(err)
			}
		}
	}()
	// Kill as soon as a few hundred records are in and a cursor was
	// checkpointed (the high watermark is polled, cheaper than reading the
	// records back); later batches are still to come.
	hw, saved := int64(0), false
	for deadline := time.Now().Add(20 * time.Second); hw < 300 || !saved; time.Sleep(5 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%d records, cursor saved %v before the kill; agent log:\n%s", hw, saved, p.log())
		}
		hw = highWater(t, k.Addr(), "kill_j")
		st, _, _ := readState(data)
		saved = strings.HasPrefix(st.cursor(), "s=")
	}
	p.cmd.Process.Signal(syscall.SIGKILL)
	p.cmd.Wait()
	killedAt := highWater(t, k.Addr(), "kill_j")
	t.Logf("killed after %d records", killedAt)
	if killedAt >= total {
		t.Fatalf("everything (%d) was delivered before the kill: not mid-stream", killedAt)
	}

	p2 := startAgent(t, bin, ini)
	<-moved
	rs := kt.WaitFor(t, k.Addr(), "kill_j", 60*time.Second, func(rs []kt.Record) bool { return distinct(rs) == total })
	if n := distinct(rs); n != total {
		t.Fatalf("%d of %d entries in Kafka after restart; agent log:\n%s", n, total, p2.log())
	}
	if !strings.Contains(p2.log(), "journal resumes after its checkpoint") {
		t.Errorf("restart did not resume from a checkpoint:\n%s", p2.log())
	}
	dups := kt.RepeatsKeepTheirIDs(t, rs)
	t.Logf("%d records, %d duplicates, all with the same event.id", len(rs), dups)

	p2.cmd.Process.Signal(syscall.SIGTERM)
	if err := p2.cmd.Wait(); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, p2.log())
	}
	last, err := journald.TailCursor(context.Background(), journald.Options{Directory: jdir})
	if err != nil {
		t.Fatal(err)
	}
	st, cp, err := readState(data)
	if err != nil || st.cursor() != last {
		t.Fatalf("checkpoint does not hold the last cursor %s: %s %v", last, cp, err)
	}
}
