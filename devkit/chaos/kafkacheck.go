package chaos

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"time"

	"github.com/IBM/sarama"
)

// KafkaResult is the check of the topic itself. Documents cannot show
// Kafka's order (the transfer indexes by event id, so a resent record
// overwrites itself wherever it lands), so the scenarios that move
// leaders or fail produce requests also read every partition back.
type KafkaResult struct {
	Partitions int
	Records    int64
	// Resent: records whose line was already in the topic (the batch was
	// sent again after an error that did not say it was refused, e.g. a
	// REQUEST_TIMED_OUT after the append). At-least-once allows them; the
	// documents count each line once.
	Resent int64
	// OutOfOrder: records that reached a partition after a later line of
	// the same source file (record key) did, the first time either was
	// written there.
	OutOfOrder int64
	// Missing: written lines not in the topic at all.
	Missing int64
	// PerPartition is the record count of each partition.
	PerPartition []int64
	FirstOOO     []string // a few examples, for the report
}

type kafkaLine struct {
	JSON struct {
		F   int   `json:"f"`
		Seq int64 `json:"seq"`
	} `json:"json"`
}

// CheckKafka reads every partition of the scenario topic from its start
// to its end and checks per partition and source file that lines arrive
// in file order, and that every written line is there.
func (c *Cluster) CheckKafka(ctx context.Context, stats []FileStats) (KafkaResult, error) {
	var r KafkaResult
	cfg := sarama.NewConfig()
	cfg.Version = sarama.V2_8_0_0
	cfg.ClientID = "chaos-check"
	cfg.Consumer.Return.Errors = true
	cl, err := sarama.NewClient(strings.Split(c.Endpoints.Kafka, ","), cfg)
	if err != nil {
		return r, fmt.Errorf("kafka check client: %w", err)
	}
	defer cl.Close()
	topic := c.cfg.Topic
	if err := cl.RefreshMetadata(topic); err != nil {
		return r, fmt.Errorf("kafka check metadata: %w", err)
	}
	parts, err := cl.Partitions(topic)
	if err != nil {
		return r, fmt.Errorf("kafka check partitions: %w", err)
	}
	cons, err := sarama.NewConsumerFromClient(cl)
	if err != nil {
		return r, fmt.Errorf("kafka check consumer: %w", err)
	}
	defer cons.Close()
	seen := map[int][]bool{}
	for _, s := range stats {
		seen[s.File] = make([]bool, s.Written)
	}
	r.Partitions = len(parts)
	for _, p := range parts {
		var hwm int64
		for attempt := 0; ; attempt++ {
			if hwm, err = cl.GetOffset(topic, p, sarama.OffsetNewest); err == nil || attempt == 20 {
				break
			}
			time.Sleep(250 * time.Millisecond) // a leader move under way
		}
		if err != nil {
			return r, fmt.Errorf("kafka check partition %d end: %w", p, err)
		}
		n, err := c.checkPartition(ctx, cons, topic, p, hwm, seen, &r)
		if err != nil {
			return r, err
		}
		r.PerPartition = append(r.PerPartition, n)
	}
	for _, s := range stats {
		for _, ok := range seen[s.File] {
			if !ok {
				r.Missing++
			}
		}
	}
	return r, nil
}

