package console

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sort"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/logcollect/logcollect/pkg/fleet"
)

// snapshot is the fleet as read from etcd in one or two prefix reads:
// every status document, group config, rollout and lock, and the hosts
// that have their own collect key.
type snapshot struct {
	Revision  int64
	Statuses  map[string][]byte // by IP (the key's %s)
	Unleased  map[string]bool   // status keys without a lease: nothing removes them when the agent dies
	HostKeys  map[string]bool   // IPs with a per-host collect config
	Stable    map[string]int64  // group → mod revision of its config
	Rollouts  map[string]*fleet.Rollout
	RolloutMR map[string]int64 // group → mod revision of its rollout document
	Locks     map[string]bool  // group → a controller holds the lock
}

func (c *Console) read(ctx context.Context) (*snapshot, error) {
	statusPrefix, statusSuffix, _ := strings.Cut(c.o.StatusPattern, "%s")
	collectPrefix, collectSuffix, _ := strings.Cut(c.o.Keys.CollectPattern, "%s")
	prefixes := []string{statusPrefix}
	for _, p := range []string{collectPrefix, c.o.Keys.GroupsPrefix()} {
		covered := false
		for _, q := range prefixes {
			covered = covered || strings.HasPrefix(p, q)
		}
		if !covered {
			prefixes = append(prefixes, p)
		}
	}
	s := &snapshot{Statuses: map[string][]byte{}, Unleased: map[string]bool{}, HostKeys: map[string]bool{}, Stable: map[string]int64{},
		Rollouts: map[string]*fleet.Rollout{}, RolloutMR: map[string]int64{}, Locks: map[string]bool{}}
	var ops []clientv3.Op
	for _, p := range prefixes {
		ops = append(ops, clientv3.OpGet(p, clientv3.WithPrefix()))
	}
	cli, err := c.etcd()
	if err != nil {
		return nil, err
	}
	// One transaction: every prefix at the same revision.
	resp, err := cli.Txn(ctx).Then(ops...).Commit()
	if err != nil {
		return nil, fmt.Errorf("read the fleet from etcd: %w", err)
	}
	s.Revision = resp.Header.Revision
	seen := map[string]bool{}
	for _, r := range resp.Responses {
		for _, kv := range r.GetResponseRange().Kvs {
			key := string(kv.Key)
			if seen[key] {
				continue
			}
			seen[key] = true
			if group, kind, ok := c.o.Keys.ParseGroupKey(key); ok {
				switch kind {
				case fleet.KindConfig:
					s.Stable[group] = kv.ModRevision
				case fleet.KindRollout:
					ro := new(fleet.Rollout)
					if json.Unmarshal(kv.Value, ro) == nil {
						s.Rollouts[group], s.RolloutMR[group] = ro, kv.ModRevision
					}
				case fleet.KindLock:
					s.Locks[group] = true
				}
				continue
			}
			if ip, ok := between(key, statusPrefix, statusSuffix); ok {
				s.Statuses[ip] = kv.Value
				s.Unleased[ip] = kv.Lease == 0
			} else if ip, ok := between(key, collectPrefix, collectSuffix); ok {
				s.HostKeys[ip] = true
			}
		}
	}
	return s, nil
}

// between returns the part of key between prefix and suffix when it is one
// path segment (an IP, never "groups/web").
func between(key, prefix, suffix string) (string, bool) {
	mid, ok := strings.CutPrefix(key, prefix)
	if !ok {
		return "", false
	}
	mid, ok = strings.CutSuffix(mid, suffix)
	if !ok || mid == "" || strings.Contains(mid, "/") {
		return "", false
	}
	return mid, true
}

// Agent is one row of the Fleet page.
type Agent struct {
	IP        string             `json:"ip"`
	Hostname  string             `json:"hostname,omitempty"`
	HostID    string             `json:"host_id,omitempty"`
	Version   string             `json:"version,omitempty"`
	Groups    []AgentGroup       `json:"groups"`
	Config    fleet.ConfigStatus `json:"config"`
	Health    fleet.Health       `json:"health"`
	Files     int                `json:"files"`
	Lag       int64              `json:"lag"`
	LastError *fleet.ErrorStatus `json:"last_error,omitempty"`
	UpdatedAt time.Time          `json:"updated_at,omitzero"`
	// Flags that make the row stand out.
	Offline  bool     `json:"offline,omitempty"` // a per-host collect key, no status (the lease expired)
	Stale    bool     `json:"stale,omitempty"`   // status without a lease, or not rewritten for StaleAfter
	Rejected bool     `json:"rejected,omitempty"`
	Drifted  bool     `json:"drifted,omitempty"` // a group's config is not the one it should run
	Problems []string `json:"problems,omitempty"`
}

