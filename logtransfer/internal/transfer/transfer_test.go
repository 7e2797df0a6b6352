package transfer

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/logcollect/logcollect/devkit/testkit"

	"github.com/logcollect/logcollect/logtransfer/internal/config"
	tt "github.com/logcollect/logcollect/logtransfer/internal/transfertest"
)

// testConfig is the default configuration with timings short enough for
// tests. The broker's minimum session timeout is 6 s.
func testConfig(brokers, esURL, group string, topics ...string) config.Config {
	c := config.Default()
	c.Kafka.Client.Brokers = []string{brokers}
	c.Kafka.Topics = topics
	c.Kafka.GroupID = group
	c.Kafka.SessionTimeout = 6 * time.Second
	c.Kafka.HeartbeatInterval = 500 * time.Millisecond
	c.Kafka.RebalanceTimeout = 10 * time.Second
	c.Kafka.CommitInterval = 100 * time.Millisecond
	c.Kafka.Client.TopicRefreshInterval = 300 * time.Millisecond
	c.ES.URLs = []string{esURL}
	c.ES.DeadLetterIndex = "logcollect-dead-letter"
	c.ES.Workers = 2
	c.ES.BulkActions = 200
	c.ES.FlushInterval = 50 * time.Millisecond
	c.ES.RetryMin = 50 * time.Millisecond
	c.ES.RetryMax = 500 * time.Millisecond
	c.ES.Timeout = 5 * time.Second
	c.Transfer.ChanMaxSize = 500
	c.Transfer.HTTPListen = ""
	c.Transfer.DrainTimeout = 3 * time.Second
	c.Transfer.ShutdownTimeout = 8 * time.Second
	return c
}

type running struct {
	cancel context.CancelFunc
	done   chan struct{} // closed when Run returned, with err set
	err    error
	logs   *tt.Buffer

	mu   sync.Mutex
	addr string // the operational server's address, once bound
}

// httpAddr returns the operational server's address ("" until bound).
func (r *running) httpAddr() string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.addr
}

// stop stops the transfer gracefully and requires a clean exit.
func (r *running) stop(t *testing.T) {
	t.Helper()
	r.cancel()
	select {
	case <-r.done:
		if r.err != nil {
			t.Fatalf("Run returned %v\nlogs:\n%s", r.err, r.logs)
		}
	case <-time.After(20 * time.Second):
		t.Fatalf("Run did not return after cancel\nlogs:\n%s", r.logs)
	}
}

// newAndRun is what the command does: New, then Run.
func newAndRun(ctx context.Context, cfg config.Config, log *slog.Logger, opts Options) error {
	tr, err := New(cfg, log, opts)
	if err != nil {
		return err
	}
	return tr.Run(ctx)
}

func start(t *testing.T, cfg config.Config) *running {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	r := &running{cancel: cancel, done: make(chan struct{}), logs: &tt.Buffer{}}
	log := slog.New(slog.NewTextHandler(r.logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	go func() {
		defer close(r.done)
		r.err = newAndRun(ctx, cfg, log, Options{OnListen: func(a string) { r.mu.Lock(); r.addr = a; r.mu.Unlock() }})
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case <-r.done:
		case <-time.After(20 * time.Second):
		}
		if t.Failed() {
			t.Logf("transfer logs:\n%s", r.logs)
		}
	})
	return r
}

func countIs(t *testing.T, es *testkit.ES, pattern string, want int) func() (bool, string) {
	return func() (bool, string) {
		n := tt.Count(t, es, pattern)
		return n == want, fmt.Sprintf("%s count %d, want %d", pattern, n, want)
	}
}

func committedIs(t *testing.T, brokers, group, topic string, parts int32, want int64) func() (bool, string) {
	return func() (bool, string) {
		c := tt.Committed(t, brokers, group, topic, parts)
		return tt.Sum(c) == want, fmt.Sprintf("committed %v (sum %d), want sum %d", c, tt.Sum(c), want)
	}
}

