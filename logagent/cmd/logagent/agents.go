package main

// logagent agents: the fleet table. One read of every status document and
// of the group keys (configs, rollouts), then, per agent and group, what
// it runs against what fleet.Expected says it should.

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"maps"
	"slices"
	"sort"
	"strings"
	"text/tabwriter"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/logcollect/logcollect/logagent/internal/rollout"
	"github.com/logcollect/logcollect/pkg/fleet"
)

const agentsUsage = `logagent agents [-group GROUP] [-o json | -json] [-stale DURATION] [-config agent.ini | -endpoints URLS]

Lists every agent that publishes status (agents that stopped or died are
gone within [etcd] status_ttl): IP, host, version, files followed, total lag
(bytes written and not yet acknowledged by Kafka), config state, the groups
it runs with the revision of each (rN: the group's config at etcd revision N;
"wave K": a rollout's candidate), flags and last error. Flags:
  stale     its status key has no lease (nothing removes it when its agent
            dies), or with -stale it is older than that. An agent writes its
            status when something in it changes, and lag at most every
            status_refresh, so an idle agent's status may be old and true:
            that it is alive is its lease, which expires status_ttl after
            the agent stops renewing it and takes the key with it
  rejected  it refused its latest config (host key or a group's)
  drifted   not on what its group expects (the group's config revision, or
            the candidate when a rollout selects it): still applying, or stuck
Then one summary line per group: "web: 1,200 agents, 1,195 on r14, 3 in
rollout wave 2, 2 offline"; offline counts agents a running rollout's wave
selected whose status is gone (etcd keeps nothing of an agent whose lease
expired, so it cannot be listed otherwise).
-group lists only the agents of GROUP. -o json prints the table and the
summaries as JSON; -json the raw status documents (as before).
Exit code 0 listed (even none), 1 etcd error, 2 usage.

` + etcdFlagsHelp + `
Examples:
  logagent agents -endpoints http://etcd1:2379
  logagent agents -group web -o json | jq '.agents[] | select(.flags | index("drifted")) | .ip'
  logagent agents -json -config /etc/logagent/config.ini | jq '.[] | select(.total_lag > 1e6) | .ip'

Flags:
`

// agentDoc is what the table reads of a status document (fleet.Status):
// files are only counted, so 10,000 documents of hundreds of files each
// decode quickly. leased tells whether its key has a lease.
type agentDoc struct {
	Version      string             `json:"version"`
	Hostname     string             `json:"hostname"`
	IP           string             `json:"ip"`
	HostID       string             `json:"host_id"`
	UpdatedAt    time.Time          `json:"updated_at"`
	Config       fleet.ConfigStatus `json:"config"`
	Groups       []fleet.GroupState `json:"groups"`
	Files        []struct{}         `json:"files"`
	FilesOmitted int                `json:"files_omitted"`
	TotalLag     int64              `json:"total_lag"`
	LastError    *fleet.ErrorStatus `json:"last_error"`
	leased       bool
}

// groupInfo is a group's stable config revision and rollout.
type groupInfo struct {
	stable  int64
	rollout *fleet.Rollout
}

// agentRow is one agent in the table and in -o json.
type agentRow struct {
	IP        string       `json:"ip"`
	Host      string       `json:"host"`
	HostID    string       `json:"host_id,omitempty"`
	Version   string       `json:"version"`
	Files     int          `json:"files"`
	Lag       int64        `json:"lag"`
	Config    string       `json:"config"`
	UpdatedAt time.Time    `json:"updated_at"`
	Groups    []groupCheck `json:"groups"`
	Flags     []string     `json:"flags"`
	LastError string       `json:"last_error,omitempty"`

	lastError *fleet.ErrorStatus
}

// groupCheck is one group of an agent: what it runs and what it should.
type groupCheck struct {
	fleet.GroupState
	ExpectedRevision  int64  `json:"expected_revision"`
	ExpectedCandidate string `json:"expected_candidate,omitempty"`
	Wave              int    `json:"wave,omitempty"` // 1-based wave of the rollout whose candidate it runs
	Drifted           bool   `json:"drifted,omitempty"`
}

// groupSummary is a group's line.
type groupSummary struct {
	Group          string `json:"group"`
	Agents         int    `json:"agents"`
	StableRevision int64  `json:"stable_revision"`
	OnStable       int    `json:"on_stable"`
	Rollout        string `json:"rollout,omitempty"` // id of the active rollout
	Wave           int    `json:"wave,omitempty"`    // its current wave, 1-based
	InRollout      int    `json:"in_rollout"`        // agents running its candidate
	Offline        int    `json:"offline"`
	Rejected       int    `json:"rejected"`
	Drifted        int    `json:"drifted"`
	Stale          int    `json:"stale"`
}

