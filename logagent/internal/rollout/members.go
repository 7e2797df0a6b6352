package rollout

import (
	"encoding/json"
	"strings"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"

	"github.com/logcollect/logcollect/pkg/fleet"
)

// Member is what the controller reads of one agent's status document
// (fleet.Status): decoding only these fields keeps reading 10,000 of them
// quick.
type Member struct {
	HostID    string             `json:"host_id"`
	Host      string             `json:"hostname"`
	IP        string             `json:"ip"`
	UpdatedAt time.Time          `json:"updated_at"`
	Groups    []fleet.GroupState `json:"groups"`
	Health    fleet.Health       `json:"health"`
}

// Group is the member's state of group, or nil when it does not list it.
func (m *Member) Group(group string) *fleet.GroupState {
	for i := range m.Groups {
		if m.Groups[i].Group == group {
			return &m.Groups[i]
		}
	}
	return nil
}

// StatusKeys recognise the agents' status keys in a prefix read: the
// pattern's parts before and after the IP.
type StatusKeys struct{ Prefix, Suffix string }

// IP is the agent IP of a status key, or "" for another key under Prefix
// (a collect config, a group key).
func (s StatusKeys) IP(key string) string {
	ip, ok := strings.CutSuffix(strings.TrimPrefix(key, s.Prefix), s.Suffix)
	if !ok || !strings.HasPrefix(key, s.Prefix) || ip == "" || strings.Contains(ip, "/") {
		return ""
	}
	return ip
}

// agents decodes the status documents of kvs (a prefix read of
// StatusKeys.Prefix), keyed by host id; documents that do not decode or
// carry no host id are skipped (an agent too old to take part in rollouts
// is no member of any group).
func (s StatusKeys) agents(kvs []*mvccpb.KeyValue) map[string]*Member {
	out := make(map[string]*Member)
	for _, kv := range kvs {
		ip := s.IP(string(kv.Key))
		if ip == "" {
			continue
		}
		var m Member
		if json.Unmarshal(kv.Value, &m) != nil || m.HostID == "" {
			continue
		}
		if m.IP == "" {
			m.IP = ip
		}
		out[m.HostID] = &m
	}
	return out
}

// members are the agents of all that list group, by host id.
func members(all map[string]*Member, group string) map[string]*Member {
	out := make(map[string]*Member)
	for id, m := range all {
		if m.Group(group) != nil {
			out[id] = m
		}
	}
	return out
}
