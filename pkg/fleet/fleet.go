// Package fleet is the contract between the agents, the operator's CLI and
// the console for running many hosts: where group configs and rollouts live
// in etcd, what a rollout document says, which agents a wave selects, and
// what an agent reports about the groups it runs. Every side uses these
// functions, so the agent that applies a candidate, the command that judges
// the wave and the page that shows it always agree on who is in it. It is in
// pkg/ because both binaries read it (logtransfer serves the console).
package fleet

import (
	"crypto/sha256"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Keys derives every fleet key from the agents' collect key pattern
// ([etcd] collect_log_key, default /logagent/%s/collect_config): a group
// takes the place of the IP under "groups/", so custom layouts stay
// consistent (/fleet/%s/cfg gives /fleet/groups/web/cfg).
type Keys struct {
	CollectPattern string // with exactly one %s
}

// GroupConfig is the key of a group's stable collect config.
func (k Keys) GroupConfig(group string) string {
	return fmt.Sprintf(k.CollectPattern, "groups/"+group)
}

// GroupsPrefix is the prefix of every group key (configs, rollouts, locks).
func (k Keys) GroupsPrefix() string {
	prefix, _, _ := strings.Cut(k.CollectPattern, "%s")
	return prefix + "groups/"
}

// Group is the prefix of one group's keys.
func (k Keys) Group(group string) string { return k.GroupsPrefix() + group + "/" }

// Rollout is the key of a group's rollout document.
func (k Keys) Rollout(group string) string { return k.Group(group) + "rollout" }

// RolloutLock is the key the running `logagent rollout` command holds with
// a lease: when it is absent while the rollout is running, no controller
// drives it and the rollout is paused where it stands.
func (k Keys) RolloutLock(group string) string { return k.Group(group) + "rollout_lock" }

// ParseGroupKey tells which group and what kind of key a key under
// GroupsPrefix is ("collect_config"-style config, "rollout", "rollout_lock").
func (k Keys) ParseGroupKey(key string) (group, kind string, ok bool) {
	rest, ok := strings.CutPrefix(key, k.GroupsPrefix())
	if !ok {
		return "", "", false
	}
	group, tail, ok := strings.Cut(rest, "/")
	if !ok || CheckGroup(group) != nil {
		return "", "", false
	}
	switch {
	case key == k.GroupConfig(group):
		return group, KindConfig, true
	case tail == "rollout":
		return group, KindRollout, true
	case tail == "rollout_lock":
		return group, KindLock, true
	}
	return "", "", false
}

// Kinds of group keys.
const (
	KindConfig  = "config"
	KindRollout = "rollout"
	KindLock    = "lock"
)

var groupName = regexp.MustCompile(`^[a-z0-9][a-z0-9_.-]{0,62}$`)

// CheckGroup validates a group name: lower-case letters, digits, '_', '.',
// '-', at most 63 characters, starting with a letter or digit (it becomes
// part of an etcd key and of RBAC prefixes).
func CheckGroup(name string) error {
	if !groupName.MatchString(name) {
		return fmt.Errorf("group %q: use 1-63 lower-case letters, digits, '_', '.' or '-', starting with a letter or digit", name)
	}
	return nil
}

// Rollout states.
const (
	StateRunning    = "running"     // a controller drives it (or it is paused: see Keys.RolloutLock)
	StatePaused     = "paused"      // stopped in its current wave; `rollout resume` continues it
	StateDone       = "done"        // every wave passed; the candidate is the group's config now
	StateRolledBack = "rolled_back" // a wave failed; the candidate was withdrawn
	StateAborted    = "aborted"     // the operator withdrew the candidate
)

// Rollout is the document at Keys.Rollout: one staged change of a group's
// collect config. Agents read Candidate, State and the current wave's
// Cutoff; the rest is for operators and the controller.
type Rollout struct {
	ID        string          `json:"id"`
	Group     string          `json:"group"`
	State     string          `json:"state"`
	Candidate json.RawMessage `json:"candidate"`      // the collect config being rolled out
	Hash      string          `json:"candidate_hash"` // ConfigHash(Candidate): what agents report running
	// StableRevision is the mod revision of the group's config when the
	// rollout started (0: the group had none); the rest of the group runs it.
	StableRevision int64         `json:"stable_revision"`
	Steps          []Step        `json:"steps"`
	Wave           int           `json:"wave"` // index into Steps of the current wave
	Selection      Selection     `json:"selection"`
	Bake           time.Duration `json:"bake_ns"`
	WaveStartedAt  time.Time     `json:"wave_started_at,omitzero"`
	StartedAt      time.Time     `json:"started_at"`
	UpdatedAt      time.Time     `json:"updated_at"`
	Message        string        `json:"message,omitempty"`  // why it stopped: the failing hosts, "aborted by ..."
	Failures       []Failure     `json:"failures,omitempty"` // the hosts whose health failed the wave
	Waves          []WaveResult  `json:"waves,omitempty"`    // what happened to each wave so far
}

// Selection is who runs the candidate: every agent whose WaveHash is at or
// below Cutoff, or every agent of the group when All is set. Selections
// only grow during a rollout (the waves are cumulative).
type Selection struct {
	Cutoff  uint64 `json:"cutoff"`
	All     bool   `json:"all,omitempty"`
	Targets int    `json:"targets"` // agents selected when the wave began
}

// Failure is a host that failed a wave's health gate.
type Failure struct {
	Host   string `json:"host"` // hostname
	IP     string `json:"ip"`
	Reason string `json:"reason"`
}

// WaveResult records one wave.
type WaveResult struct {
	Step     Step      `json:"step"`
	Targets  int       `json:"targets"`
	Started  time.Time `json:"started"`
	Finished time.Time `json:"finished,omitzero"`
	Result   string    `json:"result"` // passed, failed, aborted, "" while running
}

// Active tells whether agents selected by the rollout run its candidate:
// while it is running or paused. Done, rolled back and aborted rollouts
// select nobody (after done, the group's config is the candidate).
func (r *Rollout) Active() bool {
	return r != nil && (r.State == StateRunning || r.State == StatePaused)
}

// Selects tells whether the agent with hostID in group runs the candidate.
func (r *Rollout) Selects(hostID string) bool {
	if !r.Active() {
		return false
	}
	return r.Selection.All || WaveHash(r.Group, hostID) <= r.Selection.Cutoff && r.Selection.Targets > 0
}

// WaveHash places an agent in a group's waves: stable for a host and group,
// so the canaries of a group are the same hosts every time (reproducible)
// and differ between groups.
func WaveHash(group, hostID string) uint64 {
	h := sha256.Sum256([]byte(group + "\x00" + hostID))
	return binary.BigEndian.Uint64(h[:8])
}

// Select computes the selection of a step over the group's known members
// (their host ids): the n members with the lowest WaveHash, where n is the
// step's count (at least 1, at most all). A 100% step selects every agent,
// including members that appear later.
func Select(group string, step Step, members []string) Selection {
	if step.Percent == 100 {
		return Selection{All: true, Targets: len(members)}
	}
	n := step.Count
	if step.Percent > 0 {
		n = (len(members)*step.Percent + 99) / 100
	}
	n = max(1, min(n, len(members)))
	if len(members) == 0 {
		return Selection{}
	}
	hs := make([]uint64, len(members))
	for i, m := range members {
		hs[i] = WaveHash(group, m)
	}
	slices.Sort(hs)
	return Selection{Cutoff: hs[n-1], Targets: n}
}

// Step is one wave's size: a count of agents or a percentage of the group.
type Step struct {
	Count   int `json:"count,omitempty"`
	Percent int `json:"percent,omitempty"`
}

func (s Step) String() string {
	if s.Percent > 0 {
		return strconv.Itoa(s.Percent) + "%"
	}
	return strconv.Itoa(s.Count)
}

// DefaultSteps is what `rollout start` uses without -steps.
const DefaultSteps = "1,10%,50%,100%"

// ParseSteps reads "1,10%,50%,100%": counts or percentages, growing; a
// last step below 100% gets 100% added, so a rollout always ends with the
// whole group.
func ParseSteps(s string) ([]Step, error) {
	var steps []Step
	for _, f := range strings.Split(s, ",") {
		f = strings.TrimSpace(f)
		var st Step
		if p, ok := strings.CutSuffix(f, "%"); ok {
			n, err := strconv.Atoi(p)
			if err != nil || n < 1 || n > 100 {
				return nil, fmt.Errorf("steps %q: %q is not a percentage from 1%% to 100%%", s, f)
			}
			st.Percent = n
		} else {
			n, err := strconv.Atoi(f)
			if err != nil || n < 1 {
				return nil, fmt.Errorf("steps %q: %q is neither a count of agents (1 or more) nor a percentage like 10%%", s, f)
			}
			st.Count = n
		}
		if len(steps) > 0 {
			prev := steps[len(steps)-1]
			if prev.Percent > 0 && st.Percent > 0 && st.Percent <= prev.Percent || prev.Count > 0 && st.Count > 0 && st.Count <= prev.Count {
				return nil, fmt.Errorf("steps %q: each step must be larger than the one before (%s then %s)", s, prev, st)
			}
		}
		steps = append(steps, st)
	}
	if steps[len(steps)-1].Percent != 100 {
		steps = append(steps, Step{Percent: 100})
	}
	return steps, nil
}

// ConfigHash names a collect config's content: what an agent reports it runs
// while a candidate is rolled out (a candidate has no etcd revision of its
// own). Whitespace does not change the hash.
func ConfigHash(config []byte) string {
	var v any
	canon := config
	if json.Unmarshal(config, &v) == nil {
		if b, err := json.Marshal(v); err == nil {
			canon = b
		}
	}
	h := sha256.Sum256(canon)
	return hex.EncodeToString(h[:6])
}

// GroupState is what an agent reports about one of its groups: which
// version of the group's config it runs and whether it was applied.
//
//   - on stable: Revision is the stable config's mod revision, Rollout and
//     Hash are empty;
//   - on a candidate: Revision is 0, Rollout and Hash name it (Expected);
//   - candidate refused: Rejected is the reason, Rollout and Hash name the
//     refused candidate, and Revision is the stable revision that runs
//     instead (what fails the canary);
//   - stable refused: Rejected is the reason, Revision the last good stable
//     revision still running (0: none).
type GroupState struct {
	Group    string `json:"group"`
	Revision int64  `json:"revision"`            // mod revision of the group's stable config it runs (0: none, or a candidate)
	Rollout  string `json:"rollout,omitempty"`   // the rollout id whose candidate it runs (or refused)
	Hash     string `json:"candidate,omitempty"` // that candidate's ConfigHash
	// Rejected is the agent's reason when the config it should run for
	// this group (stable or candidate) was refused by its own rules.
	Rejected string `json:"rejected,omitempty"`
}

// Runs tells whether the agent runs the version Expected says it should:
// the candidate (not refused) or the stable revision.
func (g GroupState) Runs(revision int64, candidate string) bool {
	if candidate != "" {
		return g.Hash == candidate && g.Rejected == ""
	}
	return g.Hash == "" && g.Revision == revision
}

// Source names, in EntrySource.Source and Rejected.Source.
const SourceHost = "host"

// GroupSource is the source name of a group's config: "group:<name>".
func GroupSource(group string) string { return "group:" + group }

// EntrySource says where one running collect entry came from.
type EntrySource struct {
	Entry    string `json:"entry"`              // collect.Entry.Key(): path or journal stream
	Source   string `json:"source"`             // "host" or "group:<name>"
	Revision int64  `json:"revision"`           // etcd mod revision of that source's config
	Rollout  string `json:"rollout,omitempty"`  // set when it came from a rollout's candidate
	Shadowed string `json:"shadowed,omitempty"` // sources that also define it and lost on precedence ("group:web@12, group:prod@9")
}

// Expected is what an agent in group should run: the candidate hash when
// the rollout selects it, otherwise the group's stable revision.
func Expected(r *Rollout, hostID string, stableRevision int64) (revision int64, candidate string) {
	if r.Selects(hostID) {
		return 0, r.Hash
	}
	return stableRevision, ""
}