// AgentGroup is what an agent runs of one group, beside what it should.
type AgentGroup struct {
	fleet.GroupState
	ExpectedRevision  int64  `json:"expected_revision"`
	ExpectedCandidate string `json:"expected_candidate,omitempty"`
	Drifted           bool   `json:"drifted,omitempty"`
}

// GroupSummary is one line of the per-group summary.
type GroupSummary struct {
	Group          string `json:"group"`
	Agents         int    `json:"agents"`
	StableRevision int64  `json:"stable_revision"` // 0: the group has no config
	OnStable       int    `json:"on_stable"`
	OnCandidate    int    `json:"on_candidate"`
	Drifted        int    `json:"drifted"`
	Rejected       int    `json:"rejected"`
	Stale          int    `json:"stale"`
	Rollout        string `json:"rollout,omitempty"` // "running, wave 2 of 4" ...
	Line           string `json:"line"`
}

// Fleet is what /ui/api/fleet answers.
type Fleet struct {
	Enabled  bool           `json:"enabled"`
	Reason   string         `json:"reason,omitempty"`
	At       time.Time      `json:"at"`
	Revision int64          `json:"revision"`
	Agents   []Agent        `json:"agents"`
	Groups   []GroupSummary `json:"groups"`
	Problems []string       `json:"problems,omitempty"` // status documents that could not be read
}

func (c *Console) fleet(s *snapshot, now time.Time) Fleet {
	f := Fleet{Enabled: true, At: now, Revision: s.Revision, Agents: []Agent{}, Groups: []GroupSummary{}}
	sums := map[string]*GroupSummary{}
	sum := func(g string) *GroupSummary {
		if sums[g] == nil {
			sums[g] = &GroupSummary{Group: g, StableRevision: s.Stable[g]}
		}
		return sums[g]
	}
	for g := range s.Stable {
		sum(g)
	}
	for g := range s.Rollouts {
		sum(g)
	}
	for ip, data := range s.Statuses {
		var st fleet.Status
		if err := json.Unmarshal(data, &st); err != nil {
			f.Problems = append(f.Problems, fmt.Sprintf("%s: status document: %v", ip, err))
			continue
		}
		a := Agent{IP: ip, Hostname: st.Hostname, HostID: st.HostID, Version: st.Version, Groups: []AgentGroup{},
			Config: st.Config, Health: st.Health, Files: len(st.Files) + st.FilesOmitted, Lag: st.TotalLag,
			LastError: st.LastError, UpdatedAt: st.UpdatedAt}
		// Stale as `logagent agents` says it: a status without a lease
		// outlives its agent; one older than StaleAfter may be stuck.
		switch {
		case s.Unleased[ip]:
			a.Stale = true
			a.Problems = append(a.Problems, "status key without a lease: nothing removes it when its agent dies")
		case now.Sub(st.UpdatedAt) > c.o.StaleAfter:
			a.Stale = true
			a.Problems = append(a.Problems, fmt.Sprintf("status not updated for %s", now.Sub(st.UpdatedAt).Round(time.Second)))
		}
		if st.Config.State == fleet.ConfigRejected {
			a.Rejected = true
			if st.Config.Rejected != nil {
				a.Problems = append(a.Problems, "rejected: "+st.Config.Rejected.Reason)
			}
		}
		for _, gs := range st.Groups {
			rev, cand := fleet.Expected(s.Rollouts[gs.Group], st.HostID, s.Stable[gs.Group])
			ag := AgentGroup{GroupState: gs, ExpectedRevision: rev, ExpectedCandidate: cand}
			if gs.Rejected != "" {
				a.Rejected = true
				a.Problems = append(a.Problems, fmt.Sprintf("group %s rejected: %s", gs.Group, gs.Rejected))
			}
			// A rejected config is reported as such, not as drift.
			ag.Drifted = gs.Rejected == "" && !gs.Runs(rev, cand)
			if ag.Drifted {
				a.Drifted = true
				a.Problems = append(a.Problems, fmt.Sprintf("group %s: runs %s, should run %s", gs.Group, describeRun(gs.Revision, gs.Hash), describeRun(rev, cand)))
			}
			gsum := sum(gs.Group)
			gsum.Agents++
			switch {
			case gs.Rejected != "": // it names what it refused
			case cand != "" && gs.Runs(rev, cand):
				gsum.OnCandidate++
			case gs.Runs(s.Stable[gs.Group], ""):
				gsum.OnStable++
			}
			if ag.Drifted {
				gsum.Drifted++
			}
			if gs.Rejected != "" {
				gsum.Rejected++
			}
			if a.Stale {
				gsum.Stale++
			}
			a.Groups = append(a.Groups, ag)
		}
		f.Agents = append(f.Agents, a)
	}
	for ip := range s.HostKeys {
		if _, ok := s.Statuses[ip]; !ok {
			f.Agents = append(f.Agents, Agent{IP: ip, Groups: []AgentGroup{}, Offline: true,
				Problems: []string{"offline: it has a collect config but no status (its lease expired or it never started)"}})
		}
	}
	sort.Slice(f.Agents, func(i, j int) bool { return f.Agents[i].IP < f.Agents[j].IP })
	for _, g := range sums {
		if r := s.Rollouts[g.Group]; r.Active() {
			g.Rollout = fmt.Sprintf("%s, wave %d of %d", rolloutState(r, s.Locks[g.Group]), r.Wave+1, len(r.Steps))
		}
		g.Line = summaryLine(g)
		f.Groups = append(f.Groups, *g)
	}
	sort.Slice(f.Groups, func(i, j int) bool { return f.Groups[i].Group < f.Groups[j].Group })
	return f
}

