package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/logcollect/logcollect/devkit/testkit"
	kt "github.com/logcollect/logcollect/logagent/internal/testutil"
	"github.com/logcollect/logcollect/pkg/fleet"
)

// fleetHost is one logagent process of group web.
type fleetHost struct {
	name, ip, hostID, ini string
	p                     *proc
}

// fleetEnv is etcd, Kafka and the agents of group web. Every agent reads
// the same directory; hosts[0] is the group's canary (the lowest wave
// hash), hosts[len-1] the last one a wave selects.
type fleetEnv struct {
	bin, dir, ep, kafka string
	etcd                *testkit.Etcd
	cli                 *clientv3.Client
	hosts               []*fleetHost
	stable, candidate   string // collect config files
}

// startFleet starts n agents of group web; allowed(i) is the
// allowed_paths of the i-th host in wave order.
func startFleet(t *testing.T, n int, etcdOpts testkit.EtcdOptions, allowed func(i int, dir string) string) *fleetEnv {
	if testing.Short() {
		t.Skip("runs agent processes")
	}
	f := &fleetEnv{bin: binary(t), dir: t.TempDir()}
	f.etcd = testkit.StartEtcd(t, etcdOpts)
	f.ep = f.etcd.Endpoint()
	f.kafka = testkit.StartKafka(t, testkit.KafkaOptions{AutoCreateTopics: true}).Addr()
	f.cli = kt.EtcdClient(t, clientv3.Config{Endpoints: []string{f.ep}})
	writeFile(t, f.dir, "a.log", "a1\na2\n")
	writeFile(t, f.dir, "b.log", "b1\nb2\n")
	f.stable = writeFile(t, f.dir, "stable.json", fmt.Sprintf(`[{"path":"%s/a.log","topic":"stable_log","start":"beginning"}]`, f.dir))
	f.candidate = writeFile(t, f.dir, "candidate.json", fmt.Sprintf(`[{"path":"%s/a.log","topic":"stable_log","start":"beginning"},{"path":"%s/b.log","topic":"candidate_log","start":"beginning"}]`, f.dir, f.dir))
	for i := range n {
		f.hosts = append(f.hosts, &fleetHost{name: fmt.Sprintf("fleet-%d", i+1), ip: fmt.Sprintf("127.0.0.%d", i+2), hostID: fmt.Sprintf("host-%d", i+1)})
	}
	slices.SortFunc(f.hosts, func(a, b *fleetHost) int {
		ha, hb := fleet.WaveHash("web", a.hostID), fleet.WaveHash("web", b.hostID)
		if ha < hb {
			return -1
		}
		return 1
	})
	for i, h := range f.hosts {
		h.ini = writeFile(t, f.dir, h.name+".ini", fmt.Sprintf(`[kafka]
brokers = %s
[etcd]
endpoints = %s
dial_timeout = 1s
status_ttl = 2s
status_interval = 200ms
status_refresh = 1s
[agent]
ip = %s
hostname = %s
host_id = %s
groups = web
data_dir = %s
http_listen =
allowed_paths = %s
scan_interval = 100ms
`, f.kafka, f.ep, h.ip, h.name, h.hostID, filepath.Join(f.dir, "data-"+h.name), allowed(i, f.dir)))
	}
	if code, out, errs := run(t, "put", "-group", "web", "-endpoints", f.ep, f.stable); code != exitOK {
		t.Fatalf("put -group: %d %q %q", code, out, errs)
	}
	for _, h := range f.hosts {
		h.p = startAgent(t, f.bin, h.ini)
	}
	rev := f.configRevision(t)
	f.waitGroup(t, "every agent on the stable config", func(_ *fleetHost, g fleet.GroupState) bool { return g.Runs(rev, "") })
	return f
}

// configRevision is the group config's mod revision.
func (f *fleetEnv) configRevision(t *testing.T) int64 {
	t.Helper()
	resp, err := f.cli.Get(context.Background(), "/logagent/groups/web/collect_config")
	if err != nil || len(resp.Kvs) != 1 {
		t.Fatalf("group config: %v %v", resp, err)
	}
	return resp.Kvs[0].ModRevision
}

// state reads h's group state from its status (ok false: no status).
func (f *fleetEnv) state(t *testing.T, h *fleetHost) (fleet.GroupState, bool) {
	t.Helper()
	resp, err := f.cli.Get(context.Background(), "/logagent/"+h.ip+"/status")
	if err != nil || len(resp.Kvs) == 0 {
		return fleet.GroupState{}, false
	}
	var st fleet.Status
	if err := json.Unmarshal(resp.Kvs[0].Value, &st); err != nil {
		t.Fatal(err)
	}
	for _, g := range st.Groups {
		if g.Group == "web" {
			return g, true
		}
	}
	return fleet.GroupState{}, false
}

