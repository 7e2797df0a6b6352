package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"

	kt "github.com/logcollect/logcollect/logagent/internal/testutil"
	"github.com/logcollect/logcollect/pkg/fleet"
)

// fleetRig is etcd, Kafka and a few real logagent processes, each with its
// own ip, host_id, data_dir and groups, all sharing one directory of logs
// (on one machine, "the same path on every host" is the same file).
type fleetRig struct {
	t     *testing.T
	bin   string
	stack *kt.Stack
	dir   string
	keys  fleet.Keys
	procs map[string]*proc // by host id
}

type member struct {
	host, ip string
}

var members = []member{{"host-1", "127.0.0.11"}, {"host-2", "127.0.0.12"}, {"host-3", "127.0.0.13"}}

func newFleetRig(t *testing.T) *fleetRig {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	return &fleetRig{t: t, bin: binary(t), stack: kt.StartStack(t), dir: t.TempDir(),
		keys: fleet.Keys{CollectPattern: "/logagent/%s/collect_config"}, procs: map[string]*proc{}}
}

// start runs the agent of m in groups (nothing: no groups).
func (r *fleetRig) start(m member, groups string) {
	r.t.Helper()
	ini := writeFile(r.t, r.dir, m.host+".ini", fmt.Sprintf(`[kafka]
brokers = %s
[etcd]
endpoints = %s
dial_timeout = 1s
status_ttl = 3s
status_interval = 200ms
status_refresh = 1s
[agent]
ip = %s
host_id = %s
hostname = %s
groups = %s
data_dir = %s
http_listen =
allowed_paths = %s/logs/**
scan_interval = 100ms
checkpoint_interval = 100ms
`, r.stack.Kafka.Addr(), r.stack.Etcd.Endpoint(), m.ip, m.host, m.host, groups, filepath.Join(r.dir, m.host+"-data"), r.dir))
	r.procs[m.host] = startAgent(r.t, r.bin, ini)
}

// stop ends the agent of m with SIGTERM.
func (r *fleetRig) stop(m member) {
	r.t.Helper()
	p := r.procs[m.host]
	p.cmd.Process.Signal(syscall.SIGTERM)
	if err := p.cmd.Wait(); err != nil {
		r.t.Fatalf("%s: exit %v\n%s", m.host, err, p.log())
	}
}

func (r *fleetRig) logs() string {
	var b strings.Builder
	for h, p := range r.procs {
		fmt.Fprintf(&b, "--- %s\n%s", h, p.log())
	}
	return b.String()
}

// put writes a value (LOGS stands for the log directory) and returns its
// revision.
func (r *fleetRig) put(key, value string) int64 {
	r.t.Helper()
	resp, err := r.stack.Cli.Put(context.Background(), key, strings.ReplaceAll(value, "LOGS", filepath.Join(r.dir, "logs")))
	if err != nil {
		r.t.Fatal(err)
	}
	return resp.Header.Revision
}

func (r *fleetRig) putRollout(ro fleet.Rollout) {
	r.t.Helper()
	b, err := json.Marshal(ro)
	if err != nil {
		r.t.Fatal(err)
	}
	r.put(r.keys.Rollout(ro.Group), string(b))
}

func (r *fleetRig) status(m member) (fleet.Status, bool) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	resp, err := r.stack.Cli.Get(ctx, "/logagent/"+m.ip+"/status")
	if err != nil || len(resp.Kvs) == 0 {
		return fleet.Status{}, false
	}
	var st fleet.Status
	if err := json.Unmarshal(resp.Kvs[0].Value, &st); err != nil {
		r.t.Fatalf("%s: status is not JSON: %v", m.host, err)
	}
	return st, true
}

// waitStatus polls m's status until cond holds.
func (r *fleetRig) waitStatus(m member, what string, cond func(fleet.Status) bool) fleet.Status {
	r.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	var last fleet.Status
	for time.Now().Before(deadline) {
		if st, ok := r.status(m); ok {
			if cond(st) {
				return st
			}
			last = st
		}
		time.Sleep(100 * time.Millisecond)
	}
	b, _ := json.MarshalIndent(last, "", " ")
	r.t.Fatalf("%s: status never showed %s; last:\n%s\nlogs:\n%s", m.host, what, b, r.logs())
	return fleet.Status{}
}

func group(st fleet.Status, g string) fleet.GroupState {
	for _, s := range st.Groups {
		if s.Group == g {
			return s
		}
	}
	return fleet.GroupState{Group: "(absent)"}
}

