package chaos

import (
	"fmt"
	"slices"
	"testing"
	"time"
)

// kafkaFiles is the load of the Kafka scenarios 9-11: that of scenarios
// 3-8 (otherFiles), each line also read back from the topic.
func kafkaOptions(partitions int) envOptions {
	return envOptions{files: otherFiles(), rate: otherRate(), brokers: 3, partitions: partitions, kafkaCheck: true, lean: true}
}

// Scenario 9: three brokers whose partition leaders all move every 2 s
// (full: 30 times, every 1.5-3 s) under load, the agent pipelining up to 5 batches per
// partition and the transfer consuming.
func TestKafkaLeaderMoves(t *testing.T) {
	e := newEnv(t, "9 three brokers, leaders moving", kafkaOptions(6))
	e.write()
	e.sleep(pick(3*time.Second, 2*time.Second))
	moves, changed := pick(30, 8), 0
	last, _ := e.c.Leaders(e.ctx)
	for i := 0; i < moves && e.ctx.Err() == nil; i++ {
		if err := e.c.ShuffleLeaders(e.ctx); err != nil {
			t.Fatal(err)
		}
		e.report.Faults++
		now, err := e.c.Leaders(e.ctx)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Equal(now, last) {
			changed++
		}
		last = now
		e.sleep(pick(between(1500*time.Millisecond, 3*time.Second), 2*time.Second))
	}
	if changed == 0 {
		t.Fatalf("the leaders never moved in %d elections", moves)
	}
	e.report.Note("%d leader elections, %d of them moved a leader; agent producer errors: %s", moves, changed, e.producerErrors())
	e.recoverIndexing()
	e.sleep(time.Second)
	e.finish(pick(90*time.Second, 30*time.Second))
}

// producerErrors is the agent's count of records whose send failed
// (resent if retryable).
func (e *env) producerErrors() string {
	m, err := e.agent.Metrics(e.ctx)
	if err != nil {
		return err.Error()
	}
	return fmt.Sprintf("%.0f", m["logagent_producer_errors_total"])
}

// Scenario 10: partitions added to the topic (2 → 4 → 6) while the agent
// produces and the transfer consumes: the agent spreads files over the new
// partitions and the transfer's group takes them up, within the services
// topic_refresh_interval (2 s here).
func TestKafkaPartitionsAdded(t *testing.T) {
	o := kafkaOptions(2)
	o.agentIni = map[string]string{"kafka": "topic_refresh_interval = 2s"}
	o.xferIni = map[string]string{"kafka": "topic_refresh_interval = 2s"}
	// More files than partitions, so that new partitions get some.
	o.files = append(o.files, FileSpec{}, FileSpec{}, FileSpec{}, FileSpec{})
	e := newEnv(t, "10 partitions added under load", o)
	e.write()
	for _, total := range []int32{4, 6} {
		e.sleep(pick(15*time.Second, 4*time.Second))
		if err := e.c.AddPartitions(total); err != nil {
			t.Fatal(err)
		}
		e.report.Faults++
	}
	e.sleep(pick(20*time.Second, 8*time.Second))
	e.finish(pick(90*time.Second, 30*time.Second))
	k := e.report.Kafka
	if k == nil {
		return // finish failed
	}
	if k.Partitions != 6 {
		t.Errorf("the topic has %d partitions, want 6", k.Partitions)
	}
	var added int64
	for _, n := range k.PerPartition[min(2, len(k.PerPartition)):] {
		added += n
	}
	if added == 0 {
		t.Errorf("no record reached the added partitions (per partition %v): the agent never used them", k.PerPartition)
	}
}

// Scenario 11: the brokers answer produce requests with errors for a
// while: NOT_LEADER_FOR_PARTITION to all (records refused), then
// REQUEST_TIMED_OUT to all and to a third of them (records appended but
// not acknowledged, so resent: duplicates in Kafka that the documents'
// ids absorb).
func TestKafkaProduceErrors(t *testing.T) {
	e := newEnv(t, "11 produce errors: NOT_LEADER, REQUEST_TIMED_OUT", kafkaOptions(4))
	e.write()
	e.sleep(pick(5*time.Second, 2*time.Second))
	window := pick(20*time.Second, 3*time.Second)
	for _, f := range []struct {
		code     string
		fraction float64
	}{{"NOT_LEADER_FOR_PARTITION", 1}, {"REQUEST_TIMED_OUT", 1}, {"REQUEST_TIMED_OUT", 0.3}} {
		if err := e.c.FailProduce(e.ctx, f.code, window, f.fraction); err != nil {
			t.Fatal(err)
		}
		e.report.Faults++
		e.sleep(window)
		hits, err := e.c.ProduceFaultHits(e.ctx)
		if err != nil {
			t.Fatal(err)
		}
		if hits == 0 {
			t.Errorf("%s (%.0f%% of requests): no produce request failed", f.code, f.fraction*100)
		}
		e.report.Note("%s to %.0f%% of produce requests for %s: %d requests failed", f.code, f.fraction*100, window, hits)
		e.recoverIndexing()
	}
	e.report.Note("agent producer errors (records): %s", e.producerErrors())
	e.sleep(time.Second)
	e.finish(pick(90*time.Second, 30*time.Second))
}
