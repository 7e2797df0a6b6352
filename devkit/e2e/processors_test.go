package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/IBM/sarama"

	"github.com/logcollect/logcollect/devkit/chaos"
	"github.com/logcollect/logcollect/devkit/testkit"
)

const (
	topic  = "web"
	secret = "secret123"
	domain = "@mail.example"
)

// accessLine is one line the test writes and what must become of it.
type accessLine struct {
	id      int
	at      time.Time // the line's own time
	status  int
	health  bool // a health check: dropped by the chain
	secret  bool // carries password=secret123
	email   bool // its user is an e-mail address
	text    string
	wantIdx string // the daily index its own time decides
}

// accessLines writes n nginx combined lines: every 10th a health check
// (the last line is one, so the end of the file is a dropped line), every
// 6th a login with a password, every 8th with an e-mail address as user,
// every 7th (not health) status 500, and every 4th dated yesterday.
func accessLines(n int, now time.Time) []accessLine {
	var ls []accessLine
	for i := range n {
		l := accessLine{id: i, at: now.Add(time.Duration(i) * time.Second), status: 200}
		if i%4 == 1 {
			l.at = l.at.AddDate(0, 0, -1)
		}
		path := fmt.Sprintf("/api/orders?id=l%d", i)
		switch {
		case i%10 == 9:
			l.health, path = true, fmt.Sprintf("/healthz?id=l%d&password=%s", i, secret)
		case i%6 == 1:
			l.secret, path = true, fmt.Sprintf("/login?id=l%d&password=%s", i, secret)
		}
		if !l.health && i%7 == 3 {
			l.status = 500
		}
		user := "-"
		if i%8 == 2 {
			l.email, user = true, fmt.Sprintf("user%d%s", i, domain)
		}
		l.text = fmt.Sprintf(`10.1.%d.%d - %s [%s] "GET %s HTTP/1.1" %d %d "-" "e2e/1.0"`,
			i/250, i%250, user, l.at.Format("02/Jan/2006:15:04:05 -0700"), path, l.status, 100+i)
		l.wantIdx = "logcollect-" + topic + "-" + l.at.UTC().Format("2006.01.02")
		ls = append(ls, l)
	}
	return ls
}

