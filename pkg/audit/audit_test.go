package audit

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/logcollect/logcollect/devkit/testkit"
)

func TestHoles(t *testing.T) {
	for _, tc := range []struct {
		name    string
		spans   []span
		want    []Gap
		unknown bool
	}{
		{"all covered", []span{{0, 10}, {10, 25}}, nil, false},
		{"first and last missing", []span{{10, 20}}, []Gap{{0, 10}, {20, 30}}, false},
		{"middle missing", []span{{0, 10}, {20, 30}}, []Gap{{10, 20}}, false},
		{"nothing indexed", nil, []Gap{{0, 30}}, false},
		{"duplicates", []span{{0, 10}, {0, 10}, {10, 30}}, nil, false},
		{"no end: up to the next start", []span{{0, 0}, {20, 30}}, nil, true},
		{"no end last: nothing said after it", []span{{0, 10}, {15, 0}}, []Gap{{10, 15}}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			to := int64(30)
			if tc.name == "all covered" {
				to = 25
			}
			got, unknown := holes(tc.spans, 0, to)
			if !reflect.DeepEqual(got, tc.want) || unknown != tc.unknown {
				t.Errorf("holes = %v %v, want %v %v", got, unknown, tc.want, tc.unknown)
			}
		})
	}
}

// Status documents as agents publish them: groups (from the fleet work)
// and files with or without counts.
const statusWeb = `{"ip":"10.0.0.5","hostname":"web-1","groups":[{"group":"web","revision":3},{"group":"edge"}],
  "files":[{"path":"/var/log/a.log","topic":"t","id":"f1","offset":30,"device":7,"inode":100,"events":3,"dropped":0,"counted_since":0,"lag":0}],
  "files_omitted":2}`
const statusDB = `{"ip":"10.0.0.6","hostname":"db-1",
  "files":[{"path":"/var/log/b.log","topic":"t","offset":50,"device":7,"inode":200}]}`

func TestDecodeStatusAndFilter(t *testing.T) {
	web, err := DecodeStatus([]byte(statusWeb), "")
	if err != nil {
		t.Fatal(err)
	}
	since := int64(0)
	want := Host{IP: "10.0.0.5", Hostname: "web-1", Groups: []string{"web", "edge"}, FilesOmitted: 2,
		Files: []File{{Path: "/var/log/a.log", Topic: "t", ID: "f1", Device: 7, Inode: 100, Offset: 30, Events: 3, CountedSince: &since}}}
	if !reflect.DeepEqual(web, want) {
		t.Fatalf("DecodeStatus = %+v\nwant %+v", web, want)
	}
	db, err := DecodeStatus([]byte(strings.Replace(statusDB, `"ip":"10.0.0.6",`, "", 1)), "10.0.0.6")
	if err != nil {
		t.Fatal(err)
	}
	if db.IP != "10.0.0.6" || db.Files[0].CountedSince != nil || db.Groups != nil {
		t.Fatalf("DecodeStatus without ip or counts = %+v", db)
	}
	if _, err := DecodeStatus([]byte("nope"), ""); err == nil {
		t.Fatal("DecodeStatus of garbage: want an error")
	}
	hosts := []Host{web, db}
	ips := func(hs []Host) []string {
		var out []string
		for _, h := range hs {
			out = append(out, h.IP)
		}
		return out
	}
	for _, tc := range []struct {
		group, ip string
		want      []string
	}{
		{"", "", []string{"10.0.0.5", "10.0.0.6"}},
		{"web", "", []string{"10.0.0.5"}},
		{"edge", "", []string{"10.0.0.5"}},
		{"db", "", nil},
		{"", "10.0.0.6", []string{"10.0.0.6"}},
		{"web", "10.0.0.6", nil},
	} {
		if got := ips(Filter(hosts, tc.group, tc.ip)); !reflect.DeepEqual(got, tc.want) {
			t.Errorf("Filter(%q, %q) = %v, want %v", tc.group, tc.ip, got, tc.want)
		}
	}
}

// index is a fake pipeline's output: the agent records of lines of 10
// bytes at the given offsets, in a data index mapped as the transfer's
// template maps it, and dead letters as the transfer writes them.
type index struct {
	t  *testing.T
	es *testkit.ES
}