func describeRun(rev int64, cand string) string {
	switch {
	case cand != "":
		return "candidate " + cand
	case rev == 0:
		return "no group config"
	}
	return fmt.Sprintf("r%d", rev)
}

// summaryLine reads like `logagent agents`' summary: "web: 12 agents, 11
// on r14, 1 on the candidate (running, wave 2 of 4)".
func summaryLine(g *GroupSummary) string {
	parts := []string{fmt.Sprintf("%d agents", g.Agents)}
	if g.StableRevision > 0 {
		parts = append(parts, fmt.Sprintf("%d on r%d", g.OnStable, g.StableRevision))
	} else {
		parts = append(parts, "no group config")
	}
	if g.OnCandidate > 0 || g.Rollout != "" {
		parts = append(parts, fmt.Sprintf("%d on the candidate (%s)", g.OnCandidate, g.Rollout))
	}
	for _, p := range []struct {
		n    int
		what string
	}{{g.Drifted, "drifted"}, {g.Rejected, "rejected"}, {g.Stale, "stale"}} {
		if p.n > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", p.n, p.what))
		}
	}
	return g.Group + ": " + strings.Join(parts, ", ")
}

// rolloutState tells a running rollout without a controller as paused.
func rolloutState(r *fleet.Rollout, locked bool) string {
	if r.State == fleet.StateRunning && !locked {
		return "paused (no controller)"
	}
	return r.State
}

// fleetHandler serves an endpoint that needs the fleet snapshot: without
// [etcd] it says why the page is empty; an etcd error is explained.
func (c *Console) fleetHandler(off string, h func(ctx context.Context, w http.ResponseWriter, r *http.Request, s *snapshot)) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !c.etcdOn() {
			writeJSON(w, etcdOff{Reason: off})
			return
		}
		ctx, cancel := c.ctx(r)
		defer cancel()
		s, err := c.read(ctx)
		if err != nil {
			httpError(w, http.StatusBadGateway, c.explain(err))
			return
		}
		h(ctx, w, r, s)
	}
}

func (c *Console) getFleet(_ context.Context, w http.ResponseWriter, _ *http.Request, s *snapshot) {
	writeJSON(w, c.fleet(s, time.Now().UTC()))
}

// Rollout is one group's rollout on the Rollouts page.
type Rollout struct {
	*fleet.Rollout
	Shown          string `json:"shown_state"` // State, or "paused (no controller)"
	Controller     bool   `json:"controller"`  // a `logagent rollout` command drives it
	CurrentStable  int64  `json:"current_stable_revision"`
	CanAbort       bool   `json:"can_abort"`
	CandidateLines int    `json:"candidate_entries"`
}

// Rollouts is what /ui/api/rollouts answers: active ones first, then the
// past ones, newest first.
type Rollouts struct {
	Enabled  bool      `json:"enabled"`
	Reason   string    `json:"reason,omitempty"`
	At       time.Time `json:"at"`
	Rollouts []Rollout `json:"rollouts"`
}

func (c *Console) getRollouts(_ context.Context, w http.ResponseWriter, _ *http.Request, s *snapshot) {
	out := Rollouts{Enabled: true, At: time.Now().UTC(), Rollouts: []Rollout{}}
	for g, ro := range s.Rollouts {
		var entries []json.RawMessage
		_ = json.Unmarshal(ro.Candidate, &entries)
		out.Rollouts = append(out.Rollouts, Rollout{Rollout: ro, Shown: rolloutState(ro, s.Locks[g]), Controller: s.Locks[g],
			CurrentStable: s.Stable[g], CanAbort: ro.Active(), CandidateLines: len(entries)})
	}
	sort.Slice(out.Rollouts, func(i, j int) bool {
		a, b := out.Rollouts[i], out.Rollouts[j]
		if a.Active() != b.Active() {
			return a.Active()
		}
		return a.UpdatedAt.After(b.UpdatedAt)
	})
	writeJSON(w, out)
}
