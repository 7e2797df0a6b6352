package main

import (
	"bufio"
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/logcollect/logcollect/devkit/testkit"
	"github.com/logcollect/logcollect/logagent/internal/fleetsim"
	kt "github.com/logcollect/logcollect/logagent/internal/testutil"
	"github.com/logcollect/logcollect/pkg/fleet"
)

// "logagent simulate" runs many agents on the agent's own config source and
// status publisher: a group config reaches each, a rollout's wave selects
// exactly the agents fleet.Select picks, and every agent publishes its
// status (removed when the simulation stops).
func TestSimulate(t *testing.T) {
	e := testkit.StartEtcd(t, testkit.EtcdOptions{})
	cli := kt.EtcdClient(t, clientv3.Config{Endpoints: []string{e.Endpoint()}})
	const n = 60
	out, errs := &testkit.Buffer{}, &testkit.Buffer{}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, []string{"simulate", "-endpoints", e.Endpoint(), "-agents", strconv.Itoa(n), "-first", "100", "-clients", "3", "-groups", "web"}, out, errs)
	}()
	defer func() { cancel(); <-done }()

	// events returns the latest event of each agent.
	events := func() map[string]fleetsim.Event {
		last := map[string]fleetsim.Event{}
		sc := bufio.NewScanner(strings.NewReader(out.String()))
		for sc.Scan() {
			var ev fleetsim.Event
			if err := json.Unmarshal(sc.Bytes(), &ev); err != nil {
				t.Fatalf("event %q: %v", sc.Text(), err)
			}
			last[ev.HostID] = ev
		}
		return last
	}
	wait := func(what string, cond func(map[string]fleetsim.Event) bool) map[string]fleetsim.Event {
		t.Helper()
		deadline := time.Now().Add(20 * time.Second)
		for {
			evs := events()
			if cond(evs) {
				return evs
			}
			if time.Now().After(deadline) {
				t.Fatalf("never %s: %d agents reported; stderr:\n%s", what, len(evs), errs.String())
			}
			time.Sleep(50 * time.Millisecond)
		}
	}
	keys := fleet.Keys{CollectPattern: "/logagent/%s/collect_config"}
	resp, err := cli.Put(context.Background(), keys.GroupConfig("web"), `[{"path":"/var/log/web.log","topic":"web"}]`)
	if err != nil {
		t.Fatal(err)
	}
	rev := resp.Header.Revision
	wait("the group config everywhere", func(evs map[string]fleetsim.Event) bool {
		ok := len(evs) == n
		for _, ev := range evs {
			ok = ok && len(ev.Groups) == 1 && ev.Groups[0].Runs(rev, "")
		}
		return ok
	})
	id, ip := fleetsim.Identity(100)
	if _, seen := events()[id]; !seen || ip != "10.0.0.100" {
		t.Errorf("agent 100 is %s %s", id, ip)
	}

	// A wave of 5: exactly fleet.Select's agents run the candidate.
	var members []string
	for i := 100; i < 100+n; i++ {
		h, _ := fleetsim.Identity(i)
		members = append(members, h)
	}
	cand := json.RawMessage(`[{"path":"/var/log/web.log","topic":"web2"}]`)
	ro := fleet.Rollout{ID: "r1", Group: "web", State: fleet.StateRunning, Candidate: cand, Hash: fleet.ConfigHash(cand), StableRevision: rev,
		Selection: fleet.Select("web", fleet.Step{Count: 5}, members)}
	b, _ := json.Marshal(ro)
	if _, err := cli.Put(context.Background(), keys.Rollout("web"), string(b)); err != nil {
		t.Fatal(err)
	}
	wait("the wave", func(evs map[string]fleetsim.Event) bool {
		on := 0
		for h, ev := range evs {
			if ev.Groups[0].Runs(0, ro.Hash) != ro.Selects(h) {
				return false
			}
			if ro.Selects(h) {
				on++
			}
		}
		return on == 5
	})

	// Every agent's status, with the version it runs.
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := cli.Get(context.Background(), "/logagent/10.", clientv3.WithPrefix())
		if err != nil {
			t.Fatal(err)
		}
		ok := 0
		for _, kv := range resp.Kvs {
			var st fleet.Status
			if json.Unmarshal(kv.Value, &st) == nil && len(st.Groups) == 1 && st.Groups[0].Runs(fleet.Expected(&ro, st.HostID, rev)) {
				ok++
			}
		}
		if ok == n {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d statuses show what the agent should run", ok, n)
		}
		time.Sleep(100 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	done <- nil
	if resp, err := cli.Get(context.Background(), "/logagent/10.", clientv3.WithPrefix(), clientv3.WithCountOnly()); err != nil || resp.Count != 0 {
		t.Errorf("statuses after the stop: %v %v", resp.Count, err)
	}
}
