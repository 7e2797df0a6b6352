package transfer

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/logcollect/logcollect/devkit/testkit"
	"github.com/logcollect/logcollect/pkg/record"

	"github.com/logcollect/logcollect/logtransfer/internal/document"
	tt "github.com/logcollect/logcollect/logtransfer/internal/transfertest"
)

// queryCount counts the documents of pattern matching a query string.
func queryCount(t *testing.T, es *testkit.ES, pattern, q string) int {
	t.Helper()
	resp, err := http.Get(es.URL() + "/" + pattern + "/_count?q=" + url.QueryEscape(q))
	if err != nil {
		return -1
	}
	defer resp.Body.Close()
	var r struct{ Count int }
	if resp.StatusCode != http.StatusOK || json.NewDecoder(resp.Body).Decode(&r) != nil {
		return -1
	}
	return r.Count
}

// TestEventTimeDecidesTheIndexAndRedeliveryOverwrites sends what an agent
// with parse and timestamp processors produces: a line read now whose own
// time is yesterday. It must land in yesterday's index (not the day it was
// read or produced to Kafka), with parsed.status searchable as a number and
// event.created kept; a redelivery (another group reading the topic again)
// overwrites it under the same _id: no copy in any index.
func TestEventTimeDecidesTheIndexAndRedeliveryOverwrites(t *testing.T) {
	k := tt.Kafka(t, map[string]int32{"web_log": 2}, "")
	es := tt.ES(t, false)
	now := time.Now().UTC().Truncate(time.Millisecond)
	yesterday := now.AddDate(0, 0, -1)
	line := func(i int, at time.Time, status int64) []byte {
		r := record.Record{
			Timestamp: at, Created: now, Message: fmt.Sprintf(`10.0.0.%d - - "GET /p/%d HTTP/1.1" %d 10`, i, i, status),
			HostName: "web-9", HostIP: "10.0.0.9", Path: "/var/log/nginx/access.log", Device: 1, Inode: 2, Offset: int64(i) * 80,
			Parsed: []record.Field{
				record.StringField("remote_addr", fmt.Sprintf("10.0.0.%d", i)),
				record.StringField("request", fmt.Sprintf("GET /p/%d HTTP/1.1", i)),
				record.IntField("status", status), record.IntField("body_bytes_sent", 10),
			},
			EventID: record.EventID("10.0.0.9", "web-9", int64(i)*80),
		}
		return r.AppendJSON(nil)
	}
	values := [][]byte{line(0, yesterday, 500), line(1, yesterday.Add(time.Second), 200), line(2, now, 500)}
	tt.Produce(t, k.Addr(), "web_log", values)

	r := start(t, testConfig(k.Addr(), es.URL(), "g-time", "web_log"))
	tt.Eventually(t, 30*time.Second, "all indexed", countIs(t, es, "logcollect-web_log-*", 3))
	tt.Eventually(t, 10*time.Second, "offsets committed", committedIs(t, k.Addr(), "g-time", "web_log", 2, 3))
	r.stop(t)

	yIndex := "logcollect-web_log-" + yesterday.Format("2006.01.02")
	check := func(when string) {
		t.Helper()
		if n := tt.Count(t, es, yIndex); n != 2 {
			t.Errorf("%s: %s has %d documents, want the 2 lines whose own time is yesterday", when, yIndex, n)
		}
		id := tt.EventID(values[0])
		doc, found, err := es.Get(yIndex, id)
		if err != nil || !found {
			t.Fatalf("%s: %s/%s: found %v, %v", when, yIndex, id, found, err)
		}
		if created := doc["event"].(map[string]any)["created"]; created != now.Format(record.TimeLayout) {
			t.Errorf("%s: event.created = %v, want the read time %s", when, created, now.Format(record.TimeLayout))
		}
		for q, want := range map[string]int{
			"parsed.status:500": 2, "parsed.status:[200 TO 299]": 1, `parsed.request:"GET /p/1 HTTP/1.1"`: 1,
			"parsed.status:500 AND @timestamp:[* TO " + yesterday.Add(time.Minute).Format(time.RFC3339) + "]": 1,
		} {
			if got := queryCount(t, es, "logcollect-web_log-*", q); got != want {
				t.Errorf("%s: %s finds %d, want %d", when, q, got, want)
			}
		}
	}
	check("first delivery")

	r2 := start(t, testConfig(k.Addr(), es.URL(), "g-time-2", "web_log"))
	time.Sleep(2 * time.Second) // let the group form before asking for its offsets
	tt.Eventually(t, 30*time.Second, "second group committed", committedIs(t, k.Addr(), "g-time-2", "web_log", 2, 3))
	r2.stop(t)
	if n := tt.Count(t, es, "logcollect-web_log-*"); n != 3 {
		t.Errorf("after redelivery %d documents, want 3 (overwritten, not duplicated)", n)
	}
	check("redelivery")
}

