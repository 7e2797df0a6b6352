package template

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/olivere/elastic/v7"
)

func client(t *testing.T, url string) *elastic.Client {
	t.Helper()
	c, err := elastic.NewClient(elastic.SetURL(url), elastic.SetSniff(false), elastic.SetHealthcheck(false),
		elastic.SetHttpClient(&http.Client{Timeout: 5 * time.Second}))
	if err != nil {
		t.Fatal(err)
	}
	return c
}

var spec = Spec{Name: "logcollect", IndexPattern: "logcollect-*", DeadLetterIndex: "logcollect-dead-letter"}

func TestFallsBackToLegacyTemplates(t *testing.T) {
	var mu sync.Mutex
	puts := map[string]map[string]any{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/_index_template/") {
			// An Elasticsearch before 7.8.
			w.WriteHeader(http.StatusNotFound)
			io.WriteString(w, `{"error":"Incorrect HTTP method for uri [/_index_template/x] and method [PUT]","status":405}`)
			return
		}
		var body map[string]any
		_ = json.NewDecoder(r.Body).Decode(&body)
		mu.Lock()
		puts[r.URL.Path] = body
		mu.Unlock()
		io.WriteString(w, `{"acknowledged":true}`)
	}))
	defer srv.Close()
	kind, err := Install(context.Background(), client(t, srv.URL), spec)
	if err != nil || kind != "legacy" {
		t.Fatalf("Install = %q, %v", kind, err)
	}
	mu.Lock()
	defer mu.Unlock()
	data, dl := puts["/_template/logcollect"], puts["/_template/logcollect-dead-letter"]
	if data == nil || dl == nil {
		t.Fatalf("legacy templates put: %v", puts)
	}
	if data["index_patterns"].([]any)[0] != "logcollect-*" || dl["order"].(float64) <= data["order"].(float64) {
		t.Errorf("data %v / dead letter %v", data, dl)
	}
}

func TestUnreachableIsRetryableAndBadTemplateIsNot(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusServiceUnavailable)
	}))
	_, err := Install(context.Background(), client(t, srv.URL), spec)
	if err == nil || !strings.Contains(err.Error(), ErrUnreachable.Error()) {
		t.Errorf("503: %v, want ErrUnreachable", err)
	}
	srv.Close()
	if _, err := Install(context.Background(), client(t, srv.URL), spec); err == nil || !strings.Contains(err.Error(), ErrUnreachable.Error()) {
		t.Errorf("connection refused: %v, want ErrUnreachable", err)
	}

	bad := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.WriteHeader(http.StatusBadRequest)
		io.WriteString(w, `{"error":{"type":"mapper_parsing_exception","reason":"no handler for type [x]"},"status":400}`)
	}))
	defer bad.Close()
	if _, err := Install(context.Background(), client(t, bad.URL), spec); err == nil || strings.Contains(err.Error(), ErrUnreachable.Error()) {
		t.Errorf("bad template: %v, want a permanent error", err)
	}
}

func TestMappingsCoverTheRecordFields(t *testing.T) {
	b, _ := json.Marshal(Mappings())
	for _, want := range []string{`"@timestamp":{"type":"date"}`, `"message":{"type":"text"}`, `"fields.*"`, `"kafka"`, `"host"`, `"log"`} {
		if !strings.Contains(string(b), want) {
			t.Errorf("mappings lack %s: %s", want, b)
		}
	}
	d, _ := json.Marshal(DeadLetterMappings())
	if !strings.Contains(string(d), `"event":{"enabled":false,"type":"object"}`) || !strings.Contains(string(d), `"dynamic":false`) {
		t.Errorf("dead-letter mappings: %s", d)
	}
}
