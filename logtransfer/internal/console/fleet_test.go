package console

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"go.etcd.io/etcd/api/v3/authpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/logcollect/logcollect/pkg/etcdconf"
	"github.com/logcollect/logcollect/pkg/fleet"
)

// A group "web" of four agents at r<stable>, one of which the running
// rollout selects: the table flags each kind of trouble once.
func TestFleet(t *testing.T) {
	s := newStack(t, true, nil)
	ctx := context.Background()
	keys := fleet.Keys{CollectPattern: fleet.DefaultCollectPattern}
	resp, err := s.cli.Put(ctx, keys.GroupConfig("web"), `[{"path":"/var/log/web.log","topic":"web"}]`)
	if err != nil {
		t.Fatal(err)
	}
	stable := resp.Header.Revision
	hosts := []string{"h-a", "h-b", "h-c", "h-d"}
	ro := &fleet.Rollout{ID: "r1", Group: "web", State: fleet.StateRunning, Candidate: json.RawMessage(`[{"path":"/var/log/web2.log","topic":"web"}]`),
		StableRevision: stable, Steps: []fleet.Step{{Count: 1}, {Percent: 100}}, Selection: fleet.Select("web", fleet.Step{Count: 1}, hosts),
		StartedAt: time.Now().UTC(), UpdatedAt: time.Now().UTC()}
	ro.Hash = fleet.ConfigHash(ro.Candidate)
	ro.Waves = []fleet.WaveResult{{Step: ro.Steps[0], Targets: 1, Started: ro.StartedAt}}
	s.put(t, keys.Rollout("web"), ro)

	now := time.Now().UTC()
	status := func(ip, host string) fleet.Status {
		g := fleet.GroupState{Group: "web", Revision: stable}
		if ro.Selects(host) {
			g = fleet.GroupState{Group: "web", Rollout: ro.ID, Hash: ro.Hash}
		}
		return fleet.Status{IP: ip, Hostname: "host-" + ip, HostID: host, UpdatedAt: now, Groups: []fleet.GroupState{g},
			Config: fleet.ConfigStatus{State: fleet.ConfigApplied, Entries: 1}, Files: []fleet.FileStatus{{Path: "/var/log/web.log", Lag: 5}}, TotalLag: 5}
	}
	// Agents keep their status on a lease (one without is stale).
	lease, err := s.cli.Grant(ctx, 300)
	if err != nil {
		t.Fatal(err)
	}
	putStatus := func(ip string, st fleet.Status) {
		data, _ := json.Marshal(st)
		if _, err := s.cli.Put(ctx, "/logagent/"+ip+"/status", string(data), clientv3.WithLease(lease.ID)); err != nil {
			t.Fatal(err)
		}
	}
	var selected string
	drift := 2 // the first two agents the rollout does not select run an old revision
	for i, h := range hosts {
		ip := "10.0.0." + string(rune('1'+i))
		st := status(ip, h)
		switch {
		case ro.Selects(h):
			selected = ip // on the candidate, as it should
		case drift > 0:
			drift--
			st.Groups[0].Revision = stable - 1
		}
		putStatus(ip, st)
	}
	// A rejected agent, a stale one and one offline (a host key, no status).
	rej := status("10.0.1.1", "h-rej")
	rej.Groups[0].Rejected = "path /etc/shadow is outside allowed_paths"
	putStatus("10.0.1.1", rej)
	stale := status("10.0.1.2", "h-stale")
	stale.UpdatedAt = now.Add(-time.Hour)
	putStatus("10.0.1.2", stale)
	if _, err := s.cli.Put(ctx, "/logagent/10.0.1.3/collect_config", `[]`); err != nil {
		t.Fatal(err)
	}

	var f Fleet
	if code := s.get(t, "/ui/api/fleet", &f); code != 200 {
		t.Fatalf("fleet: HTTP %d", code)
	}
	byIP := map[string]Agent{}
	for _, a := range f.Agents {
		byIP[a.IP] = a
	}
	if len(f.Agents) != 7 || len(f.Groups) != 1 {
		t.Fatalf("%d agents, %d groups: %+v", len(f.Agents), len(f.Groups), f)
	}
	drifted := 0
	for _, a := range f.Agents {
		if a.Drifted {
			drifted++
			if !strings.Contains(strings.Join(a.Problems, ";"), "should run r") {
				t.Errorf("drifted %s: problems %v", a.IP, a.Problems)
			}
		}
	}
	if a := byIP[selected]; a.Drifted || len(a.Problems) > 0 || a.Groups[0].ExpectedCandidate != ro.Hash {
		t.Errorf("the canary on the candidate: %+v", a)
	}
	if a := byIP["10.0.1.1"]; !a.Rejected || a.Drifted {
		t.Errorf("rejected agent: %+v", a)
	}
	if a := byIP["10.0.1.2"]; !a.Stale || !strings.Contains(strings.Join(a.Problems, ";"), "status not updated for 1h") {
		t.Errorf("stale agent: %+v", a)
	}
	if a := byIP["10.0.1.3"]; !a.Offline {
		t.Errorf("offline agent: %+v", a)
	}
	g := f.Groups[0]
	if g.Agents != 6 || g.OnCandidate != 1 || g.Drifted != drifted || drifted != 2 || g.Rejected != 1 || g.Stale != 1 || g.OnStable != 2 ||
		!strings.Contains(g.Line, "web: 6 agents, 2 on r") || !strings.Contains(g.Line, "1 on the candidate (paused (no controller), wave 1 of 2)") {
		t.Errorf("group summary %+v", g)
	}

	var rs Rollouts
	if code := s.get(t, "/ui/api/rollouts", &rs); code != 200 || len(rs.Rollouts) != 1 || !rs.Rollouts[0].CanAbort ||
		rs.Rollouts[0].Shown != "paused (no controller)" || rs.Rollouts[0].CandidateLines != 1 || rs.Rollouts[0].CurrentStable != stable {
		t.Errorf("rollouts: %d %+v", code, rs)
	}
}

