package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/logcollect/logcollect/devkit/testkit"
	kt "github.com/logcollect/logcollect/logagent/internal/testutil"
	"github.com/logcollect/logcollect/pkg/fleet"
)

// The command line of rollout: usage errors, status of a rollout left
// without a controller, abort, and start refusing a group without members.
// Rollouts driven over real agents are in fleet_test.go.
func TestRolloutCommand(t *testing.T) {
	e := testkit.StartEtcd(t, testkit.EtcdOptions{})
	ep := e.Endpoint()
	cli := kt.EtcdClient(t, clientv3.Config{Endpoints: []string{ep}})
	dir := t.TempDir()
	good := writeFile(t, dir, "good.json", `[{"path":"/var/log/b.log","topic":"b"}]`)
	bad := writeFile(t, dir, "bad.json", `[{"path":"/var/log/b.log","topic":"b b"}]`)
	for _, tt := range []struct {
		args []string
		code int
		err  string
	}{
		{[]string{"rollout"}, exitUsage, "want an action: start, status, abort or resume"},
		{[]string{"rollout", "go", "-group", "web"}, exitUsage, `unknown action "go"`},
		{[]string{"rollout", "start", good}, exitUsage, "-group is required"},
		{[]string{"rollout", "start", "-group", "web"}, exitUsage, "rollout start wants exactly one FILE"},
		{[]string{"rollout", "start", "-group", "web", "-steps", "10%,5%", good}, exitUsage, "-steps: steps \"10%,5%\": each step must be larger"},
		{[]string{"rollout", "status", "-group", "web", "-o", "yaml"}, exitUsage, `-o "yaml": want json`},
		{[]string{"rollout", "start", "-group", "web", "-endpoints", ep, bad}, exitRuntime, "nothing started: fix the problems above"},
		{[]string{"rollout", "start", "-group", "web", "-endpoints", ep, good}, exitRuntime, "group web has no members: no agent under /logagent/<ip>/status lists it"},
		{[]string{"rollout", "status", "-group", "web", "-endpoints", ep}, exitRuntime, "group web has no rollout"},
		{[]string{"rollout", "abort", "-group", "web", "-endpoints", ep}, exitRuntime, "group web has no rollout to abort"},
	} {
		code, _, errs := run(t, tt.args...)
		if code != tt.code || !strings.Contains(errs, tt.err) {
			t.Errorf("%v: %d %q, want %d %q", tt.args, code, errs, tt.code, tt.err)
		}
	}

	// A running rollout whose controller is gone (no lock).
	steps, _ := fleet.ParseSteps("1,50%")
	now := time.Now().UTC()
	r := fleet.Rollout{ID: "r-1", Group: "web", State: fleet.StateRunning, Candidate: json.RawMessage(`[]`), Hash: fleet.ConfigHash([]byte(`[]`)),
		Steps: steps, Wave: 1, Selection: fleet.Selection{Cutoff: 1 << 62, Targets: 2}, StartedAt: now, WaveStartedAt: now,
		Waves: []fleet.WaveResult{{Step: steps[0], Targets: 1, Started: now, Finished: now, Result: "passed"}, {Step: steps[1], Targets: 2, Started: now}}}
	doc, _ := json.Marshal(r)
	if _, err := cli.Put(context.Background(), "/logagent/groups/web/rollout", string(doc)); err != nil {
		t.Fatal(err)
	}
	code, out, errs := run(t, "rollout", "status", "-group", "web", "-endpoints", ep)
	t.Logf("rollout status:\n%s", out)
	for _, want := range []string{"group web: rollout r-1 paused (no controller) at wave 2 of 3\n", "1     1     1        ", "passed", "2     50%   2", "running", "3     100%  -", "pending", "continue with logagent rollout resume -group web"} {
		if code != exitOK || !strings.Contains(out, want) {
			t.Errorf("status: %d %q lacks %q (%s)", code, out, want, errs)
		}
	}
	code, out, _ = run(t, "rollout", "status", "-group", "web", "-o", "json", "-endpoints", ep)
	var st rolloutStatusJSON
	if code != exitOK || json.Unmarshal([]byte(out), &st) != nil || st.State != "paused (no controller)" || st.Rollout.ID != "r-1" || st.Controller != nil {
		t.Errorf("status -o json: %d %s", code, out)
	}
	code, out, errs = run(t, "rollout", "abort", "-group", "web", "-endpoints", ep)
	if code != exitOK || !strings.Contains(out, "rollout r-1 of group web: aborted by ") || !strings.Contains(out, "at wave 2; agents return to the stable config r0") {
		t.Errorf("abort: %d %q %q", code, out, errs)
	}
	code, _, errs = run(t, "rollout", "resume", "-group", "web", "-endpoints", ep)
	if code != exitRuntime || !strings.Contains(errs, "nothing to resume: rollout r-1 of group web is aborted") {
		t.Errorf("resume aborted: %d %q", code, errs)
	}
}