// waitGroup waits until cond holds for every running host.
func (f *fleetEnv) waitGroup(t *testing.T, what string, cond func(*fleetHost, fleet.GroupState) bool) {
	t.Helper()
	kt.Poll(t, what, 30*time.Second, func() bool {
		for _, h := range f.hosts {
			if h.p.cmd.ProcessState != nil {
				continue
			}
			g, ok := f.state(t, h)
			if !ok || !cond(h, g) {
				return false
			}
		}
		return true
	})
}

func (f *fleetEnv) rollout(t *testing.T, args ...string) (int, string, string) {
	t.Helper()
	return run(t, append(append([]string{"rollout"}, args...), "-group", "web", "-endpoints", f.ep)...)
}

func (f *fleetEnv) stop(t *testing.T, h *fleetHost) {
	t.Helper()
	h.p.cmd.Process.Signal(syscall.SIGTERM)
	if err := h.p.cmd.Wait(); err != nil {
		t.Fatalf("%s: %v\n%s", h.name, err, h.p.log())
	}
}

// A candidate the canary's own allowed_paths refuse fails the first wave:
// the rollout rolls back by itself, the command names the canary and its
// reason, and no agent ever ships what only the candidate collects.
func TestFleetRolloutRejectedByCanary(t *testing.T) {
	f := startFleet(t, 3, testkit.EtcdOptions{}, func(i int, dir string) string {
		if i == 0 {
			return dir + "/a.log" // the canary may not read b.log
		}
		return dir + "/**"
	})
	stableRev := f.configRevision(t)
	code, out, errs := f.rollout(t, "start", "-steps", "1,50%", "-bake", "1s", "-timeout", "20s", f.candidate)
	t.Logf("rollout start:\n%s%s", out, errs)
	canary := f.hosts[0]
	if code != exitRuntime || !strings.Contains(errs, "wave 1 failed: "+canary.name+" ("+canary.ip+"): rejected the candidate: ") ||
		!strings.Contains(errs, "outside the agent's allowed_paths") || !strings.Contains(errs, "rolled back") {
		t.Fatalf("start: exit %d, want 1 naming %s and its reason", code, canary.name)
	}
	code, out, _ = f.rollout(t, "status")
	if code != exitOK || !strings.Contains(out, "rolled_back") || !strings.Contains(out, "failed: "+canary.name) {
		t.Errorf("status after the rollback: %d\n%s", code, out)
	}
	f.waitGroup(t, "every agent on the stable config", func(_ *fleetHost, g fleet.GroupState) bool { return g.Runs(stableRev, "") })
	if f.configRevision(t) != stableRev {
		t.Error("the group's config changed")
	}
	if rs := kt.ReadAll(t, f.kafka, "candidate_log"); len(rs) != 0 {
		t.Errorf("%d records of the candidate's file reached Kafka: an agent applied it", len(rs))
	}
	code, out, _ = run(t, "agents", "-group", "web", "-endpoints", f.ep)
	t.Logf("agents:\n%s", out)
	if code != exitOK || !strings.Contains(out, fmt.Sprintf("web: 3 agents, 3 on r%d", stableRev)) {
		t.Errorf("agents: %d %q", code, out)
	}
}