// The chain of issue 15 on a real pipeline: mask, parse nginx, event time,
// and a drop of health checks. A masked password is in neither Kafka nor
// Elasticsearch, parsed.status:500 finds exactly the 500 lines, a line's
// own time decides its daily index, and dropped lines are nowhere while the
// checkpoint still reaches the end of the file. Read again from a rewound
// checkpoint, every line overwrites its own document.
func TestProcessorsEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs every binary")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	c := startCluster(ctx, t)

	// Seconds precision (the nginx layout), and far enough from midnight
	// that no line of "today" crosses into tomorrow's index.
	now := time.Now().UTC().Truncate(time.Second)
	if now.Hour() == 23 && now.Minute() >= 55 {
		now = now.Add(-10 * time.Minute)
	}
	lines := accessLines(200, now)
	file := filepath.Join(c.LogDir, "access.log")
	var text bytes.Buffer
	for _, l := range lines {
		text.WriteString(l.text + "\n")
	}
	if err := os.WriteFile(file, text.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	kept := map[int]accessLine{}
	var want500 int
	for _, l := range lines {
		if !l.health {
			kept[l.id] = l
			if l.status == 500 {
				want500++
			}
		}
	}

	entry := fmt.Sprintf(`[{"path":%q,"topic":%q,"start":"beginning","processors":[`+
		`{"type":"mask","builtins":["secrets","email"]},`+
		`{"type":"parse","format":"nginx"},`+
		`{"type":"timestamp","field":"parsed.time","layouts":["nginx"]},`+
		`{"type":"drop","field":"parsed.path","pattern":"^/healthz"}]}]`, file, topic)
	transfer, agent := startPipeline(ctx, t, c, entry)
	if _, n, err := c.WaitIndexed(ctx, int64(len(kept)), 20*time.Second, 60*time.Second); err != nil || n < int64(len(kept)) {
		t.Fatalf("%d of %d kept lines indexed (%v)", n, len(kept), err)
	}

	// (e) the checkpoint reaches the end of the file although its last line
	// was dropped (acknowledged without being sent).
	cpFile := filepath.Join(c.AgentData, "checkpoints.json")
	waitCheckpoint(ctx, t, cpFile, file, int64(text.Len()))

	// (a) Kafka: every kept line once, nothing masked or dropped in it.
	values := readTopic(ctx, t, c.Endpoints.Kafka)
	seen := map[int]bool{}
	var bad findings
	for _, v := range values {
		bad.leaks("a Kafka record", v)
		var rec struct {
			Message string `json:"message"`
		}
		if err := json.Unmarshal(v, &rec); err != nil {
			t.Fatalf("Kafka record %s: %v", v, err)
		}
		seen[lineID(t, rec.Message)] = true
	}
	if len(seen) != len(kept) {
		t.Errorf("Kafka holds %d distinct lines (%d records), want the %d kept", len(seen), len(values), len(kept))
	}

	// (b), (d) Elasticsearch: every kept line, clean, in the index of its own
	// time, with the read time as event.created.
	docs := search(ctx, t, c, "*", len(lines)+10)
	if len(docs) != len(kept) {
		t.Errorf("%d documents, want %d", len(docs), len(kept))
	}
	indices := map[string]int{}
	for _, d := range docs {
		bad.leaks("a document", d.raw)
		l, ok := kept[lineID(t, d.Source.Message)]
		if !ok {
			bad.add("document of a dropped line", "%s", d.raw)
			continue
		}
		indices[d.Index]++
		if d.Index != l.wantIdx {
			bad.add("line in the wrong daily index", "line %d (time %s) in %s, want %s", l.id, l.at, d.Index, l.wantIdx)
		}
		ts, err := time.Parse(time.RFC3339Nano, d.Source.Timestamp)
		if err != nil || !ts.Equal(l.at) {
			bad.add("@timestamp not the line's own time", "line %d: @timestamp %q, want %s (%v)", l.id, d.Source.Timestamp, l.at.Format(time.RFC3339), err)
		}
		created, err := time.Parse(time.RFC3339Nano, d.Source.Event.Created)
		if err != nil || created.Before(now.Add(-time.Minute)) || created.After(time.Now().Add(time.Minute)) {
			bad.add("event.created not the read time", "line %d: event.created %q (%v)", l.id, d.Source.Event.Created, err)
		}
		if d.Source.Parsed.Status != l.status || !strings.HasPrefix(d.Source.Parsed.Path, "/") {
			bad.add("parsed fields wrong", "line %d: parsed %+v, want status %d and a path", l.id, d.Source.Parsed, l.status)
		}
		if l.secret && !strings.Contains(d.Source.Message, "password=***") {
			bad.add("password not masked as ***", "line %d: %q", l.id, d.Source.Message)
		}
	}
	yesterday := "logcollect-" + topic + "-" + now.AddDate(0, 0, -1).Format("2006.01.02")
	if indices[yesterday] == 0 || len(indices) < 2 {
		t.Errorf("documents per index %v: want yesterday's %s used too", indices, yesterday)
	}
	t.Logf("documents per index: %v", indices)

	// (c) parsed.status:500, as a user types it (query_string).
	hits := search(ctx, t, c, "parsed.status:500", len(lines)+10)
	if len(hits) != want500 {
		t.Errorf("parsed.status:500 found %d documents, want the %d lines with status 500", len(hits), want500)
	}
	for _, h := range hits {
		if l, ok := kept[lineID(t, h.Source.Message)]; !ok || l.status != 500 {
			t.Errorf("parsed.status:500 found a line with another status: %s", h.raw)
		}
	}
	// Nothing of the health checks, and no unmasked secret, by search.
	for _, q := range []string{"parsed.path:\"/healthz\"", "message:healthz", "message:" + secret} {
		if n, err := c.Count(ctx, "logcollect-"+topic+"-*", fmt.Sprintf(`{"query_string":{"query":%q}}`, q)); err != nil || n != 0 {
			t.Errorf("%s: %d documents (%v), want none", q, n, err)
		}
	}

	// (f) Deterministic: the agent reads the whole file again under the same
	// file id (its checkpoint rewound to 0, as after a crash between Kafka's
	// acknowledgements and the checkpoint's save). Every kept line is sent
	// and indexed a second time and must overwrite its own document: same
	// _id in the same daily index (the line's time, not the read time).
	if err := agent.Stop(10 * time.Second); err != nil && !strings.Contains(err.Error(), "terminated") {
		t.Logf("stop the agent: %v", err)
	}
	rewindCheckpoint(t, cpFile, file)
	again, err := c.NewAgent()
	if err != nil {
		t.Fatal(err)
	}
	if err := again.Start(); err != nil {
		t.Fatal(err)
	}
	waitIndexedTotal(ctx, t, transfer, float64(2*len(kept)))
	if n := len(readTopic(ctx, t, c.Endpoints.Kafka)); n != 2*len(kept) {
		t.Errorf("after the re-read the topic holds %d records, want every kept line twice (%d)", n, 2*len(kept))
	}
	after := search(ctx, t, c, "*", len(lines)+10)
	if len(after) != len(docs) {
		t.Errorf("after the re-read: %d documents, want the same %d", len(after), len(docs))
	}
	where := map[string]string{}
	for _, d := range docs {
		where[d.ID] = d.Index
	}
	for _, d := range after {
		if idx, ok := where[d.ID]; !ok || idx != d.Index {
			bad.add("re-read line not in its first document", "_id %s in %s, first in %q: %s", d.ID, d.Index, idx, d.raw)
		}
	}
	bad.report(t)
}