// appendLines adds lines "<prefix> n" to logs/name.
func (r *fleetRig) appendLines(name, prefix string, from, to int) []string {
	r.t.Helper()
	os.MkdirAll(filepath.Join(r.dir, "logs"), 0o755)
	f, err := os.OpenFile(filepath.Join(r.dir, "logs", name), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		r.t.Fatal(err)
	}
	defer f.Close()
	var lines []string
	for i := from; i <= to; i++ {
		l := fmt.Sprintf("%s %d", prefix, i)
		fmt.Fprintln(f, l)
		lines = append(lines, l)
	}
	return lines
}

// senders maps each line of want found in topic to the hosts that sent it.
func (r *fleetRig) senders(topic string, want []string) map[string][]string {
	got := map[string][]string{}
	for _, rec := range kt.ReadAll(r.t, r.stack.Kafka.Addr(), topic) {
		if !slices.Contains(want, rec.Message) {
			continue
		}
		var v struct {
			Host struct {
				Name string `json:"name"`
			} `json:"host"`
		}
		json.Unmarshal(rec.Value, &v)
		if !slices.Contains(got[rec.Message], v.Host.Name) {
			got[rec.Message] = append(got[rec.Message], v.Host.Name)
		}
	}
	for _, hs := range got {
		slices.Sort(hs)
	}
	return got
}

// waitSenders waits until every line of want in topic came from exactly
// hosts (sorted).
func (r *fleetRig) waitSenders(topic string, want []string, hosts ...string) {
	r.t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	var got map[string][]string
	for time.Now().Before(deadline) {
		got = r.senders(topic, want)
		ok := len(got) == len(want)
		for _, hs := range got {
			ok = ok && slices.Equal(hs, hosts)
		}
		if ok {
			return
		}
		time.Sleep(200 * time.Millisecond)
	}
	r.t.Fatalf("topic %s: lines from %v, want each from %v\nlogs:\n%s", topic, got, hosts, r.logs())
}

// A group's config reaches every member; the host key overrides the
// group's entry with the same path (and the status names the source and
// revision of each entry); an agent in two groups runs both; an agent
// restarted without a group stops that group's entries.
func TestFleetGroups(t *testing.T) {
	r := newFleetRig(t)
	m1, m2, m3 := members[0], members[1], members[2]
	webRev := r.put(r.keys.GroupConfig("web"), `[{"path":"LOGS/web.log","topic":"fleet_web","start":"beginning"}]`)
	prodRev := r.put(r.keys.GroupConfig("prod"), `[{"path":"LOGS/prod.log","topic":"fleet_prod","start":"beginning"}]`)
	hostRev := r.put("/logagent/"+m1.ip+"/collect_config", `[{"path":"LOGS/web.log","topic":"fleet_host1","start":"beginning"}]`)
	web := r.appendLines("web.log", "web", 1, 5)
	prod := r.appendLines("prod.log", "prod", 1, 5)
	r.start(m1, "web")
	r.start(m2, "web")
	r.start(m3, "web, prod")

	// Every member runs web's entry, except m1 whose host key overrides it.
	r.waitSenders("fleet_web", web, m2.host, m3.host)
	r.waitSenders("fleet_host1", web, m1.host)
	r.waitSenders("fleet_prod", prod, m3.host)
	st := r.waitStatus(m1, "the override", func(st fleet.Status) bool { return len(st.Sources) == 1 })
	if s := st.Sources[0]; s.Source != "host" || s.Revision != hostRev || s.Shadowed != fmt.Sprintf("group:web@%d", webRev) || group(st, "web").Revision != webRev {
		t.Errorf("m1 sources %+v groups %+v", st.Sources, st.Groups)
	}
	st = r.waitStatus(m3, "two groups", func(st fleet.Status) bool { return len(st.Sources) == 2 })
	if st.HostID != m3.host || group(st, "web").Revision != webRev || group(st, "prod").Revision != prodRev ||
		st.Sources[0].Source != "group:web" || st.Sources[1].Source != "group:prod" || st.Sources[1].Revision != prodRev {
		t.Errorf("m3: host_id %q groups %+v sources %+v", st.HostID, st.Groups, st.Sources)
	}

	// A change of the group reaches every member.
	r.put(r.keys.GroupConfig("web"), `[{"path":"LOGS/web.log","topic":"fleet_web","start":"beginning","fields":{"v":"2"}},{"path":"LOGS/web2.log","topic":"fleet_web2","start":"beginning"}]`)
	web2 := r.appendLines("web2.log", "web2", 1, 3)
	r.waitSenders("fleet_web2", web2, m1.host, m2.host, m3.host)

	// m3 leaves web: restarted in prod only, it stops web's entries.
	r.stop(m3)
	r.start(m3, "prod")
	r.waitStatus(m3, "prod only", func(st fleet.Status) bool {
		return len(st.Groups) == 1 && st.Groups[0].Group == "prod" && len(st.Sources) == 1
	})
	more := r.appendLines("web2.log", "web2", 4, 6)
	moreProd := r.appendLines("prod.log", "prod", 6, 8)
	r.waitSenders("fleet_prod", moreProd, m3.host)
	r.waitSenders("fleet_web2", more, m1.host, m2.host)
}

