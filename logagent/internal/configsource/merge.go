// Package configsource tells an agent what to collect: it reads and
// watches the agent's own collect key, the config of each of its groups
// and each group's rollout, and emits the whole desired config every time
// it changes: the merged entries, where each came from, and the version of
// each group the agent runs. It does not tail or send anything, so the
// fleet benchmark runs it thousands of times in one process.
package configsource

import (
	"bytes"
	"encoding/json"
	"fmt"
	"slices"
	"strings"

	"github.com/logcollect/logcollect/logagent/internal/collect"
	"github.com/logcollect/logcollect/pkg/fleet"
)

// Source is one source's config as it runs: the host key or a group's
// stable config or rollout candidate. Config was accepted by the agent's
// policy on its own (collect.Policy.Load).
type Source struct {
	Name     string          `json:"source"`              // fleet.SourceHost or fleet.GroupSource(g)
	Revision int64           `json:"revision"`            // etcd mod revision (0: absent, a candidate, an old cache)
	Rollout  string          `json:"rollout,omitempty"`   // the rollout whose candidate this is
	Hash     string          `json:"candidate,omitempty"` // the candidate's fleet.ConfigHash
	Config   json.RawMessage `json:"config"`              // a JSON array of entries; null when absent
}

func (s Source) String() string {
	if s.Rollout != "" {
		return s.Name + "@" + s.Rollout
	}
	return fmt.Sprintf("%s@%d", s.Name, s.Revision)
}

// entrySource says that the entry with key came from s.
func (s Source) entrySource(key string) fleet.EntrySource {
	return fleet.EntrySource{Entry: key, Source: s.Name, Revision: s.Revision, Rollout: s.Rollout}
}

// Desired is the whole config the agent should run.
type Desired struct {
	Entries []collect.Entry
	// Config is the merged JSON array Entries were loaded from.
	Config json.RawMessage
	// Sources says where each entry of Entries came from, in their order.
	Sources []fleet.EntrySource
	// Groups is the state of each of the agent's groups, in their order.
	Groups []fleet.GroupState
	// Rejected are the sources whose latest version the policy refused
	// (the last good version of each runs), host first, then the groups.
	Rejected []fleet.Rejected
	// Inputs are the sources merged (host first, then the groups in
	// order): what the agent caches to run again when etcd is down.
	Inputs []Source
}

// Host is the revision of the host key's config that runs.
func (d *Desired) Host() int64 {
	for _, in := range d.Inputs {
		if in.Name == fleet.SourceHost {
			return in.Revision
		}
	}
	return 0
}

// InRollout tells whether a rollout selected this agent in one of its
// groups (it runs the candidate, or refused it): a gate waits for its
// status, so it is written at once and its lag refreshed faster.
func (d *Desired) InRollout() bool {
	return slices.ContainsFunc(d.Groups, func(g fleet.GroupState) bool { return g.Rollout != "" })
}

// Merge joins the sources in precedence order (the host key first, then
// the groups in the order of [agent] groups): an entry whose key
// (collect.Entry.Key: a path or a journal stream) an earlier source already
// defines is left out and recorded as shadowed. The merged config is
// loaded with the policy as a whole (the one rule), so whatever runs has
// passed it; groups gives each group's state in Desired.Groups.
func Merge(p collect.Policy, inputs []Source, groups []fleet.GroupState) (Desired, error) {
	var (
		raws    []json.RawMessage
		sources []fleet.EntrySource
		at      = map[string]int{} // entry key → index in sources
		loaded  = make([][]collect.Entry, len(inputs))
		filled  []int // inputs with entries
	)
	for i, in := range inputs {
		entries, err := p.Load(in.Config)
		if err != nil {
			return Desired{}, fmt.Errorf("%s: %w", in, err)
		}
		if loaded[i] = entries; len(entries) > 0 {
			filled = append(filled, i)
		}
	}
	if len(filled) == 1 {
		// One source with entries (a host key alone, or a group's config
		// with no host key): the merge is that config, which the policy has
		// just loaded as a whole. A fleet change costs each agent one load.
		in := inputs[filled[0]]
		for _, e := range loaded[filled[0]] {
			sources = append(sources, in.entrySource(e.Key()))
		}
		return Desired{Entries: loaded[filled[0]], Config: in.Config, Sources: sources, Groups: slices.Clone(groups), Inputs: slices.Clone(inputs)}, nil
	}
	for i, in := range inputs {
		entries := loaded[i]
		var rs []json.RawMessage
		if len(entries) > 0 {
			if err := json.Unmarshal(in.Config, &rs); err != nil || len(rs) != len(entries) {
				return Desired{}, fmt.Errorf("%s: entries do not match the JSON array (%v)", in, err)
			}
		}
		for k, e := range entries {
			key := e.Key()
			if j, dup := at[key]; dup {
				s := &sources[j]
				s.Shadowed = strings.TrimPrefix(s.Shadowed+", "+in.String(), ", ")
				continue
			}
			at[key] = len(sources)
			raws = append(raws, rs[k])
			sources = append(sources, in.entrySource(key))
		}
	}
	merged := []byte("[]")
	if len(raws) > 0 {
		var b bytes.Buffer
		b.WriteByte('[')
		for i, r := range raws {
			if i > 0 {
				b.WriteByte(',')
			}
			b.Write(r)
		}
		b.WriteByte(']')
		merged = b.Bytes()
	}
	entries, err := p.Load(merged)
	if err != nil {
		return Desired{}, fmt.Errorf("merged config of %d sources: %w", len(inputs), err)
	}
	return Desired{Entries: entries, Config: merged, Sources: sources, Groups: slices.Clone(groups), Inputs: slices.Clone(inputs)}, nil
}

// Same tells whether two desired configs run and report the same.
func (d *Desired) Same(o *Desired) bool {
	return bytes.Equal(d.Config, o.Config) && slices.Equal(d.Sources, o.Sources) && slices.Equal(d.Groups, o.Groups) &&
		slices.EqualFunc(d.Rejected, o.Rejected, func(a, b fleet.Rejected) bool {
			return a.Source == b.Source && a.Revision == b.Revision && a.Reason == b.Reason
		}) && slices.EqualFunc(d.Inputs, o.Inputs, func(a, b Source) bool {
		return a.Name == b.Name && a.Revision == b.Revision && a.Rollout == b.Rollout && a.Hash == b.Hash
	})
}
