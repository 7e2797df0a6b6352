package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/logcollect/logcollect/devkit/chaos"
	"github.com/logcollect/logcollect/devkit/testkit"
	"github.com/logcollect/logcollect/pkg/fleet"
)

// chromium finds the browser the console tests drive (Debian's chromium
// package, installed by scripts/install-deps.sh).
func chromium(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("no chromium on PATH: run scripts/install-deps.sh (Debian: apt-get install chromium) to test the console in a browser")
	return ""
}

// The console of a running pipeline of real processes, in headless
// Chromium: three agents of group "web" (one refuses the group's config by
// its allowed_paths), a rollout paused in its first wave, the transfer
// with [etcd], the broker, etcd and the emulator. Each page shows the
// pipeline's numbers; the Delivery page names a document deleted behind
// the pipeline's back; Search finds a line written seconds earlier, and a
// click on a field value narrows the query; the rollout is aborted from its
// page. UPDATE_SCREENSHOTS=1 writes
// the screenshots of docs/console.md.
func TestConsoleInChromium(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs every binary and a browser")
	}
	browser := chromium(t)
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	c := startCluster(ctx, t)
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{c.Endpoints.Etcd}, DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()

	// 20 lines of equal length, so line i starts at i*len.
	file := filepath.Join(c.LogDir, "app.log")
	var text bytes.Buffer
	for i := range 20 {
		fmt.Fprintf(&text, "%s line %02d GET /orders 200\n", time.Now().UTC().Format(time.RFC3339), i)
	}
	lineLen := int64(text.Len() / 20)
	if err := os.WriteFile(file, text.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	keys := fleet.Keys{CollectPattern: fleet.DefaultCollectPattern}
	put, err := cli.Put(ctx, keys.GroupConfig("web"), fmt.Sprintf(`[{"path":%q,"topic":%q,"start":"beginning"}]`, file, topic))
	if err != nil {
		t.Fatal(err)
	}
	stable := put.Header.Revision

	agents := []chaos.FleetAgent{
		{IP: "10.0.0.1", Hostname: "web-1", Groups: "web"},
		{IP: "10.0.0.2", Hostname: "web-2", Groups: "web"},
		{IP: "10.0.0.3", Hostname: "web-3", Groups: "web", AllowedPaths: "/srv/nothing/**"}, // refuses the group's file
	}
	transfer, err := c.NewTransfer()
	if err != nil {
		t.Fatal(err)
	}
	services := []*chaos.Service{transfer}
	for _, a := range agents {
		s, err := c.NewFleetAgent(a)
		if err != nil {
			t.Fatal(err)
		}
		services = append(services, s)
	}
	for _, s := range services {
		if err := s.Start(); err != nil {
			t.Fatal(err)
		}
	}
	if _, n, err := c.WaitIndexed(ctx, 40, 20*time.Second, 90*time.Second); err != nil || n != 40 {
		t.Fatalf("%d of 40 documents indexed (20 lines by two agents): %v", n, err)
	}
	ui := "http://" + transfer.HTTP + "/ui/"

	// A rollout stopped in its first wave (no controller holds the lock):
	// its canaries run the candidate, the rest the stable revision.
	members := []string{"web-1", "web-2", "web-3"}
	ro := fleet.Rollout{ID: "e2e-1", Group: "web", State: fleet.StateRunning, StableRevision: stable,
		Candidate: json.RawMessage(fmt.Sprintf(`[{"path":%q,"topic":%q,"start":"beginning","fields":{"rollout":"e2e"}}]`, file, topic)),
		Steps:     []fleet.Step{{Count: 1}, {Percent: 100}},
		Selection: fleet.Select("web", fleet.Step{Count: 1}, members),
		StartedAt: time.Now().UTC(), UpdatedAt: time.Now().UTC()}
	ro.Hash = fleet.ConfigHash(ro.Candidate)
	ro.Waves = []fleet.WaveResult{{Step: ro.Steps[0], Targets: 1, Started: ro.StartedAt}}
	doc, _ := json.Marshal(ro)
	if _, err := cli.Put(ctx, keys.Rollout("web"), string(doc)); err != nil {
		t.Fatal(err)
	}
	var canary string
	for _, m := range members[:2] {
		if ro.Selects(m) {
			canary = m
		}
	}

	// The loss: web-2's document of line 5 deleted from the index.
	lost := 5 * lineLen
	deleteDoc(ctx, t, c.Endpoints.Elasticsearch, "10.0.0.2", lost)

	// The line Search must find, written now.
	token := fmt.Sprintf("needle%d", time.Now().UnixNano())
	f, err := os.OpenFile(file, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	fmt.Fprintf(f, "%s %s was written just now\n", time.Now().UTC().Format(time.RFC3339), token)
	f.Close()
	written := time.Now()

	opts := append(chromedp.DefaultExecAllocatorOptions[:], chromedp.ExecPath(browser), chromedp.NoSandbox,
		chromedp.Flag("disable-dev-shm-usage", true), chromedp.WindowSize(1280, 860))
	actx, cancelA := chromedp.NewExecAllocator(ctx, opts...)
	defer cancelA()
	bctx, cancelB := chromedp.NewContext(actx, chromedp.WithLogf(t.Logf))
	defer cancelB()
	shots := os.Getenv("UPDATE_SCREENSHOTS") == "1"
	shot := func(name string) {
		if !shots {
			return
		}
		png, err := chromedp.Run(bctx, chromedp.CaptureScreenshot())
		if err != nil {
			t.Fatalf("screenshot %s: %v", name, err)
		}
		root, _ := testkit.RepoRoot()
		if err := os.WriteFile(filepath.Join(root, "docs", "console", name+".png"), png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	// waitText waits (bounded) until the element's text satisfies ok.
	waitText := func(what, sel string, within time.Duration, ok func(string) bool) string {
		t.Helper()
		deadline := time.Now().Add(within)
		var got string
		for {
			tctx, cancel := context.WithTimeout(bctx, 5*time.Second)
			var err error
			got, err = chromedp.Run(tctx, chromedp.Text(chromedp.CSS(sel)))
			cancel()
			if err == nil && ok(got) {
				return got
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s: %s shows %q (%v)", what, sel, got, err)
			}
			time.Sleep(300 * time.Millisecond)
		}
	}
	has := func(parts ...string) func(string) bool {
		return func(s string) bool {
			for _, p := range parts {
				if !strings.Contains(s, p) {
					return false
				}
			}
			return true
		}
	}

	// Fleet: three agents, the rejecting one stands out, the summary counts.
	if err := chromedp.Do(bctx, chromedp.Navigate(ui+"#fleet")); err != nil {
		t.Fatal(err)
	}
	onCandidate := "0"
	if canary != "" {
		onCandidate = "1"
	}
	waitText("fleet summary", `#fleet-groups tr[data-group="web"]`, time.Minute, func(s string) bool {
		f := strings.Fields(s)
		// group, agents, stable, on stable, on candidate, rollout ..., drifted, rejected, stale
		return len(f) >= 9 && f[0] == "web" && f[1] == "3" && f[2] == fmt.Sprintf("r%d", stable) && f[4] == onCandidate &&
			strings.Contains(s, "wave 1 of 2") && f[len(f)-2] == "1" && f[len(f)-3] == "0"
	})
	waitText("rejected agent", `#fleet-agents tr.rejected[data-ip="10.0.0.3"]`, 10*time.Second, has("web-3", "rejected", "allowed_paths"))
	waitText("healthy agent", `#fleet-agents tr[data-ip="10.0.0.2"]`, 10*time.Second, has("web-2", "applied"))
	waitText("agents shown", "#fleet-count", 5*time.Second, has("3"))
	shot("fleet")

	// Rollouts: the rollout, paused in wave 1, with its abort button.
	if err := chromedp.Do(bctx, chromedp.Navigate(ui+"#rollouts")); err != nil {
		t.Fatal(err)
	}
	waitText("rollout", `.card[data-group="web"]`, 30*time.Second, has("e2e-1", "paused (no controller)", "wave 1 of 2", ro.Hash, "Abort rollout"))
	shot("rollouts")

	// Delivery: web-2's deleted line is missing, by its byte range; the
	// audit counts the rest.
	if err := chromedp.Do(bctx, chromedp.Navigate(ui+"#delivery")); err != nil {
		t.Fatal(err)
	}
	waitText("missing total", `[data-total="missing"] b`, time.Minute, has("1"))
	waitText("missing row", `#delivery-rows tr.missing[data-ip="10.0.0.2"]`, 10*time.Second, has(file, "MISSING", fmt.Sprintf("%d–%d", lost, lost+lineLen)))
	shot("delivery")

	// Search: the line written seconds ago; a click on its host.name adds
	// a filter to the query.
	if err := chromedp.Do(bctx, chromedp.Navigate(ui+"#search?q="+url.QueryEscape(token)+"&from=now-1h")); err != nil {
		t.Fatal(err)
	}
	for {
		var n string
		if chromedp.Do(bctx, chromedp.Reload(), chromedp.WaitVisible(chromedp.CSS(`body[data-state="ready"]`))) == nil {
			n, _ = chromedp.Run(bctx, chromedp.Text(chromedp.CSS("#search-total")))
		}
		if n == "2" { // both healthy agents read the file
			break
		}
		if time.Since(written) > time.Minute {
			t.Fatalf("search for the line written at %s: %q documents", written.Format(time.TimeOnly), n)
		}
		time.Sleep(500 * time.Millisecond)
	}
	t.Logf("search found the line %.1f s after it was written", time.Since(written).Seconds())
	waitText("hits", "#search-hits", 5*time.Second, has(token+" was written just now", "host.name: web-"))
	if err := chromedp.Do(bctx, chromedp.Click(chromedp.CSS(`#search-hits li .field[data-field="host.name"]`))); err != nil {
		t.Fatal(err)
	}
	waitText("narrowed search", "#search-total", 10*time.Second, has("1"))
	if q, err := chromedp.Run(bctx, chromedp.Value(chromedp.CSS(`#search-form input[name="q"]`))); err != nil || !strings.Contains(q, token+` AND host.name:"web-`) {
		t.Errorf("query after the click: %q %v", q, err)
	}
	shot("search")

	// Abort from the Rollouts page (this etcd has no authentication, so no
	// credentials): the rollout is aborted and names who did it.
	if err := chromedp.Do(bctx, chromedp.Navigate(ui+"#rollouts"), chromedp.Click(chromedp.CSS(`button[data-abort="web"]`)),
		chromedp.WaitVisible(chromedp.CSS("#abort-dialog")), chromedp.Click(chromedp.CSS("#abort-confirm"))); err != nil {
		t.Fatal(err)
	}
	waitText("aborted rollout", `.card[data-group="web"]`, 30*time.Second, has("aborted", "aborted by the console", "at wave 1"))
	got, err := cli.Get(ctx, keys.Rollout("web"))
	if err != nil || len(got.Kvs) != 1 || !bytes.Contains(got.Kvs[0].Value, []byte(`"state":"aborted"`)) {
		t.Errorf("the rollout in etcd after the abort: %v %s", err, got.Kvs)
	}
}

// deleteDoc deletes the document of host ip at log.offset from the emulator.
func deleteDoc(ctx context.Context, t *testing.T, es, ip string, offset int64) {
	t.Helper()
	body := fmt.Sprintf(`{"query":{"bool":{"filter":[{"term":{"host.ip":%q}},{"term":{"log.offset":%d}}]}}}`, ip, offset)
	var res struct {
		Hits struct {
			Hits []struct {
				Index string `json:"_index"`
				ID    string `json:"_id"`
			} `json:"hits"`
		} `json:"hits"`
	}
	call(ctx, t, http.MethodPost, es+"/logcollect-*/_search", body, &res)
	if len(res.Hits.Hits) != 1 {
		t.Fatalf("documents of %s at offset %d: %+v", ip, offset, res.Hits.Hits)
	}
	h := res.Hits.Hits[0]
	call(ctx, t, http.MethodDelete, es+"/"+h.Index+"/_doc/"+url.PathEscape(h.ID)+"?refresh=true", "", nil)
}

func call(ctx context.Context, t *testing.T, method, u, body string, out any) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctx, method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, _ := io.ReadAll(resp.Body)
	if resp.StatusCode/100 != 2 {
		t.Fatalf("%s %s: %s %s", method, u, resp.Status, data)
	}
	if out != nil {
		if err := json.Unmarshal(data, out); err != nil {
			t.Fatal(err)
		}
	}
}