func TestRecordsBecomeSearchable(t *testing.T) {
	k := tt.Kafka(t, map[string]int32{"Web_Log": 2}, "")
	es := tt.ES(t, false)
	day1 := time.Date(2026, 3, 21, 23, 59, 50, 0, time.UTC)
	recs := tt.Records("web-1", 20, day1) // 10 on the 21st, 10 on the 22nd
	plain := [][]byte{[]byte("127.0.0.1 - - GET /legacy 200"), []byte(`{"foreign":"json","message":"x"}`), []byte("bad utf8 \xff")}
	tt.Produce(t, k.Addr(), "Web_Log", append(append([][]byte{}, recs...), plain...))

	r := start(t, testConfig(k.Addr(), es.URL(), "g1", "Web_Log"))
	tt.Eventually(t, 20*time.Second, "all documents", countIs(t, es, "logcollect-web_log-*", 23))
	if n := tt.Count(t, es, "logcollect-web_log-2026.03.21"); n != 10 {
		t.Errorf("2026.03.21 has %d documents, want 10", n)
	}

	// An agent record: _id is event.id and the body is the record as is.
	var first map[string]any
	_ = json.Unmarshal(recs[0], &first)
	id := first["event"].(map[string]any)["id"].(string)
	doc, found, err := es.Get("logcollect-web_log-2026.03.21", id)
	if err != nil || !found {
		t.Fatalf("get %s: found %v, %v", id, found, err)
	}
	if doc["message"] != "GET /page/0 200" || doc["host"].(map[string]any)["name"] != "web-1" {
		t.Errorf("document %s = %v", id, doc)
	}

	// Plain text: message, Kafka coordinates, id from them. Which
	// partition each landed in depends on the partitioner: search by id.
	foundPlain := 0
	for p := 0; p < 2; p++ {
		for o := 0; o < 23; o++ {
			id := fmt.Sprintf("Web_Log-%d-%d", p, o)
			idx := "logcollect-web_log-" + time.Now().UTC().Format("2006.01.02")
			doc, found, _ := es.Get(idx, id)
			if !found {
				continue
			}
			foundPlain++
			k := doc["kafka"].(map[string]any)
			if k["topic"] != "Web_Log" || k["partition"] != float64(p) || k["offset"] != float64(o) {
				t.Errorf("doc %s kafka = %v", id, k)
			}
			if m, _ := doc["message"].(string); !strings.Contains(m, "legacy") && !strings.Contains(m, "foreign") && !strings.Contains(m, "bad utf8 \ufffd") {
				t.Errorf("doc %s message = %q", id, m)
			}
		}
	}
	if foundPlain != 3 {
		t.Errorf("found %d plain-text documents by Kafka id, want 3", foundPlain)
	}

	tt.Eventually(t, 10*time.Second, "offsets committed", committedIs(t, k.Addr(), "g1", "Web_Log", 2, 23))

	// The index template is installed.
	resp, err := http.Get(es.URL() + "/_index_template/logcollect")
	if err != nil || resp.StatusCode != 200 {
		t.Errorf("GET _index_template/logcollect: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	r.stop(t)
}

func TestElasticsearchFailingMeansNoCommitAndNoLoss(t *testing.T) {
	k := tt.Kafka(t, map[string]int32{"web_log": 4}, "")
	es := tt.ES(t, false)
	cfg := testConfig(k.Addr(), es.URL(), "g-fail", "web_log")
	r := start(t, cfg)
	// The templates are in before the failure starts; bulks fail from now.
	tt.Eventually(t, 10*time.Second, "template", func() (bool, string) {
		resp, err := http.Get(es.URL() + "/_index_template/logcollect")
		if err != nil {
			return false, err.Error()
		}
		resp.Body.Close()
		return resp.StatusCode == 200, resp.Status
	})
	es.FailBulksFor(5*time.Second, http.StatusTooManyRequests)
	failUntil := time.Now().Add(5 * time.Second)
	const n = 400
	tt.Produce(t, k.Addr(), "web_log", tt.Records("web-2", n, time.Date(2026, 5, 1, 0, 0, 0, 0, time.UTC)))

	// 429 for 5 s, then 503 for 5 s: nothing committed, nothing indexed.
	switched := false
	for time.Now().Before(failUntil.Add(5 * time.Second)) {
		if !switched && time.Now().After(failUntil.Add(-200*time.Millisecond)) {
			es.FailBulksFor(5200*time.Millisecond, http.StatusServiceUnavailable)
			switched = true
		}
		if c := tt.Committed(t, k.Addr(), "g-fail", "web_log", 4); tt.Sum(c) != 0 {
			t.Fatalf("offsets committed while elasticsearch rejected every bulk: %v", c)
		}
		time.Sleep(250 * time.Millisecond)
	}
	if got := strings.Count(r.logs.String(), "retrying the failed documents"); got < 3 {
		t.Errorf("%d retry warnings logged, want several", got)
	}
	tt.Eventually(t, 20*time.Second, "every record indexed after recovery", countIs(t, es, "logcollect-web_log-*", n))
	tt.Eventually(t, 10*time.Second, "offsets committed after recovery", committedIs(t, k.Addr(), "g-fail", "web_log", 4, n))
	r.stop(t)
}

func TestMappingConflictIsDeadLetteredWhileOthersFlow(t *testing.T) {
	k := tt.Kafka(t, map[string]int32{"web_log": 1}, "")
	es := tt.ES(t, false)
	good := tt.Records("web-3", 50, time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC))
	// log.offset is mapped as long by the template: "not-a-number" fails.
	poison := []byte(`{"@timestamp":"2026-06-01T00:00:10.000Z","message":"poison","log":{"offset":"not-a-number"},"event":{"id":"poison-1"}}`)
	values := append(append(append([][]byte{}, good[:25]...), poison), good[25:]...)
	tt.Produce(t, k.Addr(), "web_log", values)

	r := start(t, testConfig(k.Addr(), es.URL(), "g-dl", "web_log"))
	tt.Eventually(t, 20*time.Second, "good records indexed", countIs(t, es, "logcollect-web_log-*", 50))
	tt.Eventually(t, 10*time.Second, "poison dead-lettered", countIs(t, es, "logcollect-dead-letter", 1))
	tt.Eventually(t, 10*time.Second, "offsets committed past the poison record", committedIs(t, k.Addr(), "g-dl", "web_log", 1, 51))

	doc, found, err := es.Get("logcollect-dead-letter", "poison-1")
	if err != nil || !found {
		t.Fatalf("dead letter: found %v, %v", found, err)
	}
	if orig := doc["event"].(map[string]any)["original"]; orig != string(poison) {
		t.Errorf("event.original = %v, want the record as sent", orig)
	}
	e := doc["error"].(map[string]any)
	if e["status"] != float64(400) || !strings.Contains(fmt.Sprint(e["type"]), "exception") {
		t.Errorf("error = %v", e)
	}
	if kk := doc["kafka"].(map[string]any); kk["offset"] != float64(25) {
		t.Errorf("kafka = %v", kk)
	}
	r.stop(t)
}

func TestTopicPatternPicksUpNewTopics(t *testing.T) {
	k := tt.Kafka(t, map[string]int32{"app_a": 1, "other": 1}, "")
	es := tt.ES(t, false)
	cfg := testConfig(k.Addr(), es.URL(), "g-pat")
	cfg.Kafka.TopicPattern = regexp.MustCompile(`^(?:app_.*)$`)
	tt.Produce(t, k.Addr(), "app_a", [][]byte{[]byte("a1")})
	tt.Produce(t, k.Addr(), "other", [][]byte{[]byte("o1")})
	r := start(t, cfg)
	tt.Eventually(t, 20*time.Second, "app_a indexed", countIs(t, es, "logcollect-app_a-*", 1))

	tt.Produce(t, k.Addr(), "app_b", [][]byte{[]byte("b1"), []byte("b2")}) // auto-created
	tt.Eventually(t, 30*time.Second, "new topic app_b indexed", func() (bool, string) {
		n := tt.Count(t, es, "logcollect-app_b-*")
		return n == 2, fmt.Sprint("app_b count ", n)
	})
	if n := tt.Count(t, es, "logcollect-other-*"); n > 0 {
		t.Errorf("topic 'other' does not match the pattern but %d documents were indexed", n)
	}
	r.stop(t)
}

func TestTwoInstancesSplitPartitionsAndRebalanceWithoutLoss(t *testing.T) {
	k := tt.Kafka(t, map[string]int32{"web_log": 4}, "")
	es := tt.ES(t, false)
	cfg := testConfig(k.Addr(), es.URL(), "g-two", "web_log")
	a := start(t, cfg)
	b := start(t, cfg)

	// Both own partitions.
	tt.Eventually(t, 30*time.Second, "both instances claim partitions", func() (bool, string) {
		ca := strings.Count(a.logs.String(), "partition claimed") - strings.Count(a.logs.String(), "partition released")
		cb := strings.Count(b.logs.String(), "partition claimed") - strings.Count(b.logs.String(), "partition released")
		return ca > 0 && cb > 0 && ca+cb == 4, fmt.Sprintf("a owns %d, b owns %d", ca, cb)
	})
	recs := tt.Records("web-4", 600, time.Date(2026, 7, 1, 0, 0, 0, 0, time.UTC))
	tt.Produce(t, k.Addr(), "web_log", recs[:300])
	tt.Eventually(t, 20*time.Second, "first half", countIs(t, es, "logcollect-web_log-*", 300))

	// Stop a while records flow; b takes over a's partitions.
	done := make(chan struct{})
	go func() {
		defer close(done)
		tt.Produce(t, k.Addr(), "web_log", recs[300:])
	}()
	a.stop(t)
	<-done
	tt.Eventually(t, 30*time.Second, "every record once after the rebalance", countIs(t, es, "logcollect-web_log-*", 600))
	tt.Eventually(t, 10*time.Second, "all committed", committedIs(t, k.Addr(), "g-two", "web_log", 4, 600))
	if !strings.Contains(a.logs.String(), "stopped cleanly") {
		t.Errorf("instance a did not stop cleanly")
	}
	b.stop(t)
}

// freePort is for a broker started late on a port the transfer already
// retries (see testkit.RestartablePort).
func freePort(t *testing.T) int {
	t.Helper()
	port, err := testkit.RestartablePort()
	if err != nil {
		t.Fatal(err)
	}
	return port
}

// TestWaitsForKafkaAndElasticsearchAtStart: both down at start; the
// transfer says so, keeps retrying, and works once they are up.
func TestWaitsForKafkaAndElasticsearchAtStart(t *testing.T) {
	es := tt.ES(t, false)
	es.SetDown(true)
	port := freePort(t)
	brokers := fmt.Sprintf("127.0.0.1:%d", port)
	cfg := testConfig(brokers, es.URL(), "g-wait", "web_log")
	cfg.Transfer.HTTPListen = "127.0.0.1:0"
	var addr string
	var addrMu sync.Mutex
	ctx, cancel := context.WithCancel(context.Background())
	logs := &tt.Buffer{}
	done := make(chan struct{})
	var runErr error
	go func() {
		defer close(done)
		runErr = newAndRun(ctx, cfg, slog.New(slog.NewTextHandler(logs, nil)), Options{OnListen: func(a string) {
			addrMu.Lock()
			addr = a
			addrMu.Unlock()
		}})
	}()
	defer func() {
		cancel()
		<-done
		if t.Failed() {
			t.Logf("logs:\n%s", logs)
		}
	}()
	tt.Eventually(t, 10*time.Second, "elasticsearch retry logged", func() (bool, string) {
		return strings.Contains(logs.String(), "elasticsearch unreachable at start; retrying"), ""
	})
	addrMu.Lock()
	metricsAddr := addr
	addrMu.Unlock()
	if resp, err := http.Get("http://" + metricsAddr + "/readyz"); err != nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("/readyz while elasticsearch is down: %v %v", resp, err)
	} else {
		resp.Body.Close()
	}
	es.SetDown(false)
	tt.Eventually(t, 15*time.Second, "kafka retry logged", func() (bool, string) {
		return strings.Contains(logs.String(), "kafka unreachable at start; retrying"), ""
	})
	k := testkit.StartKafka(t, testkit.KafkaOptions{Port: port, Topics: map[string]int32{"web_log": 1}})
	defer k.Close()
	tt.Produce(t, brokers, "web_log", [][]byte{[]byte("hello")})
	tt.Eventually(t, 30*time.Second, "indexed once both are up", countIs(t, es, "logcollect-web_log-*", 1))

	// The metrics are served and count what happened.
	tt.Eventually(t, 5*time.Second, "metrics", func() (bool, string) {
		resp, err := http.Get("http://" + metricsAddr + "/metrics")
		if err != nil {
			return false, err.Error()
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		s := string(b)
		ok := strings.Contains(s, "logtransfer_messages_consumed_total 1") &&
			strings.Contains(s, "logtransfer_documents_indexed_total 1") &&
			strings.Contains(s, `logtransfer_consumer_lag{partition="0",topic="web_log"} 0`) &&
			strings.Contains(s, "logtransfer_bulk_duration_seconds_bucket") &&
			strings.Contains(s, "logtransfer_inflight_batches 0")
		return ok, s
	})
	cancel()
	<-done
	if runErr != nil {
		t.Fatalf("Run: %v", runErr)
	}
}

// TestCooperativeStickyRebalance: with cooperative-sticky, sarama calls
// Setup only once and revokes partitions inside the session; a second
// instance joining and the first leaving must still lose nothing.
func TestCooperativeStickyRebalance(t *testing.T) {
	k := tt.Kafka(t, map[string]int32{"web_log": 4}, "")
	es := tt.ES(t, false)
	cfg := testConfig(k.Addr(), es.URL(), "g-coop", "web_log")
	cfg.Kafka.BalanceStrategy = "cooperative-sticky"
	recs := tt.Records("web-coop", 400, time.Date(2026, 9, 1, 0, 0, 0, 0, time.UTC))
	a := start(t, cfg)
	tt.Produce(t, k.Addr(), "web_log", recs[:100])
	tt.Eventually(t, 20*time.Second, "a indexes", countIs(t, es, "logcollect-web_log-*", 100))

	b := start(t, cfg)
	tt.Eventually(t, 30*time.Second, "b gets partitions from a", func() (bool, string) {
		return strings.Contains(b.logs.String(), "partition claimed") && strings.Contains(a.logs.String(), "partition released"), ""
	})
	tt.Produce(t, k.Addr(), "web_log", recs[100:300])
	a.stop(t)
	tt.Produce(t, k.Addr(), "web_log", recs[300:])
	tt.Eventually(t, 30*time.Second, "every record once", countIs(t, es, "logcollect-web_log-*", 400))
	tt.Eventually(t, 10*time.Second, "all committed", committedIs(t, k.Addr(), "g-coop", "web_log", 4, 400))
	if n := strings.Count(a.logs.String(), "kafka group session started"); n != 1 {
		t.Logf("instance a started %d sessions", n)
	}
	b.stop(t)
}