// TestForeignJSONObjects runs the transfer with [transfer] foreign_json =
// object on a topic where another producer writes JSON: objects are indexed
// with their fields under json (searchable as json.*), a record whose field
// changes shape is a mapping conflict that goes to the dead-letter index
// while the records after it flow, an object nested too deep is
// dead-lettered without reaching Elasticsearch, and plain text and agent
// records are indexed as always.
func TestForeignJSONObjects(t *testing.T) {
	k := tt.Kafka(t, map[string]int32{"app_log": 1}, "")
	es := tt.ES(t, false)
	agent := tt.Records("web-f", 2, time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC))
	values := [][]byte{
		[]byte(`{"a":1,"level":"info","message":"first one"}`),                      // 0
		[]byte(`{"a":{"b":1},"message":"conflict"}`),                                // 1: json.a was a long
		[]byte(`{"a":2,"level":"error","user":{"id":"u7"}}`),                        // 2
		[]byte("plain text line"),                                                   // 3
		[]byte(`{"d":` + strings.Repeat(`[`, 150) + strings.Repeat(`]`, 150) + `}`), // 4
		agent[0], agent[1], // 5, 6
		[]byte(`{"a":3,"message":"after"}`), // 7
	}
	tt.Produce(t, k.Addr(), "app_log", values)

	cfg := testConfig(k.Addr(), es.URL(), "g-foreign", "app_log")
	cfg.Transfer.ForeignJSON = document.ForeignJSONObject
	// One worker keeps Kafka's order into Elasticsearch, so the first shape
	// of json.a seen is the long of record 0 (with several workers, which
	// record maps a field first is a race, as between producers).
	cfg.ES.Workers = 1
	r := start(t, cfg)
	tt.Eventually(t, 30*time.Second, "indexed", countIs(t, es, "logcollect-app_log-*", 6))
	tt.Eventually(t, 10*time.Second, "dead-lettered", countIs(t, es, "logcollect-dead-letter", 2))
	tt.Eventually(t, 10*time.Second, "offsets committed past every record", committedIs(t, k.Addr(), "g-foreign", "app_log", 1, int64(len(values))))
	r.stop(t)

	for q, want := range map[string]int{
		"json.a:2": 1, "json.a:[1 TO 3]": 3, "json.level:error": 1, "json.user.id:u7": 1,
		`message:"first one"`: 1, "message:after": 1, `message:"plain text line"`: 1, "kafka.offset:2": 1,
	} {
		if got := queryCount(t, es, "logcollect-app_log-*", q); got != want {
			t.Errorf("%s finds %d, want %d", q, got, want)
		}
	}
	today := "logcollect-app_log-" + time.Now().UTC().Format("2006.01.02")
	if doc, found, _ := es.Get(today, "app_log-0-0"); !found || doc["json"].(map[string]any)["level"] != "info" || doc["kafka"] == nil {
		t.Errorf("app_log-0-0 in %s: found %v, %v", today, found, doc)
	}
	for id, wantType := range map[string]string{"app_log-0-1": "mapper_parsing_exception", "app_log-0-4": "too_deeply_nested"} {
		doc, found, err := es.Get("logcollect-dead-letter", id)
		if err != nil || !found {
			t.Fatalf("dead letter %s: found %v, %v", id, found, err)
		}
		if got := doc["error"].(map[string]any)["type"]; got != wantType {
			t.Errorf("dead letter %s: error type %v, want %s", id, got, wantType)
		}
		if orig := doc["event"].(map[string]any)["original"]; orig != string(values[map[string]int{"app_log-0-1": 1, "app_log-0-4": 4}[id]]) {
			t.Errorf("dead letter %s lost the original: %v", id, orig)
		}
	}
	if _, found, _ := es.Get("logcollect-app_log-2026.06.01", tt.EventID(agent[0])); !found {
		t.Error("an agent record on the same topic was not indexed as is")
	}
}
