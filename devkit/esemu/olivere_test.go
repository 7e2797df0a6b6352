package esemu

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/olivere/elastic/v7"
)

func newOlivere(t *testing.T, s *Server, opts ...elastic.ClientOptionFunc) *elastic.Client {
	t.Helper()
	opts = append([]elastic.ClientOptionFunc{elastic.SetURL(s.URL()), elastic.SetSniff(false), elastic.SetHealthcheck(true)}, opts...)
	c, err := elastic.NewClient(opts...)
	if err != nil {
		t.Fatalf("olivere client: %v", err)
	}
	return c
}

func TestOlivereBulkAndSearch(t *testing.T) {
	s := startServer(t, Config{})
	c := newOlivere(t, s)
	ctx := context.Background()
	_, err := c.IndexPutIndexTemplate("logs").BodyString(`{"index_patterns":["logs-*"],"priority":200,
		"template":{"mappings":{"properties":{"@timestamp":{"type":"date"},"status":{"type":"long"}}}}}`).Do(ctx)
	if err != nil {
		t.Fatalf("put template: %v", err)
	}
	bulk := c.Bulk().Index("logs-web-2026.11.21").
		Add(elastic.NewBulkIndexRequest().Id("1").Doc(map[string]any{"@timestamp": "2026-11-21T10:00:00Z", "status": 200, "message": "ok"})).
		Add(elastic.NewBulkIndexRequest().Id("2").Doc(map[string]any{"@timestamp": "2026-11-21T10:00:01Z", "status": "oops"})).
		Add(elastic.NewBulkIndexRequest().Doc(map[string]any{"@timestamp": "2026-11-21T10:00:02Z", "status": 404})).
		Add(elastic.NewBulkCreateRequest().Id("1").Doc(map[string]any{"status": 1}))
	res, err := bulk.Refresh("true").Do(ctx)
	if err != nil {
		t.Fatalf("bulk: %v", err)
	}
	if !res.Errors || len(res.Items) != 4 {
		t.Fatalf("errors %v items %d", res.Errors, len(res.Items))
	}
	if len(res.Succeeded()) != 2 || len(res.Failed()) != 2 {
		t.Errorf("succeeded %d failed %d", len(res.Succeeded()), len(res.Failed()))
	}
	failed := res.Failed()
	if failed[0].Status != 400 || failed[0].Error == nil || failed[0].Error.Type != "mapper_parsing_exception" {
		t.Errorf("rejected item: %+v", failed[0])
	}
	if failed[1].Status != 409 || failed[1].Error.Type != "version_conflict_engine_exception" {
		t.Errorf("conflict item: %+v", failed[1])
	}
	if got := res.Items[2]["index"].Id; len(got) != 20 {
		t.Errorf("generated id %q", got)
	}

	sr, err := c.Search("logs-*").Query(elastic.NewRangeQuery("status").Gte(100)).Sort("@timestamp", false).Do(ctx)
	if err != nil {
		t.Fatalf("search: %v", err)
	}
	if sr.TotalHits() != 2 || sr.Hits.Hits[0].Index != "logs-web-2026.11.21" {
		t.Fatalf("hits %d %+v", sr.TotalHits(), sr.Hits)
	}
	var doc map[string]any
	if err := json.Unmarshal(sr.Hits.Hits[0].Source, &doc); err != nil || doc["status"] != 404.0 {
		t.Errorf("first hit source %v %v", doc, err)
	}
	n, err := c.Count("logs-*").Query(elastic.NewTermQuery("status", 200)).Do(ctx)
	if err != nil || n != 1 {
		t.Errorf("count %d %v", n, err)
	}
	got, err := c.Get().Index("logs-web-2026.11.21").Id("1").Do(ctx)
	if err != nil || !got.Found || *got.Version != 1 {
		t.Errorf("get %+v %v", got, err)
	}
	_, err = c.Get().Index("logs-web-2026.11.21").Id("nope").Do(ctx)
	if !elastic.IsNotFound(err) {
		t.Errorf("get missing: %v", err)
	}
	exists, err := c.IndexExists("logs-web-2026.11.21").Do(ctx)
	if err != nil || !exists {
		t.Errorf("index exists %v %v", exists, err)
	}
	if _, err := c.IndexPutTemplate("legacy").BodyString(`{"index_patterns":["old-*"],"order":1,"mappings":{"properties":{"n":{"type":"keyword"}}}}`).Do(ctx); err != nil {
		t.Errorf("put legacy template: %v", err)
	}
	if _, err := c.Index().Index("old-1").Id("1").BodyJson(map[string]any{"n": 5}).Refresh("true").Do(ctx); err != nil {
		t.Errorf("index one: %v", err)
	}
	if _, err := c.Refresh("old-*").Do(ctx); err != nil {
		t.Errorf("refresh: %v", err)
	}
	cat, err := c.CatIndices().Do(ctx)
	if err != nil || len(cat) != 2 {
		t.Fatalf("cat indices %+v %v", cat, err)
	}
	for _, row := range cat {
		if row.Index == "old-1" && row.DocsCount != 1 {
			t.Errorf("cat row %+v", row)
		}
	}
	health, err := c.ClusterHealth().Do(ctx)
	if err != nil || health.Status != "yellow" || health.ActivePrimaryShards != 2 {
		t.Errorf("health %+v %v", health, err)
	}
	if _, err := c.DeleteIndex("old-1").Do(ctx); err != nil {
		t.Errorf("delete index: %v", err)
	}
}

