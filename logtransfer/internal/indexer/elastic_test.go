package indexer

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/olivere/elastic/v7"

	"github.com/logcollect/logcollect/pkg/record"
)

// TestElasticBulkSendsBodiesVerbatim: the agent's bytes reach
// Elasticsearch unchanged (no decode/re-encode reordering keys or escaping
// differently), and per-item results come back in order.
func TestElasticBulkSendsBodiesVerbatim(t *testing.T) {
	var mu sync.Mutex
	var got []byte
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		mu.Lock()
		got = body
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"took":1,"errors":true,"items":[
{"index":{"_index":"i","_id":"a","status":201}},
{"index":{"_index":"i","_id":"b","status":400,"error":{"type":"mapper_parsing_exception","reason":"failed to parse field [n]","caused_by":{"type":"number_format_exception","reason":"For input string: \"x\""}}}}]}`)
	}))
	defer srv.Close()
	c, err := NewClient(ClientConfig{URLs: []string{srv.URL}, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	r := record.Record{Timestamp: time.Unix(1e9, 0), Message: "z\u2028 \"q\" <tag> &", EventID: "a", Fields: map[string]string{"b": "1", "a": "2"}}
	agent := r.AppendJSON(nil)
	odd := []byte(`{"z":1,  "a":"\u00e9"}`) // key order and spacing a re-encode would change
	res, err := (&ElasticBulk{Client: c}).Send(context.Background(), []Action{{Index: "i", ID: "a", Body: agent}, {Index: "i", ID: "b", Body: odd}})
	if err != nil {
		t.Fatal(err)
	}
	mu.Lock()
	defer mu.Unlock()
	lines := bytes.Split(bytes.TrimRight(got, "\n"), []byte("\n"))
	if len(lines) != 4 || !bytes.Equal(lines[1], agent) || !bytes.Equal(lines[3], odd) {
		t.Errorf("request body changed the documents:\n%s", got)
	}
	if res[0].Status != 201 || res[1].Status != 400 || res[1].Type != "mapper_parsing_exception" || !strings.Contains(res[1].Reason, "For input string") {
		t.Errorf("results = %+v", res)
	}
}

func TestElasticBulkWholeRequestErrors(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusTooManyRequests)
		io.WriteString(w, `{"error":{"type":"es_rejected_execution_exception","reason":"queue full"},"status":429}`)
	}))
	c, err := NewClient(ClientConfig{URLs: []string{srv.URL}, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	b := &ElasticBulk{Client: c}
	_, err = b.Send(context.Background(), []Action{{Index: "i", ID: "a", Body: []byte(`{}`)}})
	if ClassifyRequest(err) != Retry {
		t.Errorf("429: %v classified %v", err, ClassifyRequest(err))
	}
	srv.Close()              // connection refused from now on
	for i := 0; i < 3; i++ { // olivere marks the node dead, then resurrects it
		_, err = b.Send(context.Background(), []Action{{Index: "i", ID: "a", Body: []byte(`{}`)}})
		if err == nil || ClassifyRequest(err) != Retry {
			t.Errorf("down server: %v classified %v", err, ClassifyRequest(err))
		}
	}
}

// TestElasticBulkResponses: the response is read by Send itself (into a
// buffer it reuses): results of one request never show in the next, and a
// response cut off mid-way is a retryable error, not a success.
func TestElasticBulkResponses(t *testing.T) {
	var calls int
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		calls++
		w.Header().Set("Content-Type", "application/json")
		switch calls {
		case 1: // long: one failed item among many
			items := strings.Repeat(`{"index":{"status":201}},`, 999) + `{"index":{"status":400,"error":{"type":"mapper_parsing_exception","reason":"bad"}}}`
			io.WriteString(w, `{"took":1,"errors":true,"items":[`+items+`]}`)
		case 2: // short, after the long one in the same buffer
			io.WriteString(w, `{"took":1,"errors":false,"items":[{"index":{"status":201}}]}`)
		default: // promises more than it sends, then the connection drops
			w.Header().Set("Content-Length", "1000")
			io.WriteString(w, `{"took":1,"errors":false,"items":[`)
			w.(http.Flusher).Flush()
			conn, _, _ := w.(http.Hijacker).Hijack()
			conn.Close()
		}
	}))
	defer srv.Close()
	c, err := NewClient(ClientConfig{URLs: []string{srv.URL}, Timeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	b := &ElasticBulk{Client: c}
	actions := func(n int) []Action {
		as := make([]Action, n)
		for i := range as {
			as[i] = Action{Index: "i", ID: strconv.Itoa(i), Body: []byte(`{}`)}
		}
		return as
	}
	res, err := b.Send(context.Background(), actions(1000))
	if err != nil || len(res) != 1000 || res[0].Status != 201 || res[999].Status != 400 || res[999].Type != "mapper_parsing_exception" {
		t.Fatalf("long response: %v, %d results, last %+v", err, len(res), res[len(res)-1])
	}
	res, err = b.Send(context.Background(), actions(1))
	if err != nil || len(res) != 1 || res[0].Status != http.StatusOK || res[0].Type != "" {
		t.Fatalf("short response after a long one: %v %+v", err, res)
	}
	res, err = b.Send(context.Background(), actions(1))
	if err == nil || ClassifyRequest(err) != Retry {
		t.Fatalf("cut-off response: %+v, %v classified %v; want a retryable error", res, err, ClassifyRequest(err))
	}
}

// BenchmarkBulkBody compares sending the record as json.RawMessage (what
// ElasticBulk does) with decoding and re-encoding it.
func BenchmarkBulkBody(b *testing.B) {
	r := record.Record{Timestamp: time.Unix(1e9, 0), Message: strings.Repeat("GET /x 200 ", 20), HostName: "h", HostIP: "10.0.0.1",
		Path: "/var/log/a.log", Fields: map[string]string{"env": "prod"}, EventID: "0123456789abcdef0123456789abcdef"}
	value := r.AppendJSON(nil)
	b.Run("raw", func(b *testing.B) {
		b.SetBytes(int64(len(value)))
		for b.Loop() {
			if _, err := elastic.NewBulkIndexRequest().Index("i").Id("x").Doc(json.RawMessage(value)).Source(); err != nil {
				b.Fatal(err)
			}
		}
	})
	b.Run("appendAction", func(b *testing.B) {
		b.SetBytes(int64(len(value)))
		var buf []byte
		for b.Loop() {
			buf = appendAction(buf[:0], Action{Index: "i", ID: "x", Body: value})
		}
	})
	b.Run("reencoded", func(b *testing.B) {
		b.SetBytes(int64(len(value)))
		for b.Loop() {
			var m map[string]any
			_ = json.Unmarshal(value, &m)
			if _, err := elastic.NewBulkIndexRequest().Index("i").Id("x").Doc(m).Source(); err != nil {
				b.Fatal(err)
			}
		}
	})
}

func TestScanBulkResponse(t *testing.T) {
	for _, tt := range []struct {
		body   string
		failed bool
		items  int
		ok     bool
	}{
		{`{"took":3,"errors":false,"items":[{"index":{"_id":"a\"]}","status":201,"_shards":{"total":1}}},{"index":{"status":200}}]}`, false, 2, true},
		{` { "items" : [ ] , "errors" : true , "took" : 1 } `, true, 0, true},
		{`{"took":3,"errors":false}`, false, 0, false},
		{`{"took":3,"errors":"no","items":[]}`, false, 0, false},
		{`{"errors":false,"items":[{"index":{}}`, false, 0, false},
		{`[]`, false, 0, false},
	} {
		failed, items, ok := scanBulkResponse([]byte(tt.body))
		if failed != tt.failed || items != tt.items || ok != tt.ok {
			t.Errorf("scanBulkResponse(%s) = %v, %d, %v; want %v, %d, %v", tt.body, failed, items, ok, tt.failed, tt.items, tt.ok)
		}
	}
}

// A body with line breaks would split the NDJSON request: it is compacted.
func TestElasticBulkCompactsMultilineBodies(t *testing.T) {
	got := appendAction(nil, Action{Index: "i", ID: `a"b`, Body: []byte("{\n  \"a\": 1\n}")})
	if want := `{"index":{"_index":"i","_id":"a\"b"}}` + "\n" + `{"a":1}` + "\n"; string(got) != want {
		t.Errorf("got %q, want %q", got, want)
	}
}
