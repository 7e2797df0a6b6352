package template

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"testing"
	"time"

	"github.com/logcollect/logcollect/pkg/record"

	tt "github.com/logcollect/logcollect/logtransfer/internal/transfertest"
)

// TestParsedFieldsMapByTypeInTheEmulator installs the templates in the
// Elasticsearch emulator (a real process) and indexes what the agent sends:
// a record with parse processor output and event.created, and an old
// record without them. parsed.status must be a long that the query string
// parsed.status:500 finds, parsed.request a keyword, event.created a date.
func TestParsedFieldsMapByTypeInTheEmulator(t *testing.T) {
	es := tt.ES(t, false)
	if _, err := Install(context.Background(), client(t, es.URL()), spec); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	parsed := record.Record{
		Timestamp: at, Message: `10.0.0.1 - - [21/Nov/2026:10:00:00 +0000] "GET /x HTTP/1.1" 500 12`,
		HostName: "web-1", Path: "/var/log/nginx/access.log", EventID: "p1", Created: at.Add(3 * time.Second),
		Parsed: []record.Field{
			record.StringField("remote_addr", "10.0.0.1"), record.StringField("request", "GET /x HTTP/1.1"),
			record.IntField("status", 500), record.IntField("body_bytes_sent", 12),
			record.FloatField("request_time", 0.25), record.StringField("ts", "2026-11-21T10:00:00Z"),
		},
	}
	old := record.Record{Timestamp: at, Message: "plain", HostName: "web-1", Path: "/var/log/app.log", EventID: "o1"}
	index := "logcollect-web_log-2026.11.21"
	for id, body := range map[string][]byte{"p1": parsed.AppendJSON(nil), "o1": old.AppendJSON(nil)} {
		do(t, "PUT", es.URL()+"/"+index+"/_doc/"+id+"?refresh=true", body, http.StatusCreated)
	}

	var m map[string]struct {
		Mappings struct {
			Properties map[string]struct {
				Properties map[string]struct {
					Type        string `json:"type"`
					IgnoreAbove int    `json:"ignore_above"`
				} `json:"properties"`
			} `json:"properties"`
		} `json:"mappings"`
	}
	json.Unmarshal(do(t, "GET", es.URL()+"/"+index+"/_mapping", nil, http.StatusOK), &m)
	props := m[index].Mappings.Properties
	for _, c := range []struct{ obj, field, want string }{
		{"parsed", "status", "long"}, {"parsed", "body_bytes_sent", "long"}, {"parsed", "request", "keyword"},
		{"parsed", "remote_addr", "keyword"}, {"parsed", "request_time", "double"}, {"parsed", "ts", "keyword"},
		{"event", "created", "date"}, {"event", "id", "keyword"},
	} {
		if got := props[c.obj].Properties[c.field].Type; got != c.want {
			t.Errorf("%s.%s mapped as %q, want %q", c.obj, c.field, got, c.want)
		}
	}
	if got := props["parsed"].Properties["request"].IgnoreAbove; got != 1024 {
		t.Errorf("parsed.request ignore_above = %d, want 1024 like the other keywords", got)
	}

	for q, want := range map[string]int{
		"parsed.status:500": 1, "parsed.status:[500 TO 599]": 1, "parsed.status:404": 0,
		`parsed.request:"GET /x HTTP/1.1"`: 1, "event.created:[2026-11-21T10:00:01Z TO *]": 1, "message:plain": 1,
	} {
		var r struct{ Count int }
		json.Unmarshal(do(t, "GET", es.URL()+"/logcollect-*/_count?q="+url.QueryEscape(q), nil, http.StatusOK), &r)
		if r.Count != want {
			t.Errorf("%s: count %d, want %d", q, r.Count, want)
		}
	}
}

func do(t *testing.T, method, u string, body []byte, want int) []byte {
	t.Helper()
	req, _ := http.NewRequest(method, u, bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	var out bytes.Buffer
	out.ReadFrom(resp.Body)
	if resp.StatusCode != want {
		t.Fatalf("%s %s: %d %s, want %d", method, u, resp.StatusCode, out.String(), want)
	}
	return out.Bytes()
}

// TestKubernetesFieldsMapAsKeywords: the pod metadata the agent adds
// (docs/kubernetes.md) maps as keywords, labels and annotations too, even
// a label whose value looks like a number or a date.
func TestKubernetesFieldsMapAsKeywords(t *testing.T) {
	es := tt.ES(t, false)
	if _, err := Install(context.Background(), client(t, es.URL()), spec); err != nil {
		t.Fatal(err)
	}
	at := time.Date(2026, 11, 21, 10, 0, 0, 0, time.UTC)
	r := record.Record{Timestamp: at, Message: "hello", HostName: "node-1", Path: "/var/log/pods/web_web-1_u1/app/0.log", EventID: "k1",
		Kubernetes: &record.Kubernetes{Namespace: "web", PodName: "web-1", PodUID: "u1", ContainerName: "app", ContainerID: "c1", NodeName: "node-1",
			Labels: []record.KV{{Key: "app", Value: "web"}, {Key: "version", Value: "2"}}, Annotations: []record.KV{{Key: "deployed", Value: "2026-11-21"}}}}
	index := "logcollect-k8s_log-2026.11.21"
	do(t, "PUT", es.URL()+"/"+index+"/_doc/k1?refresh=true", r.AppendJSON(nil), http.StatusCreated)
	var m map[string]struct {
		Mappings struct {
			Properties map[string]json.RawMessage `json:"properties"`
		} `json:"mappings"`
	}
	json.Unmarshal(do(t, "GET", es.URL()+"/"+index+"/_mapping", nil, http.StatusOK), &m)
	var k struct {
		Properties map[string]struct {
			Type       string `json:"type"`
			Properties map[string]struct {
				Type string `json:"type"`
			} `json:"properties"`
		} `json:"properties"`
	}
	if err := json.Unmarshal(m[index].Mappings.Properties["kubernetes"], &k); err != nil {
		t.Fatalf("kubernetes mapping: %v (%s)", err, m[index].Mappings.Properties["kubernetes"])
	}
	if got := k.Properties["namespace"].Type; got != "keyword" {
		t.Errorf("kubernetes.namespace mapped as %q, want keyword", got)
	}
	for _, c := range []struct{ obj, field string }{{"pod", "name"}, {"pod", "uid"}, {"container", "name"}, {"node", "name"},
		{"labels", "app"}, {"labels", "version"}, {"annotations", "deployed"}} {
		if got := k.Properties[c.obj].Properties[c.field].Type; got != "keyword" {
			t.Errorf("kubernetes.%s.%s mapped as %q, want keyword", c.obj, c.field, got)
		}
	}
	for q, want := range map[string]int{"kubernetes.labels.app:web": 1, "kubernetes.namespace:web": 1, "kubernetes.node.name:node-1": 1, "kubernetes.labels.version:3": 0} {
		var r struct{ Count int }
		json.Unmarshal(do(t, "GET", es.URL()+"/logcollect-*/_count?q="+url.QueryEscape(q), nil, http.StatusOK), &r)
		if r.Count != want {
			t.Errorf("%s: count %d, want %d", q, r.Count, want)
		}
	}
}
