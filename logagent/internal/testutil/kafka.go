// Package testutil reads back what the agent produced, for tests against
// the dev stack.
package testutil

import (
	"encoding/json"
	"testing"
	"time"

	"github.com/IBM/sarama"
)

// Record is a consumed Kafka record with the agent fields tests check.
type Record struct {
	Key       string
	Value     []byte
	Message   string   `json:"message"`
	Offset    int64    // log.offset
	Path      string   // log.file.path
	Flags     []string // log.flags
	EventID   string
	Partition int32
}

type shape struct {
	Message string `json:"message"`
	Log     struct {
		File struct {
			Path string `json:"path"`
		} `json:"file"`
		Offset int64    `json:"offset"`
		Flags  []string `json:"flags"`
	} `json:"log"`
	Event struct {
		ID string `json:"id"`
	} `json:"event"`
}

// ReadAll returns every record of topic currently in Kafka.
func ReadAll(t testing.TB, addr, topic string) []Record {
	t.Helper()
	cfg := sarama.NewConfig()
	cfg.Version = sarama.V2_8_0_0
	cfg.Net.DialTimeout = 3 * time.Second
	c, err := sarama.NewClient([]string{addr}, cfg)
	if err != nil {
		t.Fatalf("kafka client: %v", err)
	}
	defer c.Close()
	parts, err := c.Partitions(topic)
	if err != nil {
		return nil // topic not created yet: nothing produced
	}
	cons, err := sarama.NewConsumerFromClient(c)
	if err != nil {
		t.Fatalf("kafka consumer: %v", err)
	}
	defer cons.Close()
	var out []Record
	for _, p := range parts {
		hi, err := c.GetOffset(topic, p, sarama.OffsetNewest)
		if err != nil {
			t.Fatalf("offset: %v", err)
		}
		if hi == 0 {
			continue
		}
		pc, err := cons.ConsumePartition(topic, p, sarama.OffsetOldest)
		if err != nil {
			t.Fatalf("consume: %v", err)
		}
		timeout := time.After(10 * time.Second)
	loop:
		for {
			select {
			case m := <-pc.Messages():
				r := Record{Key: string(m.Key), Value: m.Value, Partition: p}
				var s shape
				if json.Unmarshal(m.Value, &s) == nil {
					r.Message, r.Offset, r.Path, r.Flags, r.EventID = s.Message, s.Log.Offset, s.Log.File.Path, s.Log.Flags, s.Event.ID
				}
				out = append(out, r)
				if m.Offset+1 >= hi {
					break loop
				}
			case <-timeout:
				t.Fatalf("reading %s/%d timed out", topic, p)
			}
		}
		pc.Close()
	}
	return out
}

// WaitFor polls ReadAll until cond holds or the deadline passes, and
// returns the last read.
func WaitFor(t testing.TB, addr, topic string, d time.Duration, cond func([]Record) bool) []Record {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		rs := ReadAll(t, addr, topic)
		if cond(rs) {
			return rs
		}
		if time.Now().After(deadline) {
			return rs
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Messages returns the message of each record.
func Messages(rs []Record) []string {
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.Message
	}
	return out
}

// RepeatsKeepTheirIDs fails the test when one message arrived more than once
// under different event ids (Elasticsearch would then hold it twice) and
// returns how many repeats there were: at-least-once delivery may repeat a
// line, never under a new id.
func RepeatsKeepTheirIDs(t testing.TB, rs []Record) int {
	t.Helper()
	ids := map[string]string{}
	repeats := 0
	for _, r := range rs {
		if id, ok := ids[r.Message]; ok {
			repeats++
			if id != r.EventID {
				t.Fatalf("%q resent with a different event.id (%s, then %s)", r.Message, id, r.EventID)
			}
		}
		ids[r.Message] = r.EventID
	}
	return repeats
}