// A hand-written rollout runs its candidate on exactly the agents its wave
// selects; a candidate the agent's allowed_paths refuses fails there and
// the stable config keeps running; rolled back, every agent is on stable;
// an agent down while a rollout becomes active starts on the right
// version.
func TestFleetRollout(t *testing.T) {
	r := newFleetRig(t)
	stableRev := r.put(r.keys.GroupConfig("web"), `[{"path":"LOGS/app.log","topic":"fleet_stable","start":"beginning"}]`)
	for _, m := range members {
		r.start(m, "web")
	}
	for _, m := range members {
		r.waitStatus(m, "stable", func(st fleet.Status) bool { return group(st, "web").Runs(stableRev, "") })
	}

	// Wave 1: one agent, the lowest WaveHash of the group.
	hosts := []string{members[0].host, members[1].host, members[2].host}
	cand := json.RawMessage(strings.ReplaceAll(`[{"path":"LOGS/app.log","topic":"fleet_candidate","start":"beginning"}]`, "LOGS", filepath.Join(r.dir, "logs")))
	ro := fleet.Rollout{ID: "r1", Group: "web", State: fleet.StateRunning, Candidate: cand, Hash: fleet.ConfigHash(cand), StableRevision: stableRev,
		Steps: []fleet.Step{{Count: 1}, {Percent: 100}}, Selection: fleet.Select("web", fleet.Step{Count: 1}, hosts)}
	r.putRollout(ro)
	var canary member
	for _, m := range members {
		if ro.Selects(m.host) {
			canary = m
		}
	}
	for _, m := range members {
		rev, c := fleet.Expected(&ro, m.host, stableRev)
		r.waitStatus(m, "the expected version", func(st fleet.Status) bool { return group(st, "web").Runs(rev, c) })
	}
	lines := r.appendLines("app.log", "app", 1, 5)
	r.waitSenders("fleet_candidate", lines, canary.host)

	// A candidate outside allowed_paths, for everyone: refused everywhere,
	// stable runs.
	bad := json.RawMessage(`[{"path":"/etc/passwd","topic":"fleet_bad"}]`)
	r.putRollout(fleet.Rollout{ID: "r2", Group: "web", State: fleet.StateRunning, Candidate: bad, Hash: fleet.ConfigHash(bad), StableRevision: stableRev,
		Selection: fleet.Selection{All: true, Targets: 3}})
	for _, m := range members {
		st := r.waitStatus(m, "the refusal", func(st fleet.Status) bool { return group(st, "web").Rollout == "r2" })
		if g := group(st, "web"); !strings.Contains(g.Rejected, "allowed_paths") || g.Revision != stableRev || g.Hash != fleet.ConfigHash(bad) ||
			st.Config.State != fleet.ConfigRejected || len(st.Sources) != 1 || st.Sources[0].Revision != stableRev {
			t.Errorf("%s: %+v config %+v sources %+v", m.host, g, st.Config, st.Sources)
		}
	}
	more := r.appendLines("app.log", "app", 6, 8)
	r.waitSenders("fleet_stable", more, hosts...)

	// Rolled back: all on stable.
	ro.State = fleet.StateRolledBack
	r.putRollout(ro)
	for _, m := range members {
		r.waitStatus(m, "stable after the rollback", func(st fleet.Status) bool {
			return group(st, "web").Runs(stableRev, "") && st.Config.State == fleet.ConfigApplied
		})
	}

	// host-3 is down when a rollout to all begins; it returns on the
	// candidate.
	down := members[2]
	r.stop(down)
	cand3 := json.RawMessage(strings.ReplaceAll(`[{"path":"LOGS/app.log","topic":"fleet_r3","start":"beginning"}]`, "LOGS", filepath.Join(r.dir, "logs")))
	r.putRollout(fleet.Rollout{ID: "r3", Group: "web", State: fleet.StateRunning, Candidate: cand3, Hash: fleet.ConfigHash(cand3), StableRevision: stableRev,
		Selection: fleet.Selection{All: true, Targets: 2}})
	r.start(down, "web")
	for _, m := range members {
		r.waitStatus(m, "the candidate r3", func(st fleet.Status) bool { return group(st, "web").Runs(0, fleet.ConfigHash(cand3)) })
	}
	r.waitSenders("fleet_r3", r.appendLines("app.log", "app", 9, 10), hosts...)
}
