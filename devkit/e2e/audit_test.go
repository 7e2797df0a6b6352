package e2e

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/logcollect/logcollect/devkit/chaos"
	"github.com/logcollect/logcollect/pkg/audit"
)

// The delivery audit on a pipeline of real processes (logagent → broker →
// logtransfer → emulator), run as the operator runs it (`logagent audit`):
//   - everything delivered: 0 missing, with the exact counts, and the
//     lines a processor dropped counted as dropped, not missing;
//   - a document deleted behind the pipeline's back: the audit names the
//     host, the file and the byte range of the line, and exits 1;
//   - the agent restarted: its counts go on from the checkpoint.
func TestAuditEndToEnd(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs every binary")
	}
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	c := startCluster(ctx, t)
	plain, filtered := filepath.Join(c.LogDir, "plain.log"), filepath.Join(c.LogDir, "filtered.log")
	line := func(path string, i int) string {
		level := "INFO"
		if i%10 == 0 {
			level = "DEBUG" // dropped by filtered.log's processor
		}
		return fmt.Sprintf("%s line %04d of %s\n", level, i, filepath.Base(path))
	}
	write := func(path string, from, to int) {
		f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		defer f.Close()
		for i := from; i <= to; i++ {
			fmt.Fprint(f, line(path, i))
		}
	}
	write(plain, 1, 100)
	write(filtered, 1, 100)
	_, agent := startPipeline(ctx, t, c, fmt.Sprintf(`[{"path":%q,"topic":%q,"start":"beginning"},`+
		`{"path":%q,"topic":%q,"start":"beginning","processors":[{"type":"drop","pattern":"^DEBUG"}]}]`, plain, topic, filtered, topic))
	if _, n, err := c.WaitIndexed(ctx, 190, 20*time.Second, 60*time.Second); err != nil || n < 190 {
		t.Fatalf("%d of 190 lines indexed (%v)", n, err)
	}

	type fig struct{ acked, dropped, indexed, missing uint64 }
	figures := func(rep audit.Report) map[string]fig {
		out := map[string]fig{}
		for _, r := range rep.Rows {
			out[r.Path] = fig{r.Acked, r.Dropped, r.Indexed, r.Missing}
		}
		return out
	}
	// auditUntil runs the audit until the status documents (published
	// every 2 s; none while the agent restarts) show the acknowledged
	// counts wanted.
	auditUntil := func(want map[string]fig, wantCode int) (audit.Report, string) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for {
			rep, code, out, err := c.Audit(ctx, time.Second)
			got := figures(rep)
			if err == nil && code == wantCode && fmt.Sprint(got) == fmt.Sprint(want) {
				return rep, out
			}
			if time.Now().After(deadline) {
				t.Fatalf("audit: exit %d, figures %v (%v), want exit %d and %v\n%s", code, got, err, wantCode, want, out)
			}
			time.Sleep(500 * time.Millisecond)
		}
	}
	rep, _ := auditUntil(map[string]fig{plain: {100, 0, 100, 0}, filtered: {90, 10, 90, 0}}, 0)
	if rep.Verdict != audit.OK || rep.Hosts != 1 || rep.Files != 2 {
		t.Fatalf("audit of a delivered pipeline: %s", rep.Summary())
	}

	// A document deleted behind the pipeline's back: line 42 of plain.log.
	docs := search(ctx, t, c, `message:"line 0042 of plain.log"`, 5)
	if len(docs) != 1 {
		t.Fatalf("found %d documents of line 42", len(docs))
	}
	var start int64
	for i := 1; i < 42; i++ {
		start += int64(len(line(plain, i)))
	}
	end := start + int64(len(line(plain, 42)))
	del, _ := http.NewRequestWithContext(ctx, http.MethodDelete, c.Endpoints.Elasticsearch+"/"+docs[0].Index+"/_doc/"+url.PathEscape(docs[0].ID)+"?refresh=true", nil)
	resp, err := http.DefaultClient.Do(del)
	if err != nil || resp.StatusCode != http.StatusOK {
		t.Fatalf("delete the document of line 42: %v %v", resp, err)
	}
	resp.Body.Close()
	rep, out := auditUntil(map[string]fig{plain: {100, 0, 99, 1}, filtered: {90, 10, 90, 0}}, 1)
	var row audit.Row
	for _, r := range rep.Rows {
		if r.Path == plain {
			row = r
		}
	}
	if row.IP != chaos.AgentIP || len(row.Gaps) != 1 || row.Gaps[0] != (audit.Gap{From: start, To: end}) || row.Verdict != audit.Missing || rep.Verdict != audit.Missing {
		t.Fatalf("the audit must name host %s, %s and bytes %d-%d: %+v\n%s", chaos.AgentIP, plain, start, end, row, out)
	}
	// The text report, as an operator reads it.
	text, _, code, err := c.AuditText(ctx, time.Second)
	if err != nil {
		t.Fatal(err)
	}
	if want := fmt.Sprintf("%s %s (device %d, inode %d): missing lines in bytes %d-%d", chaos.AgentIP, plain, row.Device, row.Inode, start, end); code != 1 || !strings.Contains(text, want) {
		t.Fatalf("text audit: exit %d, want 1 and %q in:\n%s", code, want, text)
	}

	// The agent restarted: the counts continue from the checkpoint.
	if err := agent.Stop(10 * time.Second); err != nil && !strings.Contains(err.Error(), "terminated") {
		t.Logf("stop the agent: %v", err)
	}
	write(plain, 101, 120)
	write(filtered, 101, 120)
	again, err := c.NewAgent()
	if err != nil {
		t.Fatal(err)
	}
	if err := again.Start(); err != nil {
		t.Fatal(err)
	}
	auditUntil(map[string]fig{plain: {120, 0, 119, 1}, filtered: {108, 12, 108, 0}}, 1)
}