// fleetView checks every agent against its groups; only lists the
// agents of one group when not "".
func fleetView(docs []agentDoc, groups map[string]groupInfo, only string, staleAfter time.Duration, now time.Time) ([]agentRow, []groupSummary) {
	sums := make(map[string]*groupSummary)
	sum := func(g string) *groupSummary {
		if sums[g] == nil {
			gi := groups[g]
			sums[g] = &groupSummary{Group: g, StableRevision: gi.stable}
			if gi.rollout.Active() {
				sums[g].Rollout, sums[g].Wave = gi.rollout.ID, gi.rollout.Wave+1
			}
		}
		return sums[g]
	}
	selectedPresent := make(map[string]int)
	var rows []agentRow
	for _, d := range docs {
		st := d
		row := agentRow{IP: st.IP, Host: st.Hostname, HostID: d.HostID, Version: st.Version, Files: len(st.Files) + st.FilesOmitted,
			Lag: st.TotalLag, Config: configState(st.Config), UpdatedAt: st.UpdatedAt, Groups: []groupCheck{}, lastError: st.LastError}
		if st.LastError != nil {
			row.LastError = st.LastError.Message
		}
		// Agents write their status when it changes, so an old one is no
		// sign of trouble: liveness is the lease. A key without one never
		// expires, whatever became of its agent.
		stale := !d.leased || staleAfter > 0 && !st.UpdatedAt.IsZero() && now.Sub(st.UpdatedAt) > staleAfter
		rejected := st.Config.State == fleet.ConfigRejected
		drifted, member := false, only == ""
		for _, g := range d.Groups {
			gi := groups[g.Group]
			c := groupCheck{GroupState: g}
			c.ExpectedRevision, c.ExpectedCandidate = fleet.Expected(gi.rollout, d.HostID, gi.stable)
			c.Drifted = !g.Runs(c.ExpectedRevision, c.ExpectedCandidate)
			if gi.rollout.Active() && g.Rollout == gi.rollout.ID {
				c.Wave = gi.rollout.Wave + 1
			}
			s := sum(g.Group)
			s.Agents++
			switch {
			case c.Wave > 0:
				s.InRollout++
			case g.Rollout == "" && g.Revision == gi.stable:
				s.OnStable++
			}
			if gi.rollout.Selects(d.HostID) {
				selectedPresent[g.Group]++
			}
			if g.Rejected != "" {
				s.Rejected++
				rejected = true
			}
			if c.Drifted {
				s.Drifted++
				drifted = true
			}
			if stale {
				s.Stale++
			}
			member = member || g.Group == only
			row.Groups = append(row.Groups, c)
		}
		for _, f := range []struct {
			on   bool
			name string
		}{{stale, "stale"}, {rejected, "rejected"}, {drifted, "drifted"}} {
			if f.on {
				row.Flags = append(row.Flags, f.name)
			}
		}
		if row.Flags == nil {
			row.Flags = []string{}
		}
		if member {
			rows = append(rows, row)
		}
	}
	// Groups with a config or a rollout but no agent reporting are listed
	// too: their members are all offline (or none has joined).
	for g, gi := range groups {
		s := sum(g)
		if gi.rollout.Active() {
			s.Offline = max(0, gi.rollout.Selection.Targets-selectedPresent[g])
		}
	}
	sort.Slice(rows, func(i, j int) bool { return rows[i].IP < rows[j].IP })
	var out []groupSummary
	for _, g := range slices.Sorted(maps.Keys(sums)) {
		if only == "" || g == only {
			out = append(out, *sums[g])
		}
	}
	return rows, out
}

// String is the summary line.
func (s groupSummary) String() string {
	var b strings.Builder
	agents := thousands(s.Agents) + " agents"
	if s.Agents == 1 {
		agents = "1 agent"
	}
	fmt.Fprintf(&b, "%s: %s", s.Group, agents)
	if s.StableRevision > 0 {
		fmt.Fprintf(&b, ", %s on r%d", thousands(s.OnStable), s.StableRevision)
	} else {
		fmt.Fprintf(&b, ", no group config")
	}
	if s.Rollout != "" {
		fmt.Fprintf(&b, ", %s in rollout wave %d", thousands(s.InRollout), s.Wave)
	}
	for _, n := range []struct {
		n    int
		what string
	}{{s.Offline, "offline"}, {s.Rejected, "rejected"}, {s.Drifted, "drifted"}, {s.Stale, "stale"}} {
		if n.n > 0 {
			fmt.Fprintf(&b, ", %s %s", thousands(n.n), n.what)
		}
	}
	return b.String()
}

