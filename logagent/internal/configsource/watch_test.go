package configsource

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
	"github.com/logcollect/logcollect/pkg/logging"
)

func startEtcd(t *testing.T) *clientv3.Client {
	e := testkit.StartEtcd(t, testkit.EtcdOptions{})
	return kt.EtcdClient(t, clientv3.Config{Endpoints: []string{e.Endpoint()}})
}

type watched struct {
	t    *testing.T
	cli  *clientv3.Client
	keys fleet.Keys
	got  chan Desired
	last Desired
}

// startWatcher runs a watcher for host id hostID in groups against a real
// etcd.
func startWatcher(t *testing.T, cli *clientv3.Client, hostID string, groups ...string) *watched {
	w := &watched{t: t, cli: cli, keys: fleet.Keys{CollectPattern: "/logagent/%s/collect_config"}, got: make(chan Desired, 100)}
	cs, err := New(Options{Client: cli, HostKey: "/logagent/10.0.0.1/collect_config", Keys: w.keys, Groups: groups, HostID: hostID,
		Policy: policy, Log: logging.Discard(), Apply: func(d Desired) { w.got <- d }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); cs.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return w
}

// until waits for a desired config that satisfies cond.
func (w *watched) until(what string, cond func(Desired) bool) Desired {
	w.t.Helper()
	timeout := time.After(10 * time.Second)
	for {
		select {
		case d := <-w.got:
			w.last = d
			if cond(d) {
				return d
			}
		case <-timeout:
			w.t.Fatalf("never got %s; last: groups %+v sources %+v rejected %+v", what, w.last.Groups, w.last.Sources, w.last.Rejected)
		}
	}
}

func (w *watched) put(key, value string) int64 {
	w.t.Helper()
	resp, err := w.cli.Put(context.Background(), key, value)
	if err != nil {
		w.t.Fatal(err)
	}
	return resp.Header.Revision
}

func (w *watched) putRollout(r fleet.Rollout) {
	w.t.Helper()
	b, _ := json.Marshal(r)
	w.put(w.keys.Rollout(r.Group), string(b))
}

func topics(d Desired) string {
	var ts []string
	for _, e := range d.Entries {
		ts = append(ts, e.Topic)
	}
	return strings.Join(ts, ",")
}

// The watcher merges the host key and its groups, follows changes, and
// runs a rollout's candidate exactly when the rollout selects the host;
// a candidate the policy refuses leaves the stable config running and
// says why; a rolled back rollout returns the host to stable.
func TestWatcherFollowsGroupsAndRollouts(t *testing.T) {
	cli := startEtcd(t)
	w := startWatcher(t, cli, "host-a", "web", "prod")
	hostRev := w.put("/logagent/10.0.0.1/collect_config", `[{"path":"/var/log/x.log","topic":"host"}]`)
	webRev := w.put(w.keys.GroupConfig("web"), `[{"path":"/var/log/x.log","topic":"web"},{"path":"/var/log/w.log","topic":"web"}]`)
	prodRev := w.put(w.keys.GroupConfig("prod"), `[{"path":"/var/log/p.log","topic":"prod"}]`)
	d := w.until("all three sources", func(d Desired) bool { return topics(d) == "host,web,prod" })
	if g := d.Groups; len(g) != 2 || g[0] != (fleet.GroupState{Group: "web", Revision: webRev}) || g[1] != (fleet.GroupState{Group: "prod", Revision: prodRev}) {
		t.Errorf("groups %+v", g)
	}
	if s := d.Sources[0]; s.Source != "host" || s.Revision != hostRev || s.Shadowed != "group:web@"+itoa(webRev) {
		t.Errorf("host source %+v", s)
	}

	// A rollout that selects another host only: nothing changes here.
	other := fleet.WaveHash("web", "host-a") - 1
	cand := json.RawMessage(`[{"path":"/var/log/w.log","topic":"candidate"}]`)
	w.putRollout(fleet.Rollout{ID: "r1", Group: "web", State: fleet.StateRunning, Candidate: cand, Hash: fleet.ConfigHash(cand),
		StableRevision: webRev, Selection: fleet.Selection{Cutoff: other, Targets: 1}})
	// The next wave selects it.
	w.putRollout(fleet.Rollout{ID: "r1", Group: "web", State: fleet.StateRunning, Candidate: cand, Hash: fleet.ConfigHash(cand),
		StableRevision: webRev, Selection: fleet.Selection{Cutoff: other + 1, Targets: 2}})
	d = w.until("the candidate", func(d Desired) bool { return d.Groups[0].Rollout == "r1" })
	if topics(d) != "host,candidate,prod" || d.Groups[0] != (fleet.GroupState{Group: "web", Rollout: "r1", Hash: fleet.ConfigHash(cand)}) {
		t.Errorf("with the candidate: %s %+v", topics(d), d.Groups)
	}
	if !d.Groups[0].Runs(fleet.Expected(&fleet.Rollout{ID: "r1", Group: "web", State: fleet.StateRunning, Hash: fleet.ConfigHash(cand), Selection: fleet.Selection{All: true}}, "host-a", webRev)) {
		t.Errorf("state %+v does not run what Expected says", d.Groups[0])
	}

	// A candidate outside allowed_paths: refused, stable runs.
	bad := json.RawMessage(`[{"path":"/etc/shadow","topic":"candidate"}]`)
	w.putRollout(fleet.Rollout{ID: "r2", Group: "web", State: fleet.StateRunning, Candidate: bad, Hash: fleet.ConfigHash(bad), Selection: fleet.Selection{All: true}})
	d = w.until("the refusal", func(d Desired) bool { return d.Groups[0].Rejected != "" })
	if g := d.Groups[0]; topics(d) != "host,web,prod" || g.Rollout != "r2" || g.Revision != webRev || !strings.Contains(g.Rejected, "allowed_paths") ||
		len(d.Rejected) != 1 || d.Rejected[0].Source != "group:web" {
		t.Errorf("refused candidate: %s %+v %+v", topics(d), g, d.Rejected)
	}

	// A rollout document that is not JSON: stable runs, the status says so.
	w.put(w.keys.Rollout("web"), `{"id":`)
	d = w.until("the broken document", func(d Desired) bool { return d.Groups[0].Rollout == "" && d.Groups[0].Rejected != "" })
	if topics(d) != "host,web,prod" || !strings.Contains(d.Groups[0].Rejected, "not valid JSON") {
		t.Errorf("broken rollout document: %s %+v", topics(d), d.Groups[0])
	}

	// Rolled back: stable, nothing refused any more.
	w.putRollout(fleet.Rollout{ID: "r2", Group: "web", State: fleet.StateRolledBack, Candidate: bad, Hash: fleet.ConfigHash(bad), Selection: fleet.Selection{All: true}})
	d = w.until("stable again", func(d Desired) bool { return d.Groups[0].Rollout == "" })
	if topics(d) != "host,web,prod" || len(d.Rejected) != 0 || d.Groups[0].Revision != webRev {
		t.Errorf("rolled back: %s %+v %+v", topics(d), d.Groups, d.Rejected)
	}

	// A bad stable version of prod keeps its last good one; deleting the
	// host key hands x.log to web.
	badRev := w.put(w.keys.GroupConfig("prod"), `[{"path":"/var/log/p.log","topic":"bad topic"}]`)
	d = w.until("prod refused", func(d Desired) bool { return len(d.Rejected) == 1 })
	if r := d.Rejected[0]; r.Source != "group:prod" || r.Revision != badRev || d.Groups[1].Revision != prodRev || topics(d) != "host,web,prod" {
		t.Errorf("prod refused: %+v groups %+v", r, d.Groups)
	}
	if _, err := cli.Delete(context.Background(), "/logagent/10.0.0.1/collect_config"); err != nil {
		t.Fatal(err)
	}
	d = w.until("the host key gone", func(d Desired) bool { return d.Sources[0].Source != "host" })
	if topics(d) != "web,web,prod" {
		t.Errorf("without the host key: %s", topics(d))
	}
}

// Changes to other groups' keys (even one whose name starts like the
// agent's group) neither leak in nor cause an emission.
func TestWatcherIgnoresOtherGroups(t *testing.T) {
	w := startWatcher(t, startEtcd(t), "host-a", "web")
	w.until("the first read", func(Desired) bool { return true })
	w.put(w.keys.GroupConfig("webx"), `[{"path":"/var/log/o.log","topic":"other"}]`)
	w.put(w.keys.GroupConfig("db"), `[{"path":"/var/log/o.log","topic":"other"}]`)
	w.put(w.keys.GroupConfig("web"), `[{"path":"/var/log/w.log","topic":"web"}]`)
	d := w.until("web's config", func(d Desired) bool { return len(d.Entries) > 0 })
	if topics(d) != "web" {
		t.Errorf("entries %s: another group's config leaked in", topics(d))
	}
	select {
	case d := <-w.got:
		t.Errorf("an extra emission: %+v", d)
	default:
	}
}

// etcd restarted under the watcher: changes made after the restart arrive
// (the client resumes the watch from the last revision seen, or the
// watcher reads every source again after a watch error).
func TestWatcherReadsAgainAfterEtcdRestart(t *testing.T) {
	port, err := testkit.RestartablePort()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	e := testkit.StartEtcd(t, testkit.EtcdOptions{Port: port, Dir: dir})
	cli := kt.EtcdClient(t, clientv3.Config{Endpoints: []string{e.Endpoint()}})
	w := startWatcher(t, cli, "host-a", "web")
	w.put(w.keys.GroupConfig("web"), `[{"path":"/var/log/w.log","topic":"one"}]`)
	w.until("the first config", func(d Desired) bool { return topics(d) == "one" })
	e.Close()
	testkit.StartEtcd(t, testkit.EtcdOptions{Port: port, Dir: dir})
	deadline := time.Now().Add(20 * time.Second)
	for { // the test's client reconnects too
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, err := cli.Put(ctx, w.keys.GroupConfig("web"), `[{"path":"/var/log/w.log","topic":"two"}]`)
		cancel()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("etcd back: %v", err)
		}
	}
	w.until("the change after the restart", func(d Desired) bool { return topics(d) == "two" })
}
