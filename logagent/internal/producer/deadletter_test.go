package producer

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/logcollect/logcollect/devkit/testkit"
	"github.com/logcollect/logcollect/logagent/internal/metrics"
	"github.com/logcollect/logcollect/pkg/kafkaconf"
	"github.com/logcollect/logcollect/pkg/logging"
	"github.com/logcollect/logcollect/pkg/obs"
)

// newDeadLetterSink is a sink whose records over 2000 bytes are
// dead-lettered before they are sent (larger than max_message_bytes), on a
// broker that would refuse them too.
func newDeadLetterSink(t *testing.T, addr, dl string, mod func(*Config)) (*Kafka, *metrics.Metrics) {
	t.Helper()
	m := metrics.New(nil)
	cfg := Config{Client: kafkaconf.Settings{Brokers: []string{addr}, Version: "2.8.0"}, ChanMaxSize: 100,
		RequiredAcks: "all", MaxMessageBytes: 2000, DeadLetterPath: dl}
	if mod != nil {
		mod(&cfg)
	}
	s, err := New(cfg, logging.Discard(), m, obs.NewReadiness("kafka"))
	if err != nil {
		t.Fatal(err)
	}
	return s, m
}

func bigRecord(i int) *Message {
	return &Message{Topic: "dl", Key: []byte("f"), Value: []byte(fmt.Sprintf(`{"message":"d-%d","pad":"%05000d"}`, i, 0)), Path: "/var/log/a.log", Offset: int64(i), Seq: uint64(i)}
}

// waitAcked waits until acks holds n distinct records, each once.
func waitAcked(t *testing.T, acks *ackSet, n int) {
	t.Helper()
	for deadline := time.Now().Add(30 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		distinct, twice := acks.count()
		if twice > 0 {
			t.Fatalf("%d records acknowledged twice", twice)
		}
		if distinct == n {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d records acknowledged", distinct, n)
		}
	}
}

// The dead-letter file is capped: past dead_letter_max_bytes it is rotated
// to .1, the older rotated file is removed and its records are counted as
// dropped; every record is acknowledged.
func TestDeadLetterCapped(t *testing.T) {
	k := testkit.StartKafka(t, testkit.KafkaOptions{Topics: map[string]int32{"dl": 1}, MaxMessageBytes: 4000})
	defer k.Close()
	dir := t.TempDir()
	dl := filepath.Join(dir, "dead-letter.ndjson")
	const capBytes, n = 16 << 10, 40 // a record's line is about 5.2 KB: three per file
	s, m := newDeadLetterSink(t, k.Addr(), dl, func(c *Config) { c.DeadLetterMaxBytes = capBytes; c.DeadLetterBackups = 1 })
	acks := &ackSet{}
	for i := range n {
		r := bigRecord(i)
		r.Acker = acks
		if err := s.Send(context.Background(), r); err != nil {
			t.Fatal(err)
		}
	}
	waitAcked(t, acks, n)
	closeSink(t, s)

	files, err := filepath.Glob(dl + "*")
	if err != nil {
		t.Fatal(err)
	}
	kept := 0
	for _, f := range files {
		if f != dl && f != dl+".1" {
			t.Errorf("unexpected file %s: one rotated file is kept", f)
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) > capBytes {
			t.Errorf("%s holds %d bytes, over the %d cap", f, len(b), capBytes)
		}
		kept += strings.Count(string(b), "\n")
	}
	written := int(testutil.ToFloat64(m.DeadLettered))
	rotated := int(testutil.ToFloat64(m.DeadLetterDropped.WithLabelValues("rotated")))
	if written != n || kept+rotated != n || rotated == 0 {
		t.Fatalf("written %d, kept %d, counted as rotated away %d; want %d written = kept + rotated away, some rotated", written, kept, rotated, n)
	}
	if got := testutil.ToFloat64(m.DeadLetterDropped.WithLabelValues("write_failed")); got != 0 {
		t.Fatalf("%v write failures, want 0", got)
	}
}

// A dead-letter file that cannot be written (full disk, not a directory)
// must not hold the checkpoint back: the record is counted as dropped and
// acknowledged. Kafka refuses the records too (its message.max.bytes), so
// sending them on is no way out.
func TestDeadLetterWriteFailureStillAcks(t *testing.T) {
	k := testkit.StartKafka(t, testkit.KafkaOptions{Topics: map[string]int32{"dl": 1}, MaxMessageBytes: 4000})
	defer k.Close()
	tests := []struct {
		name string
		path func(t *testing.T) string
	}{
		{"disk full (/dev/full)", func(t *testing.T) string {
			if _, err := os.Stat("/dev/full"); err != nil {
				t.Skip("no /dev/full:", err)
			}
			return "/dev/full"
		}},
		{"parent is not a directory", func(t *testing.T) string {
			f := filepath.Join(t.TempDir(), "file")
			if err := os.WriteFile(f, nil, 0o600); err != nil {
				t.Fatal(err)
			}
			return filepath.Join(f, "dead-letter.ndjson")
		}},
		{"full tmpfs", func(t *testing.T) string {
			dir := t.TempDir()
			if err := syscall.Mount("tmpfs", dir, "tmpfs", 0, "size=16k"); err != nil {
				t.Skip("cannot mount a tmpfs here:", err)
			}
			t.Cleanup(func() { _ = syscall.Unmount(dir, syscall.MNT_DETACH) })
			// Fill it up, leaving less than one dead-letter line.
			filler := make([]byte, 4096)
			f, err := os.Create(filepath.Join(dir, "filler"))
			if err != nil {
				t.Fatal(err)
			}
			for {
				if _, err := f.Write(filler); err != nil {
					break
				}
			}
			f.Close()
			return filepath.Join(dir, "dead-letter.ndjson")
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dl := tt.path(t)
			s, m := newDeadLetterSink(t, k.Addr(), dl, nil)
			acks := &ackSet{}
			const n = 3
			for i := range n {
				r := bigRecord(i)
				r.Acker = acks
				if err := s.Send(context.Background(), r); err != nil {
					t.Fatal(err)
				}
			}
			waitAcked(t, acks, n)
			closeSink(t, s)
			if got := testutil.ToFloat64(m.DeadLetterDropped.WithLabelValues("write_failed")); got != n {
				t.Fatalf("%v records counted as dropped, want %d", got, n)
			}
			if got := testutil.ToFloat64(m.DeadLettered); got != 0 {
				t.Fatalf("%v records counted as dead-lettered, want 0", got)
			}
			if st, err := os.Stat(dl); err == nil && st.Mode().IsRegular() && st.Size() != 0 {
				t.Fatalf("%s holds %d bytes: a partly written line was left", dl, st.Size())
			}
		})
	}
}
