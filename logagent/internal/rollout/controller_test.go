package rollout

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/logcollect/logcollect/devkit/testkit"
	kt "github.com/logcollect/logcollect/logagent/internal/testutil"
	"github.com/logcollect/logcollect/pkg/fleet"
)

// fakeAgent stands in for an agent's config source and status publisher
// (the real ones are tested with agent processes in cmd/logagent): it
// follows the rollout document as fleet.Rollout.Selects says and reports
// what it runs, or rejects the candidate.
type fakeAgent struct {
	id, ip string
	reject bool
	ran    atomic.Bool // ever ran a candidate
}

func (a *fakeAgent) run(ctx context.Context, t *testing.T, cli *clientv3.Client, keys fleet.Keys, group string) {
	last := ""
	for ctx.Err() == nil {
		resp, err := cli.Txn(ctx).Then(clientv3.OpGet(keys.Rollout(group)), clientv3.OpGet(keys.GroupConfig(group))).Commit()
		if err != nil {
			return
		}
		var r *fleet.Rollout
		if kvs := resp.Responses[0].GetResponseRange().Kvs; len(kvs) == 1 {
			r = new(fleet.Rollout)
			if err := json.Unmarshal(kvs[0].Value, r); err != nil {
				t.Error(err)
				return
			}
		}
		var stable int64
		if kvs := resp.Responses[1].GetResponseRange().Kvs; len(kvs) == 1 {
			stable = kvs[0].ModRevision
		}
		gs := fleet.GroupState{Group: group, Revision: stable}
		if r.Selects(a.id) {
			if a.reject {
				gs.Rollout, gs.Hash, gs.Rejected = r.ID, r.Hash, "entry 1: outside allowed_paths"
			} else {
				gs.Revision, gs.Rollout, gs.Hash = 0, r.ID, r.Hash
				a.ran.Store(true)
			}
		}
		doc, _ := json.Marshal(Member{HostID: a.id, Host: "host-" + a.id, IP: a.ip, UpdatedAt: time.Now(), Groups: []fleet.GroupState{gs},
			Health: fleet.Health{FilesMatched: 1, FilesMatchedBefore: 1}})
		if string(doc) != last {
			if _, err := cli.Put(ctx, "/logagent/"+a.ip+"/status", string(doc)); err != nil {
				return
			}
			last = string(doc)
		}
		select {
		case <-ctx.Done():
		case <-time.After(30 * time.Millisecond):
		}
	}
}

type fixture struct {
	c      *Controller
	cli    *clientv3.Client
	agents []*fakeAgent
	out    *testkit.Buffer
}

// start runs n fake agents of group "web"; the canary (lowest wave hash)
// rejects candidates when rejectCanary is set.
func start(t *testing.T, n int, rejectCanary bool) *fixture {
	e := testkit.StartEtcd(t, testkit.EtcdOptions{})
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{e.Endpoint()}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	keys := fleet.Keys{CollectPattern: "/logagent/%s/collect_config"}
	f := &fixture{cli: cli, out: &testkit.Buffer{}}
	f.c = &Controller{Cli: cli, Keys: keys, Status: StatusKeys{Prefix: "/logagent/", Suffix: "/status"}, Request: 5 * time.Second, LockTTL: 2 * time.Second, Out: f.out}
	if _, err := cli.Put(context.Background(), keys.GroupConfig("web"), `[{"path":"/var/log/a.log","topic":"a"}]`); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	t.Cleanup(func() { cancel(); wg.Wait() })
	for i := range n {
		f.agents = append(f.agents, &fakeAgent{id: fmt.Sprintf("host-id-%d", i), ip: fmt.Sprintf("10.0.0.%d", i+1)})
	}
	canary := slices.MinFunc(f.agents, func(a, b *fakeAgent) int {
		ha, hb := fleet.WaveHash("web", a.id), fleet.WaveHash("web", b.id)
		if ha < hb {
			return -1
		}
		return 1
	})
	canary.reject = rejectCanary
	for _, a := range f.agents {
		wg.Add(1)
		go func() { defer wg.Done(); a.run(ctx, t, cli, keys, "web") }()
	}
	// Every agent reports before the rollout starts (members).
	kt.Poll(t, "every fake agent's status", 10*time.Second, func() bool {
		resp, err := cli.Get(context.Background(), "/logagent/", clientv3.WithPrefix(), clientv3.WithCountOnly())
		return err == nil && resp.Count == int64(n)+1 // and the group's config
	})
	return f
}