func (c *Cluster) checkPartition(ctx context.Context, cons sarama.Consumer, topic string, p int32, hwm int64, seen map[int][]bool, r *KafkaResult) (int64, error) {
	var n int64
	if hwm == 0 {
		return 0, nil
	}
	pc, err := cons.ConsumePartition(topic, p, sarama.OffsetOldest)
	if err != nil {
		return 0, fmt.Errorf("kafka check partition %d: %w", p, err)
	}
	defer pc.Close()
	maxSeq := map[string]int64{} // by record key: the highest line seen
	idle := time.NewTimer(time.Minute)
	defer idle.Stop()
	for {
		select {
		case m := <-pc.Messages():
			idle.Reset(time.Minute)
			n++
			r.Records++
			var l kafkaLine
			if err := json.Unmarshal(m.Value, &l); err == nil {
				f, s := l.JSON.F, l.JSON.Seq
				if lines := seen[f]; s >= 0 && s < int64(len(lines)) {
					if lines[s] {
						r.Resent++
					} else {
						lines[s] = true
						k := string(m.Key)
						if last, ok := maxSeq[k]; ok && s < last {
							r.OutOfOrder++
							if len(r.FirstOOO) < 5 {
								r.FirstOOO = append(r.FirstOOO, fmt.Sprintf("partition %d offset %d: file %d line %d after line %d", p, m.Offset, f, s, last))
							}
						} else {
							maxSeq[k] = s
						}
					}
				}
			}
			if m.Offset >= hwm-1 {
				return n, nil
			}
		case err := <-pc.Errors():
			if err != nil && !errors.Is(err, sarama.ErrNotLeaderForPartition) {
				return n, fmt.Errorf("kafka check partition %d: %w", p, err)
			}
		case <-idle.C:
			return n, fmt.Errorf("kafka check partition %d: no record for a minute at %d of %d records", p, n, hwm)
		case <-ctx.Done():
			return n, ctx.Err()
		}
	}
}

// kafkaCtl calls the broker's fault control (devstack -kafka-control).
func (c *Cluster) kafkaCtl(ctx context.Context, method, path, body string, out any) error {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, c.Endpoints.KafkaControl+path, strings.NewReader(body))
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("kafka control %s %s: %w", method, path, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		buf := make([]byte, 1024)
		k, _ := resp.Body.Read(buf)
		return fmt.Errorf("kafka control %s %s: %s %s", method, path, resp.Status, buf[:k])
	}
	if out == nil {
		return nil
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// ShuffleLeaders moves every partition's leader to a random broker.
func (c *Cluster) ShuffleLeaders(ctx context.Context) error {
	return c.kafkaCtl(ctx, http.MethodPost, "/shuffle-leaders", "", nil)
}

// Leaders is the leader broker of each partition of the scenario topic.
func (c *Cluster) Leaders(ctx context.Context) ([]int32, error) {
	var out struct {
		Leaders []int32 `json:"leaders"`
	}
	err := c.kafkaCtl(ctx, http.MethodGet, "/leaders?topic="+c.cfg.Topic, "", &out)
	return out.Leaders, err
}

// FailProduce makes the broker answer the Kafka error code to a fraction
// of produce requests for d.
func (c *Cluster) FailProduce(ctx context.Context, code string, d time.Duration, fraction float64) error {
	return c.kafkaCtl(ctx, http.MethodPost, "/produce-errors", fmt.Sprintf(`{"error":%q,"for":%q,"fraction":%g}`, code, d, fraction), nil)
}

// ProduceFaultHits is how many produce requests the last FailProduce
// window answered with its error.
func (c *Cluster) ProduceFaultHits(ctx context.Context) (int, error) {
	var out struct {
		Hits int `json:"hits"`
	}
	err := c.kafkaCtl(ctx, http.MethodGet, "/produce-errors", "", &out)
	return out.Hits, err
}

// AddPartitions raises the scenario topic's partition count to total
// (a CreatePartitions request, as kafka-topics --alter does).
func (c *Cluster) AddPartitions(total int32) error {
	cfg := sarama.NewConfig()
	cfg.Version = sarama.V2_8_0_0
	adm, err := sarama.NewClusterAdmin(strings.Split(c.Endpoints.Kafka, ","), cfg)
	if err != nil {
		return fmt.Errorf("kafka admin: %w", err)
	}
	defer adm.Close()
	if err := adm.CreatePartitions(c.cfg.Topic, total, nil, false); err != nil {
		return fmt.Errorf("create partitions of %s up to %d: %w", c.cfg.Topic, total, err)
	}
	return nil
}