// startCluster builds the binaries and starts the dev stack's parts as
// processes (topic with 2 partitions); their logs are shown if t fails.
func startCluster(ctx context.Context, t *testing.T) *chaos.Cluster {
	t.Helper()
	bins, err := chaos.Build(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	c, err := chaos.StartCluster(ctx, chaos.Config{Bin: bins, Dir: dir, Topic: topic, Partitions: 2, Logf: t.Logf})
	t.Cleanup(func() {
		c.Close()
		if t.Failed() {
			chaos.DumpLogs(t.Logf, dir, os.Getenv("CHAOS_LOGS"), t.Name())
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// startPipeline puts the collect config and starts a transfer and an agent.
func startPipeline(ctx context.Context, t *testing.T, c *chaos.Cluster, config string) (transfer, agent *chaos.Service) {
	t.Helper()
	if err := c.PutConfig(ctx, config); err != nil {
		t.Fatal(err)
	}
	transfer, err := c.NewTransfer()
	if err != nil {
		t.Fatal(err)
	}
	agent, err = c.NewAgent()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []*chaos.Service{transfer, agent} {
		if err := s.Start(); err != nil {
			t.Fatal(err)
		}
	}
	return transfer, agent
}

// rewindCheckpoint sets the checkpoint of path back to offset 0, keeping
// its file id (what a crash before the checkpoint's save leaves).
func rewindCheckpoint(t *testing.T, cpFile, path string) {
	t.Helper()
	b, err := os.ReadFile(cpFile)
	if err != nil {
		t.Fatal(err)
	}
	var cp map[string]any
	if err := json.Unmarshal(b, &cp); err != nil {
		t.Fatal(err)
	}
	files, _ := cp["files"].(map[string]any)
	rewound := 0
	for _, v := range files {
		if f, ok := v.(map[string]any); ok && f["path"] == path {
			f["offset"] = 0
			delete(f, "tail_off")
			delete(f, "tail")
			rewound++
		}
	}
	if rewound != 1 {
		t.Fatalf("checkpoint of %s not found in %s", path, b)
	}
	if b, err = json.Marshal(cp); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(cpFile, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// waitIndexedTotal waits until the transfer has indexed want documents
// (overwrites included).
func waitIndexedTotal(ctx context.Context, t *testing.T, transfer *chaos.Service, want float64) {
	t.Helper()
	var got float64
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline) && ctx.Err() == nil; {
		if m, err := transfer.Metrics(ctx); err == nil {
			if got = m["logtransfer_documents_indexed_total"]; got >= want {
				return
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Fatalf("the transfer indexed %.0f documents, want %.0f (every kept line twice)", got, want)
}

var idRE = regexp.MustCompile(`\?id=l(\d+)[& ]`)

func lineID(t *testing.T, message string) int {
	t.Helper()
	m := idRE.FindStringSubmatch(message)
	if m == nil {
		t.Fatalf("no line id in %q", message)
	}
	id, _ := strconv.Atoi(m[1])
	return id
}

// findings counts what is wrong by kind and keeps the first example of
// each, so a pipeline that ignores the chain fails with a short report
// instead of one error per line.
type findings struct {
	kinds []string
	n     map[string]int
	first map[string]string
}

func (f *findings) add(kind, format string, args ...any) {
	if f.n == nil {
		f.n, f.first = map[string]int{}, map[string]string{}
	}
	if f.n[kind] == 0 {
		f.kinds = append(f.kinds, kind)
		f.first[kind] = fmt.Sprintf(format, args...)
	}
	f.n[kind]++
}

// leaks adds a finding for each secret, e-mail address or dropped line in v.
func (f *findings) leaks(where string, v []byte) {
	for _, bad := range []string{secret, domain, "healthz"} {
		if bytes.Contains(v, []byte(bad)) {
			f.add(fmt.Sprintf("%s contains %q", where, bad), "%s", v)
		}
	}
}

func (f *findings) report(t *testing.T) {
	t.Helper()
	for _, k := range f.kinds {
		t.Errorf("%s: %d times, first: %s", k, f.n[k], f.first[k])
	}
}

type doc struct {
	ID     string `json:"_id"`
	Index  string `json:"_index"`
	Source struct {
		Message   string `json:"message"`
		Timestamp string `json:"@timestamp"`
		Event     struct {
			Created string `json:"created"`
		} `json:"event"`
		Parsed struct {
			Status int    `json:"status"`
			Path   string `json:"path"`
		} `json:"parsed"`
	} `json:"_source"`
	raw []byte
}

// search runs a query_string search over the topic's indices.
func search(ctx context.Context, t *testing.T, c *chaos.Cluster, q string, size int) []doc {
	t.Helper()
	if err := c.Refresh(ctx); err != nil {
		t.Fatal(err)
	}
	var res struct {
		Hits struct {
			Hits []json.RawMessage `json:"hits"`
		} `json:"hits"`
	}
	u := fmt.Sprintf("%s/logcollect-%s-*/_search?size=%d&q=%s", c.Endpoints.Elasticsearch, topic, size, url.QueryEscape(q))
	if err := testkit.GetJSON(ctx, u, &res); err != nil {
		t.Fatalf("search %s: %v", q, err)
	}
	var out []doc
	for _, h := range res.Hits.Hits {
		d := doc{raw: h}
		if err := json.Unmarshal(h, &d); err != nil {
			t.Fatalf("hit %s: %v", h, err)
		}
		out = append(out, d)
	}
	return out
}

// readTopic returns every record value of the topic, from each partition's
// start to its end.
func readTopic(ctx context.Context, t *testing.T, brokers string) [][]byte {
	t.Helper()
	cl, err := sarama.NewClient(strings.Split(brokers, ","), sarama.NewConfig())
	if err != nil {
		t.Fatal(err)
	}
	defer cl.Close()
	cons, err := sarama.NewConsumerFromClient(cl)
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	parts, err := cl.Partitions(topic)
	if err != nil {
		t.Fatal(err)
	}
	var values [][]byte
	for _, p := range parts {
		hwm, err := cl.GetOffset(topic, p, sarama.OffsetNewest)
		if err != nil {
			t.Fatal(err)
		}
		if hwm == 0 {
			continue
		}
		pc, err := cons.ConsumePartition(topic, p, sarama.OffsetOldest)
		if err != nil {
			t.Fatal(err)
		}
		for done := false; !done; {
			select {
			case m := <-pc.Messages():
				values = append(values, m.Value)
				done = m.Offset >= hwm-1
			case <-time.After(20 * time.Second):
				t.Fatalf("partition %d: no record for 20s before offset %d", p, hwm)
			case <-ctx.Done():
				t.Fatal(ctx.Err())
			}
		}
		pc.Close()
	}
	return values
}

// waitCheckpoint waits until the agent's checkpoint of path is at size.
func waitCheckpoint(ctx context.Context, t *testing.T, cpFile, path string, size int64) {
	t.Helper()
	var last int64 = -1
	deadline := time.Now().Add(20 * time.Second)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		var cp struct {
			Files map[string]struct {
				Path   string `json:"path"`
				Offset int64  `json:"offset"`
			} `json:"files"`
		}
		if b, err := os.ReadFile(cpFile); err == nil && json.Unmarshal(b, &cp) == nil {
			for _, f := range cp.Files {
				if f.Path == path {
					last = f.Offset
				}
			}
			if last == size {
				return
			}
		}
		time.Sleep(200 * time.Millisecond)
	}
	t.Errorf("checkpoint of %s at %d, want the end of the file (%d): a dropped line must still be acknowledged", path, last, size)
}
