package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/IBM/sarama"
)

// chain is a processors list the agent-file scenario runs (docs/logagent.md,
// Processors). verify, if set, checks a record the chain produced.
type chain struct {
	name   string
	json   string // the collect entry's "processors" array
	verify func(value []byte) error
}

// nginxChain is the realistic chain of issue 15 on the generator's nginx
// lines: parse, event time, and the masks an access log needs.
var nginxChain = chain{
	name: "nginx",
	json: `[{"type":"parse","format":"nginx"},` +
		`{"type":"timestamp","field":"parsed.time","layouts":["nginx"]},` +
		`{"type":"mask","builtins":["secrets","email"]}]`,
	verify: func(v []byte) error {
		var rec struct {
			Timestamp string `json:"@timestamp"`
			Parsed    struct {
				Status int    `json:"status"`
				Path   string `json:"path"`
			} `json:"parsed"`
			Event struct {
				Created string `json:"created"`
			} `json:"event"`
		}
		if err := json.Unmarshal(v, &rec); err != nil {
			return err
		}
		switch {
		case rec.Parsed.Status == 0 || rec.Parsed.Path == "":
			return errors.New("no parsed.status or parsed.path")
		case rec.Event.Created == "":
			return errors.New("no event.created (timestamp processor not applied)")
		case !bytes.HasPrefix([]byte(rec.Timestamp), []byte(base.Format("2006-01-02"))):
			return fmt.Errorf("@timestamp %s is not the line's own time", rec.Timestamp)
		case bytes.Contains(v, []byte("password="+secretPrefix)) || bytes.Contains(v, []byte("@shop.example")):
			return errors.New("a password or e-mail address is not masked")
		}
		return nil
	},
}

// chainFlag resolves -chain and -processors into a chain (zero: none).
func chainFlag(name, file string) (chain, error) {
	switch {
	case name != "" && file != "":
		return chain{}, errors.New("-chain and -processors exclude each other")
	case name == "nginx":
		return nginxChain, nil
	case name != "":
		return chain{}, fmt.Errorf("-chain %q: want nginx", name)
	case file != "":
		b, err := os.ReadFile(file)
		if err != nil {
			return chain{}, err
		}
		var list []json.RawMessage
		if err := json.Unmarshal(b, &list); err != nil {
			return chain{}, fmt.Errorf("-processors %s: want a JSON array of processors: %w", file, err)
		}
		var compact bytes.Buffer
		if err := json.Compact(&compact, b); err != nil {
			return chain{}, err
		}
		return chain{name: file, json: compact.String()}, nil
	}
	return chain{}, nil
}

// verifySample reads up to n records from the start of every partition and
// checks each with c.verify: a chain the agent ignored would otherwise pass
// as a fast benchmark.
func verifySample(ctx context.Context, kc sarama.Client, c chain, n int64) error {
	if c.verify == nil {
		return nil
	}
	cons, err := sarama.NewConsumerFromClient(kc)
	if err != nil {
		return err
	}
	defer cons.Close()
	parts, err := kc.Partitions(topic)
	if err != nil {
		return err
	}
	for _, p := range parts {
		hwm, err := kc.GetOffset(topic, p, sarama.OffsetNewest)
		if err != nil {
			return err
		}
		want := min(hwm, n)
		if want == 0 {
			continue
		}
		pc, err := cons.ConsumePartition(topic, p, sarama.OffsetOldest)
		if err != nil {
			return err
		}
		for got := int64(0); got < want; got++ {
			select {
			case m := <-pc.Messages():
				if err := c.verify(m.Value); err != nil {
					pc.Close()
					return fmt.Errorf("chain %s, partition %d offset %d: %w: %s", c.name, p, m.Offset, err, m.Value)
				}
			case <-time.After(30 * time.Second):
				pc.Close()
				return fmt.Errorf("verify chain: partition %d: no record for 30s", p)
			case <-ctx.Done():
				pc.Close()
				return ctx.Err()
			}
		}
		pc.Close()
	}
	return nil
}