func TestOlivereSeesFaults(t *testing.T) {
	s := startServer(t, Config{})
	c := newOlivere(t, s, elastic.SetHealthcheck(false), elastic.SetMaxRetries(0))
	ctx := context.Background()
	bulk := func() error {
		_, err := c.Bulk().Add(elastic.NewBulkIndexRequest().Index("f").Id("1").Doc(map[string]any{"a": 1})).Do(ctx)
		return err
	}
	s.FailNextBulks(1, http.StatusTooManyRequests)
	var ee *elastic.Error
	if err := bulk(); !errors.As(err, &ee) || ee.Status != 429 || ee.Details.Type != "es_rejected_execution_exception" {
		t.Errorf("429: %v", err)
	}
	s.FailNextBulks(1, http.StatusServiceUnavailable)
	if err := bulk(); !errors.As(err, &ee) || ee.Status != 503 {
		t.Errorf("503: %v", err)
	}
	s.DropNextConnections(1)
	if err := bulk(); err == nil || errors.As(err, &ee) {
		t.Errorf("dropped connection should be a transport error, got %v", err)
	}
	s.SetDown(true)
	if err := bulk(); err == nil {
		t.Error("bulk succeeded while down")
	}
	s.SetDown(false)
	// The client marks the node dead after a connection error; healthcheck
	// off means it retries the node on the next request.
	deadline := time.Now().Add(2 * time.Second)
	for bulk() != nil {
		if time.Now().After(deadline) {
			t.Fatal("client never recovered after SetDown(false)")
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func TestAuth(t *testing.T) {
	s := startServer(t, Config{Username: "elastic", Password: "secret"})
	tests := []struct {
		name       string
		user, pass string
		status     int
		reason     string
	}{
		{"no credentials", "", "", 401, "missing authentication credentials for REST request [/]"},
		{"wrong password", "elastic", "nope", 401, "unable to authenticate user [elastic] for REST request [/]"},
		{"valid", "elastic", "secret", 200, ""},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, _ := http.NewRequest("GET", s.URL()+"/", nil)
			if tc.user != "" {
				req.SetBasicAuth(tc.user, tc.pass)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			defer resp.Body.Close()
			var body map[string]any
			_ = json.NewDecoder(resp.Body).Decode(&body)
			if resp.StatusCode != tc.status {
				t.Fatalf("status %d", resp.StatusCode)
			}
			if tc.status == 401 {
				if dig(body, "error", "type") != "security_exception" || dig(body, "error", "reason") != tc.reason {
					t.Errorf("body %v", body)
				}
				if h := resp.Header.Values("WWW-Authenticate"); len(h) == 0 || h[0] != `Basic realm="security" charset="UTF-8"` {
					t.Errorf("WWW-Authenticate %v", h)
				}
			} else if dig(body, "version", "number") != "7.17.0" {
				t.Errorf("info %v", body)
			}
		})
	}
	c := newOlivere(t, s, elastic.SetBasicAuth("elastic", "secret"))
	if _, err := c.CreateIndex("authed").Do(context.Background()); err != nil {
		t.Errorf("olivere with auth: %v", err)
	}
}