func newIndex(t *testing.T) *index {
	es := testkit.StartES(t, testkit.ESOptions{RefreshInterval: 50 * time.Millisecond})
	ix := &index{t: t, es: es}
	keyword, long := map[string]any{"type": "keyword"}, map[string]any{"type": "long"}
	ix.do("PUT", "/logcollect-t-2026.12.02", map[string]any{"mappings": map[string]any{"properties": map[string]any{
		"host": map[string]any{"properties": map[string]any{"ip": keyword, "name": keyword}},
		"log": map[string]any{"properties": map[string]any{
			"file":   map[string]any{"properties": map[string]any{"path": keyword, "device": long, "inode": long, "id": keyword}},
			"offset": long, "end_offset": long,
		}},
	}}})
	return ix
}

func (ix *index) do(method, path string, body any) {
	ix.t.Helper()
	var rd *bytes.Reader
	switch b := body.(type) {
	case string:
		rd = bytes.NewReader([]byte(b))
	default:
		data, _ := json.Marshal(b)
		rd = bytes.NewReader(data)
	}
	req, _ := http.NewRequest(method, ix.es.URL()+path, rd)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		ix.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		ix.t.Fatalf("%s %s: %s", method, path, resp.Status)
	}
}

// fileID is the id the tests give the generation of inode on ip.
func fileID(ip string, inode uint64) string { return fmt.Sprintf("%s-%d", ip, inode) }

func record(ip string, inode uint64, off int64) string {
	return fmt.Sprintf(`{"@timestamp":"2026-12-02T10:00:00.000Z","message":"line","host":{"name":"h","ip":%q},"log":{"file":{"path":"/var/log/a.log","inode":%d,"device":7,"id":%q},"offset":%d,"end_offset":%d},"event":{"id":"%s-%d-%d"}}`,
		ip, inode, fileID(ip, inode), off, off+10, ip, inode, off)
}

// lines indexes the lines at offsets; dead ones go to the dead-letter index.
func (ix *index) lines(ip string, inode uint64, offsets []int64, dead ...int64) {
	ix.t.Helper()
	var b strings.Builder
	for _, off := range offsets {
		fmt.Fprintf(&b, `{"index":{"_index":"logcollect-t-2026.12.02","_id":"%s-%d-%d"}}`+"\n%s\n", ip, inode, off, record(ip, inode, off))
	}
	for _, off := range dead {
		orig, _ := json.Marshal(record(ip, inode, off))
		fmt.Fprintf(&b, `{"index":{"_index":"logcollect-dead-letter","_id":"dl-%d"}}`+"\n"+
			`{"@timestamp":"2026-12-02T10:00:01.000Z","message":"mapper_parsing_exception: x","error":{"type":"mapper_parsing_exception","reason":"x","status":400},"original":{"index":"logcollect-t-2026.12.02","id":"x"},"event":{"original":%s}}`+"\n", off, orig)
	}
	ix.do("POST", "/_bulk?refresh=true", b.String())
}

func offsets(from, to int64) []int64 {
	var out []int64
	for o := from; o < to; o += 10 {
		out = append(out, o)
	}
	return out
}

func host(ip string, files ...File) Host {
	for i := range files {
		if files[i].CountedSince != nil {
			files[i].ID = fileID(ip, files[i].Inode)
		}
	}
	return Host{IP: ip, Hostname: "h", Files: files}
}

func counted(inode uint64, since, offset int64, events, dropped uint64) File {
	return File{Path: "/var/log/a.log", Topic: "t", Device: 7, Inode: inode, Offset: offset, Events: events, Dropped: dropped, CountedSince: &since}
}

var fast = Options{Poll: 50 * time.Millisecond, Settle: 300 * time.Millisecond, Wait: 5 * time.Second}