// The console's etcd user reads; only the operator's credentials abort.
func TestAbortNeedsTheOperatorsCredentials(t *testing.T) {
	s := newStack(t, true, nil)
	ctx := context.Background()
	keys := fleet.Keys{CollectPattern: fleet.DefaultCollectPattern}
	ro := &fleet.Rollout{ID: "r7", Group: "web", State: fleet.StateRunning, Steps: []fleet.Step{{Count: 1}, {Percent: 100}},
		Waves: []fleet.WaveResult{{Step: fleet.Step{Count: 1}, Targets: 1, Started: time.Now().UTC()}}}
	s.put(t, keys.Rollout("web"), ro)
	// RBAC: root, an operator who writes /logagent/, a console that reads it.
	for _, u := range []struct{ user, pw, role string }{{"root", "rootpw", "root"}, {"operator", "oppw", "operator"}, {"console", "conpw", "console"}} {
		if _, err := s.cli.UserAdd(ctx, u.user, u.pw); err != nil {
			t.Fatal(err)
		}
		if u.role != "root" {
			if _, err := s.cli.RoleAdd(ctx, u.role); err != nil {
				t.Fatal(err)
			}
			perm := clientv3.PermissionType(authpb.READ)
			if u.role == "operator" {
				perm = clientv3.PermissionType(authpb.READWRITE)
			}
			if _, err := s.cli.RoleGrantPermission(ctx, u.role, "/logagent/", clientv3.GetPrefixRangeEnd("/logagent/"), perm); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.cli.UserGrantRole(ctx, u.user, u.role); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := s.cli.AuthEnable(ctx); err != nil {
		t.Fatal(err)
	}
	s = newStackOver(t, s, func(o *Options) { o.Etcd.Username, o.Etcd.Password = "console", "conpw" })

	var rs Rollouts
	if code := s.get(t, "/ui/api/rollouts", &rs); code != 200 || len(rs.Rollouts) != 1 {
		t.Fatalf("the read-only user reads the rollouts: %d %+v", code, rs)
	}
	abort := func(body string) (int, string) {
		req, _ := http.NewRequest(http.MethodPost, s.srv.URL+"/ui/api/rollouts/web/abort", strings.NewReader(body))
		req.Header.Set(CSRFHeader, "1")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var e struct {
			Error string `json:"error"`
			State string `json:"state"`
		}
		_ = json.NewDecoder(resp.Body).Decode(&e)
		return resp.StatusCode, e.Error + e.State
	}
	if code, msg := abort(`{}`); code != http.StatusForbidden || !strings.Contains(msg, "permission denied") {
		t.Errorf("abort as the console's read-only user: %d %s", code, msg)
	}
	if code, msg := abort(`{"username":"operator","password":"wrong"}`); code != http.StatusUnauthorized || !strings.Contains(msg, "rejected the credentials") {
		t.Errorf("abort with a wrong password: %d %s", code, msg)
	}
	if code, msg := abort(`{"username":"operator","password":"oppw"}`); code != 200 || msg != fleet.StateAborted {
		t.Errorf("abort as the operator: %d %s", code, msg)
	}
	if code, msg := abort(`{"username":"operator","password":"oppw"}`); code != http.StatusConflict || !strings.Contains(msg, "nothing to abort") {
		t.Errorf("abort again: %d %s", code, msg)
	}
	root, err := etcdconf.New(etcdconf.Settings{Endpoints: []string{s.etcd.Endpoint()}, DialTimeout: 5 * time.Second, Username: "root", Password: "rootpw"})
	if err != nil {
		t.Fatal(err)
	}
	defer root.Close()
	got, err := root.Get(ctx, keys.Rollout("web"))
	if err != nil {
		t.Fatal(err)
	}
	var after fleet.Rollout
	if err := json.Unmarshal(got.Kvs[0].Value, &after); err != nil || after.State != fleet.StateAborted || after.Waves[0].Result != "aborted" ||
		!strings.Contains(after.Message, "aborted by etcd user operator in the console") {
		t.Errorf("stored rollout: %+v %v", after, err)
	}
}

// The Delivery endpoint runs the audit over the agents' status documents:
// a document deleted behind the pipeline's back is missing, named by host,
// file and byte range.
func TestDelivery(t *testing.T) {
	s := newStack(t, true, nil)
	day := time.Now().UTC().Format("2006.01.02")
	docs := map[string]string{}
	for i := range 10 {
		if i == 4 {
			continue // lost: bytes 40-50
		}
		docs[fmt.Sprintf("logcollect-web-%s/l%d", day, i)] = fmt.Sprintf(`{"@timestamp":%q,"message":"line %d","host":{"ip":"10.0.0.9","name":"web-9"},"log":{"offset":%d,"end_offset":%d,"file":{"id":"f42","path":"/var/log/a.log","device":7,"inode":42}}}`,
			time.Now().UTC().Format(time.RFC3339Nano), i, i*10, i*10+10)
	}
	s.index(t, docs)
	since := int64(0)
	st := fleet.Status{IP: "10.0.0.9", Hostname: "web-9", HostID: "h9", UpdatedAt: time.Now().UTC(), Groups: []fleet.GroupState{{Group: "web"}},
		Files: []fleet.FileStatus{{Path: "/var/log/a.log", Topic: "web", ID: "f42", Device: 7, Inode: 42, Offset: 100, Events: 10, CountedSince: &since}}}
	s.put(t, "/logagent/10.0.0.9/status", st)

	var d Delivery
	if code := s.get(t, "/ui/api/delivery?group=web", &d); code != 200 || d.Report == nil {
		t.Fatalf("delivery: %d %+v", code, d)
	}
	if r := d.Report; r.Missing != 1 || r.Indexed != 9 || r.Acked != 10 || len(r.Rows) != 1 || len(r.Rows[0].Gaps) != 1 ||
		r.Rows[0].Gaps[0].From != 40 || r.Rows[0].Gaps[0].To != 50 || r.Verdict != "MISSING" || len(d.Groups) != 1 {
		t.Errorf("report %+v", r)
	}
	if code := s.get(t, "/ui/api/delivery?group=db", &d); code != 200 || len(d.Report.Rows) != 0 {
		t.Errorf("another group: %d %+v", code, d.Report)
	}
}

// etcd down: the fleet pages explain it (which endpoints, what to check)
// instead of failing the transfer; Search still answers.
func TestEtcdDown(t *testing.T) {
	s := newStack(t, false, func(o *Options) {
		o.Etcd = etcdconf.Settings{Endpoints: []string{"127.0.0.1:1"}, DialTimeout: 200 * time.Millisecond}
		o.Request = 500 * time.Millisecond
	})
	resp, err := http.Get(s.srv.URL + "/ui/api/fleet")
	if err != nil {
		t.Fatal(err)
	}
	var e struct {
		Error string `json:"error"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&e)
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadGateway || !strings.Contains(e.Error, "etcd at 127.0.0.1:1") {
		t.Errorf("fleet with etcd down: %s %q", resp.Status, e.Error)
	}
	if code := s.get(t, "/ui/api/search", nil); code != 200 {
		t.Errorf("search with etcd down: %d", code)
	}
}

// A status key without a lease outlives its agent: stale, as `logagent
// agents` says.
func TestUnleasedStatusIsStale(t *testing.T) {
	s := newStack(t, true, nil)
	s.put(t, "/logagent/10.0.0.1/status", fleet.Status{IP: "10.0.0.1", UpdatedAt: time.Now().UTC()})
	var f Fleet
	if code := s.get(t, "/ui/api/fleet", &f); code != 200 || len(f.Agents) != 1 || !f.Agents[0].Stale ||
		!strings.Contains(strings.Join(f.Agents[0].Problems, ";"), "without a lease") {
		t.Errorf("unleased status: %d %+v", code, f.Agents)
	}
}