// thousands writes n with thousands separators: 1,200.
func thousands(n int) string {
	s := fmt.Sprint(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

func runAgents(ctx context.Context, c *cli) int {
	switch {
	case len(c.args) != 0:
		return c.usageError("unexpected arguments %q", c.args)
	case c.output != "" && c.output != "json":
		return c.usageError("-o %q: want json (or nothing for the table)", c.output)
	case c.group != "" && fleet.CheckGroup(c.group) != nil:
		return c.usageError("-group: %v", fleet.CheckGroup(c.group))
	}
	cli, cfg, code := c.connect()
	if cli == nil {
		return code
	}
	defer cli.Close()
	prefix, suffix := cfg.Etcd.StatusKeyParts()
	statusKeys := rollout.StatusKeys{Prefix: prefix, Suffix: suffix}
	keys := fleetKeys(cfg)
	// One read for the whole fleet: every status, every group key.
	resp, err := request(ctx, cfg, func(ctx context.Context) (*clientv3.TxnResponse, error) {
		return cli.Txn(ctx).Then(clientv3.OpGet(prefix, clientv3.WithPrefix()), clientv3.OpGet(keys.GroupsPrefix(), clientv3.WithPrefix())).Commit()
	})
	if err != nil {
		return c.fail(exitRuntime, "read %s*%s: %v", prefix, suffix, err)
	}
	groups := make(map[string]groupInfo)
	for _, kv := range resp.Responses[1].GetResponseRange().Kvs {
		g, kind, ok := keys.ParseGroupKey(string(kv.Key))
		if !ok {
			continue
		}
		gi := groups[g]
		switch kind {
		case fleet.KindConfig:
			gi.stable = kv.ModRevision
		case fleet.KindRollout:
			r := new(fleet.Rollout)
			if json.Unmarshal(kv.Value, r) == nil {
				gi.rollout = r
			}
		default:
			continue
		}
		groups[g] = gi
	}
	var raws []json.RawMessage
	var docs []agentDoc
	for _, kv := range resp.Responses[0].GetResponseRange().Kvs {
		k := string(kv.Key)
		ip := statusKeys.IP(k)
		if ip == "" {
			continue // another key under the prefix (a collect config)
		}
		var d agentDoc
		if err := json.Unmarshal(kv.Value, &d); err != nil {
			fmt.Fprintf(c.stderr, "logagent agents: %s is not a status document (%v); skipped\n", k, err)
			continue
		}
		if d.IP == "" {
			d.IP = ip
		}
		d.leased = kv.Lease != 0
		raws = append(raws, kv.Value)
		docs = append(docs, d)
	}
	if c.asJSON {
		if raws == nil {
			raws = []json.RawMessage{}
		}
		out, _ := json.MarshalIndent(raws, "", "  ")
		fmt.Fprintf(c.stdout, "%s\n", out)
		return exitOK
	}
	now := time.Now()
	rows, sums := fleetView(docs, groups, c.group, c.stale, now)
	if c.output == "json" {
		if rows == nil {
			rows = []agentRow{}
		}
		if sums == nil {
			sums = []groupSummary{}
		}
		out, _ := json.MarshalIndent(struct {
			Agents []agentRow     `json:"agents"`
			Groups []groupSummary `json:"groups"`
		}{rows, sums}, "", "  ")
		fmt.Fprintf(c.stdout, "%s\n", out)
		return exitOK
	}
	if len(rows) == 0 {
		fmt.Fprintf(c.stderr, "no agent publishes status under %s<ip>%s at %s\n", prefix, suffix, strings.Join(cfg.Etcd.Endpoints, ","))
	} else {
		printAgents(c.stdout, rows, now)
	}
	for _, s := range sums {
		fmt.Fprintln(c.stdout, s)
	}
	return exitOK
}

func printAgents(w io.Writer, rows []agentRow, now time.Time) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "IP\tHOST\tVERSION\tFILES\tLAG\tCONFIG\tUPDATED\tGROUPS\tFLAGS\tLAST ERROR")
	for _, r := range rows {
		updated := "-"
		if !r.UpdatedAt.IsZero() {
			updated = now.Sub(r.UpdatedAt).Round(time.Second).String() + " ago"
		}
		gs := make([]string, 0, len(r.Groups))
		for _, g := range r.Groups {
			s := fmt.Sprintf("%s:r%d", g.Group, g.Revision)
			if g.Wave > 0 {
				s = fmt.Sprintf("%s:wave%d", g.Group, g.Wave)
			}
			if g.Rejected != "" {
				s += "(rejected)"
			}
			gs = append(gs, s)
		}
		groups, flags := strings.Join(gs, ","), strings.Join(r.Flags, ",")
		if groups == "" {
			groups = "-"
		}
		if flags == "" {
			flags = "-"
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%d\t%s\t%s\t%s\t%s\t%s\t%s\n", r.IP, r.Host, r.Version, r.Files,
			bytesHuman(r.Lag), r.Config, updated, groups, flags, lastError(r.lastError, now))
	}
	tw.Flush()
}