// A good rollout goes wave by wave; the command SIGKILLed in the middle
// leaves the rollout paused (no controller), an agent is down meanwhile,
// resume finishes it, and the agent that was down comes back on the
// group's new config.
func TestFleetRolloutKilledResumedAgentDown(t *testing.T) {
	f := startFleet(t, 3, testkit.EtcdOptions{}, func(_ int, dir string) string { return dir + "/**" })
	cmd := exec.Command(f.bin, "rollout", "start", "-group", "web", "-endpoints", f.ep, "-steps", "1,2", "-bake", "1s", "-timeout", "30s", "-lock-ttl", "2s", f.candidate)
	out := &testkit.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	kt.Poll(t, "wave 1 to pass", 30*time.Second, func() bool { return strings.Contains(out.String(), "wave 1 of 3 (1): passed: 1 target healthy") })
	cmd.Process.Signal(syscall.SIGKILL)
	cmd.Wait()
	t.Logf("killed rollout start:\n%s", out)
	kt.Poll(t, "the rollout to show paused", 10*time.Second, func() bool {
		_, s, _ := f.rollout(t, "status")
		return strings.Contains(s, "paused (no controller) at wave 2 of 3")
	})
	// The last host of the waves goes down: not in wave 2, and absent when
	// wave 3 begins, so not a target; it must come back right.
	down := f.hosts[2]
	f.stop(t, down)

	code, rout, errs := f.rollout(t, "resume", "-lock-ttl", "2s", "-timeout", "30s")
	t.Logf("rollout resume:\n%s%s", rout, errs)
	if code != exitOK || !strings.Contains(rout, "resumed rollout") || !strings.Contains(rout, "wave 2 of 3 (2): passed") || !strings.Contains(rout, "wave 3 of 3 (100%): passed") || !strings.Contains(rout, "done: group web runs the candidate as its config r") {
		t.Fatalf("resume: exit %d", code)
	}
	newRev := f.configRevision(t)
	if got := mustGet(t, f.cli, "/logagent/groups/web/collect_config"); got != mustRead(t, f.candidate) {
		t.Errorf("group config after done: %s", got)
	}
	down.p = startAgent(t, f.bin, down.ini)
	f.waitGroup(t, "every agent, the one that was down too, on the new config", func(_ *fleetHost, g fleet.GroupState) bool { return g.Runs(newRev, "") })
	code, aout, _ := run(t, "agents", "-group", "web", "-endpoints", f.ep)
	t.Logf("agents:\n%s", aout)
	if code != exitOK || !strings.Contains(aout, fmt.Sprintf("web: 3 agents, 3 on r%d\n", newRev)) {
		t.Errorf("agents: %d", code)
	}
	kt.WaitFor(t, f.kafka, "candidate_log", 20*time.Second, func(rs []kt.Record) bool { return len(rs) >= 2 })
}

// etcd down during a rollout: the command stops, saying the rollout is
// paused at its wave; agents keep what they ran (the canary the candidate,
// the others the stable config), and abort brings them all back.
func TestFleetRolloutEtcdDown(t *testing.T) {
	port, err := testkit.RestartablePort()
	if err != nil {
		t.Fatal(err)
	}
	opts := testkit.EtcdOptions{Port: port, Dir: t.TempDir()}
	f := startFleet(t, 2, opts, func(_ int, dir string) string { return dir + "/**" })
	stableRev := f.configRevision(t)
	type result struct {
		code      int
		out, errs string
	}
	done := make(chan result, 1)
	go func() {
		code, out, errs := f.rollout(t, "start", "-steps", "1", "-bake", "1h", "-timeout", "30s", "-lock-ttl", "2s", f.candidate)
		done <- result{code, out, errs}
	}()
	canary := f.hosts[0]
	kt.Poll(t, "the canary on the candidate", 30*time.Second, func() bool { g, _ := f.state(t, canary); return g.Rollout != "" && g.Hash != "" })
	f.etcd.Close()
	var r result
	select {
	case r = <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("rollout start did not stop with etcd down")
	}
	t.Logf("rollout start:\n%s%s", r.out, r.errs)
	if r.code != exitRuntime || !strings.Contains(r.errs, "rollout paused at wave 1 of 2") || !strings.Contains(r.errs, "agents keep what they run") {
		t.Fatalf("start with etcd down: exit %d", r.code)
	}
	f.etcd = testkit.StartEtcd(t, opts)
	kt.Poll(t, "both agents reporting after the outage", 30*time.Second, func() bool {
		_, ok1 := f.state(t, f.hosts[0])
		_, ok2 := f.state(t, f.hosts[1])
		return ok1 && ok2
	})
	g, _ := f.state(t, canary)
	other, _ := f.state(t, f.hosts[1])
	if g.Hash == "" || !other.Runs(stableRev, "") {
		t.Errorf("after the outage: canary %+v, other %+v: want the candidate and the stable r%d", g, other, stableRev)
	}
	// The stopped command could not revoke its lock's lease while etcd was
	// down, and a restarted etcd renews every lease's TTL, so the lock
	// outlives the outage by up to lock-ttl: until then status names the
	// stopped command as the controller.
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		code, out, _ := f.rollout(t, "status")
		if code == exitOK && strings.Contains(out, "paused (no controller) at wave 1 of 2") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("status 15s after the outage: %d\n%s", code, out)
		}
	}
	if code, out, errs := f.rollout(t, "abort"); code != exitOK {
		t.Fatalf("abort: %d %q %q", code, out, errs)
	}
	f.waitGroup(t, "every agent back on the stable config", func(_ *fleetHost, g fleet.GroupState) bool { return g.Runs(stableRev, "") })
}

func mustGet(t *testing.T, cli *clientv3.Client, key string) string {
	t.Helper()
	resp, err := cli.Get(context.Background(), key)
	if err != nil || len(resp.Kvs) != 1 {
		t.Fatalf("get %s: %v %v", key, resp, err)
	}
	return string(resp.Kvs[0].Value)
}