func TestAuditAgainstTheEmulator(t *testing.T) {
	ix := newIndex(t)
	// Host A: file 1 complete (lines 0..190), one of them dead-lettered;
	// file 2 misses lines 50 and 120-130, and the last one (190).
	ix.lines("10.0.0.5", 1, append(offsets(0, 100), offsets(110, 200)...), 100)
	ix.lines("10.0.0.5", 2, append(append(offsets(0, 50), offsets(60, 120)...), offsets(140, 190)...))
	// Host B: started at offset 100 (start=end) with 2 lines dropped on
	// purpose (at 120 and 150), and the lines before 100 indexed by an
	// earlier generation that counted none; plus an uncounted file.
	ix.lines("10.0.0.6", 1, append(append(offsets(0, 120), offsets(130, 150)...), offsets(160, 200)...))
	hosts := []Host{
		host("10.0.0.5", counted(1, 0, 200, 20, 0), counted(2, 0, 200, 20, 0)),
		host("10.0.0.6", counted(1, 100, 200, 8, 2), File{Path: "/var/log/old.log", Device: 7, Inode: 9, Offset: 500}),
	}
	rep, err := Run(context.Background(), hosts, HTTPSearcher{URL: ix.es.URL()}, fast)
	if err != nil {
		t.Fatal(err)
	}
	type fig struct {
		acked, indexed, dead, missing uint64
		verdict                       string
		gaps                          []Gap
	}
	var got []fig
	for _, r := range rep.Rows {
		got = append(got, fig{r.Acked, r.Indexed, r.DeadLettered, r.Missing, r.Verdict, r.Gaps})
	}
	want := []fig{
		{20, 19, 1, 0, OK, nil},
		{20, 16, 0, 4, Missing, []Gap{{50, 60}, {120, 140}, {190, 200}}},
		{8, 8, 0, 0, OK, nil},
		{0, 0, 0, 0, Uncounted, nil},
	}
	if !reflect.DeepEqual(got, want) {
		t.Fatalf("rows:\n%+v\nwant\n%+v", got, want)
	}
	if rep.Verdict != Missing || rep.Missing != 4 || rep.Acked != 48 || rep.Indexed != 43 || rep.DeadLettered != 1 || rep.Uncounted != 1 || rep.Hosts != 2 || rep.Files != 4 {
		t.Errorf("report: %+v", rep)
	}
	var text strings.Builder
	if err := rep.WriteText(&text); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{
		"10.0.0.5 /var/log/a.log (device 7, inode 2): missing lines in bytes 50-60, 120-140, 190-200",
		"audit: 2 hosts, 4 files: 48 acked, 2 dropped, 43 indexed, 1 dead-lettered, 0 in flight, 4 missing (1 files uncounted): MISSING",
	} {
		if !strings.Contains(text.String(), s) {
			t.Errorf("text report lacks %q:\n%s", s, text.String())
		}
	}

	// One look (a page refreshed live): a deficit is in flight, not yet
	// missing.
	once := fast
	once.Wait = -1
	rep, err = Run(context.Background(), hosts[:1], HTTPSearcher{URL: ix.es.URL()}, once)
	if err != nil {
		t.Fatal(err)
	}
	if r := rep.Rows[1]; r.InFlight != 4 || r.Missing != 0 || r.Verdict != InFlight || rep.Verdict != InFlight {
		t.Errorf("one look: %+v, report %s", r, rep.Verdict)
	}
}

// Lines indexed while the audit looks are in flight, then counted: the
// audit waits for the counts to settle before it calls lines missing.
func TestAuditWaitsForLinesInFlight(t *testing.T) {
	ix := newIndex(t)
	ix.lines("10.0.0.5", 1, offsets(0, 50))
	go func() {
		for off := int64(50); off < 100; off += 10 {
			time.Sleep(100 * time.Millisecond)
			ix.lines("10.0.0.5", 1, []int64{off})
		}
	}()
	opts := fast
	opts.Settle = time.Second
	rep, err := Run(context.Background(), []Host{host("10.0.0.5", counted(1, 0, 100, 10, 0))}, HTTPSearcher{URL: ix.es.URL()}, opts)
	if err != nil {
		t.Fatal(err)
	}
	if r := rep.Rows[0]; r.Indexed != 10 || r.Verdict != OK || rep.Verdict != OK {
		t.Fatalf("row %+v, verdict %s", r, rep.Verdict)
	}
}

// An unreachable Elasticsearch is an error naming it, not a report.
func TestAuditElasticsearchDown(t *testing.T) {
	_, err := Run(context.Background(), []Host{host("10.0.0.5", counted(1, 0, 100, 10, 0))}, HTTPSearcher{URL: "http://127.0.0.1:1"}, fast)
	if err == nil || !strings.Contains(err.Error(), "127.0.0.1:1") {
		t.Fatalf("err = %v", err)
	}
}