const candidate = `[{"path":"/var/log/b.log","topic":"b"}]`

func (f *fixture) options() Options {
	steps, _ := fleet.ParseSteps("1,50%")
	return Options{Group: "web", Candidate: []byte(candidate), Steps: steps, Bake: 200 * time.Millisecond, WaveTimeout: 5 * time.Second}
}

func (f *fixture) snapshot(t *testing.T) Snapshot {
	t.Helper()
	s, err := f.c.Read(context.Background(), "web")
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestRolloutCompletes(t *testing.T) {
	f := start(t, 4, false)
	r, err := f.c.Start(context.Background(), f.options())
	if err != nil {
		t.Fatalf("%v\n%s", err, f.out)
	}
	s := f.snapshot(t)
	if s.Rollout.ID != r.ID || s.Rollout.State != fleet.StateDone || s.Lock != nil {
		t.Fatalf("after the rollout: %+v lock %+v", s.Rollout, s.Lock)
	}
	var results []string
	for _, w := range s.Rollout.Waves {
		results = append(results, fmt.Sprintf("%s:%d:%s", w.Step, w.Targets, w.Result))
	}
	if want := []string{"1:1:passed", "50%:2:passed", "100%:4:passed"}; !slices.Equal(results, want) {
		t.Errorf("waves %v, want %v\n%s", results, want, f.out)
	}
	cfg, err := f.cli.Get(context.Background(), f.c.Keys.GroupConfig("web"))
	if err != nil || string(cfg.Kvs[0].Value) != candidate || cfg.Kvs[0].ModRevision != s.Revision {
		t.Errorf("group config after done: %v %v (want the candidate, written with the done document at r%d)", cfg, err, s.Revision)
	}
	for _, a := range f.agents {
		if !a.ran.Load() {
			t.Errorf("agent %s never ran the candidate", a.id)
		}
	}
	if !strings.Contains(f.out.String(), "done: group web runs the candidate as its config r") {
		t.Errorf("output:\n%s", f.out)
	}
	// A second rollout needs no abort; an active one refuses another.
	_, err = f.c.Start(context.Background(), Options{Group: "db", Candidate: []byte(candidate), Steps: f.options().Steps})
	if err == nil || !strings.Contains(err.Error(), "group db has no members: no agent under /logagent/<ip>/status lists it") {
		t.Errorf("start without members: %v", err)
	}
}

func TestCanaryRejectsRollsBack(t *testing.T) {
	f := start(t, 4, true)
	_, err := f.c.Start(context.Background(), f.options())
	if !errors.Is(err, ErrFailed) || !strings.Contains(err.Error(), "wave 1 failed: host-host-id-") || !strings.Contains(err.Error(), "rejected the candidate: entry 1: outside allowed_paths") {
		t.Fatalf("start: %v\n%s", err, f.out)
	}
	s := f.snapshot(t)
	if s.Rollout.State != fleet.StateRolledBack || len(s.Rollout.Failures) != 1 || s.Rollout.Waves[0].Result != "failed" || len(s.Rollout.Waves) != 1 {
		t.Errorf("document: %+v", s.Rollout)
	}
	for _, a := range f.agents {
		if a.ran.Load() {
			t.Errorf("agent %s ran the candidate its canary rejected", a.id)
		}
	}
	cfg, _ := f.cli.Get(context.Background(), f.c.Keys.GroupConfig("web"))
	if string(cfg.Kvs[0].Value) == candidate {
		t.Error("the rejected candidate became the group's config")
	}
}

// Abort from another command ends the driver with ErrAborted; resume takes
// over a rollout whose controller is gone and finishes it.
func TestAbortAndResume(t *testing.T) {
	f := start(t, 3, false)
	o := f.options()
	o.Bake = time.Minute
	errc := make(chan error, 1)
	go func() { _, err := f.c.Start(context.Background(), o); errc <- err }()
	kt.Poll(t, "the rollout to run", 10*time.Second, func() bool { s := f.snapshot(t); return s.Rollout != nil && s.Lock != nil })
	if _, err := f.c.Start(context.Background(), o); !errors.Is(err, ErrConflict) || !strings.Contains(err.Error(), "is running at wave 1: wait for it, or stop it with logagent rollout abort -group web") {
		t.Errorf("second start: %v", err)
	}
	r, err := f.c.Abort(context.Background(), "web", "tester")
	if err != nil || r.State != fleet.StateAborted {
		t.Fatalf("abort: %v %+v", err, r)
	}
	select {
	case err := <-errc:
		if !errors.Is(err, ErrAborted) || !strings.Contains(err.Error(), "aborted by tester at wave 1") {
			t.Errorf("driver after abort: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the driver did not notice the abort")
	}
	if _, err := f.c.Resume(context.Background(), "web", time.Second); err == nil || !strings.Contains(err.Error(), "nothing to resume") {
		t.Errorf("resume an aborted rollout: %v", err)
	}

	// A rollout left running without a controller (its command was
	// killed) shows as paused and resume finishes it.
	ctx, cancel := context.WithCancel(context.Background())
	go func() { _, err := f.c.Start(ctx, f.options()); errc <- err }()
	kt.Poll(t, "the second rollout to run", 10*time.Second, func() bool { s := f.snapshot(t); return s.Rollout.Active() && s.Lock != nil })
	cancel()
	if err := <-errc; !errors.Is(err, ErrPaused) || !strings.Contains(err.Error(), "(interrupted)") {
		t.Errorf("interrupted: %v", err)
	}
	s := f.snapshot(t)
	if s.Rollout.State != fleet.StatePaused || s.Lock != nil || Describe(s) != fleet.StatePaused {
		t.Errorf("after interrupt: %s lock %v", s.Rollout.State, s.Lock)
	}
	r, err = f.c.Resume(context.Background(), "web", 5*time.Second)
	if err != nil || f.snapshot(t).Rollout.State != fleet.StateDone {
		t.Fatalf("resume: %v %+v\n%s", err, r, f.out)
	}
}

// The view of the statuses follows puts and deletes after its read, and
// says it is broken when its watch is compacted away, so the controller
// reads again instead of judging stale statuses.
func TestStatusViewFollowsAndBreaks(t *testing.T) {
	e := testkit.StartEtcd(t, testkit.EtcdOptions{})
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{e.Endpoint()}, DialTimeout: 5 * time.Second, Logger: zap.NewNop()})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	ctx := context.Background()
	status := func(id string) string { d, _ := json.Marshal(Member{HostID: id}); return string(d) }
	put, err := cli.Put(ctx, "/logagent/10.0.0.1/status", status("a"))
	if err != nil {
		t.Fatal(err)
	}
	keys := StatusKeys{Prefix: "/logagent/", Suffix: "/status"}
	v := newStatusView(keys)
	v.put("/logagent/10.0.0.1/status", []byte(status("a")))
	v.put("/logagent/groups/web/rollout", []byte(status("not-an-agent")))
	v.follow(ctx, cli, put.Header.Revision)
	defer v.stop()
	for _, op := range []clientv3.Op{
		clientv3.OpPut("/logagent/10.0.0.2/status", status("b")),
		clientv3.OpPut("/logagent/10.0.0.3/status", status("c")),
		clientv3.OpDelete("/logagent/10.0.0.1/status"),
		clientv3.OpPut("/logagent/10.0.0.3/status", "not json"), // c's document broken: c is gone
	} {
		if _, err := cli.Do(ctx, op); err != nil {
			t.Fatal(err)
		}
	}
	kt.Poll(t, "the view to follow", 10*time.Second, func() bool {
		v.mu.Lock()
		defer v.mu.Unlock()
		_, a := v.all["a"]
		_, b := v.all["b"]
		_, c := v.all["c"]
		return !a && b && !c && len(v.all) == 1
	})
	if err := v.broken(); err != nil {
		t.Fatalf("broken while following: %v", err)
	}

	// A view whose watch starts at a compacted revision is broken.
	last, err := cli.Put(ctx, "/logagent/10.0.0.4/status", status("d"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := cli.Compact(ctx, last.Header.Revision); err != nil {
		t.Fatal(err)
	}
	old := newStatusView(keys)
	old.follow(ctx, cli, put.Header.Revision)
	defer old.stop()
	kt.Poll(t, "the compacted view to say it is broken", 10*time.Second, func() bool { return old.broken() != nil })
	if err := old.broken(); !strings.Contains(err.Error(), "compacted") {
		t.Errorf("broken: %v, want the compaction named", err)
	}
}
