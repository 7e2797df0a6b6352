package configsource

import (
	"bytes"
	"encoding/json"
	"fmt"

	"github.com/logcollect/logcollect/logagent/internal/collect"
	"github.com/logcollect/logcollect/pkg/fleet"
)

// cacheFormat marks the cache document, so a later layout can tell.
const cacheFormat = "logagent-collect-cache/1"

type cacheDoc struct {
	Format  string   `json:"format"`
	Sources []Source `json:"sources"`
}

// EncodeCache is what the agent keeps in data_dir to run when etcd is down
// at start: every source's config with its name and revision, so the
// status after such a start says honestly what runs.
func EncodeCache(d Desired) ([]byte, error) {
	return json.Marshal(cacheDoc{Format: cacheFormat, Sources: d.Inputs})
}

// FromCache rebuilds the desired config from a cache: EncodeCache's
// document, or a plain collect config (what agents before groups cached,
// taken as the host key's config at an unknown revision). Sources of
// groups the agent is no longer in are dropped, the others are put in the
// order of groups.
func FromCache(p collect.Policy, data []byte, groups []string) (Desired, error) {
	var doc cacheDoc
	trimmed := bytes.TrimSpace(data)
	if len(trimmed) == 0 || trimmed[0] != '{' {
		doc.Sources = []Source{{Name: fleet.SourceHost, Config: json.RawMessage(trimmed)}}
	} else if err := json.Unmarshal(trimmed, &doc); err != nil || doc.Format != cacheFormat {
		return Desired{}, fmt.Errorf("not a collect config cache (%q, %v)", doc.Format, err)
	}
	inputs := make([]Source, 0, 1+len(groups))
	states := make([]fleet.GroupState, 0, len(groups))
	byName := map[string]Source{}
	for _, s := range doc.Sources {
		byName[s.Name] = s
	}
	if s, ok := byName[fleet.SourceHost]; ok {
		inputs = append(inputs, s)
	}
	for _, g := range groups {
		s, ok := byName[fleet.GroupSource(g)]
		if !ok {
			s = Source{Name: fleet.GroupSource(g)}
		}
		inputs = append(inputs, s)
		states = append(states, groupState(g, s, ""))
	}
	return Merge(p, inputs, states)
}

// groupState is what an agent reports for group g running s.
func groupState(g string, s Source, rejected string) fleet.GroupState {
	return fleet.GroupState{Group: g, Revision: s.Revision, Rollout: s.Rollout, Hash: s.Hash, Rejected: rejected}
}
