package rollout

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"go.etcd.io/etcd/api/v3/mvccpb"
	clientv3 "go.etcd.io/etcd/client/v3"

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

	key string // its status key
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
	v := newStatusView(s)
	for _, kv := range kvs {
		v.put(string(kv.Key), kv.Value)
	}
	return v.all
}

// statusView is every agent's status as the controller last heard of it:
// one prefix read, then the events of a watch from that read's revision,
// applied as they come. A fleet of 10,000 is read once per rollout, not on
// every poll.
type statusView struct {
	keys StatusKeys
	stop context.CancelFunc
	done chan struct{} // closed when the watch has ended

	mu   sync.Mutex
	all  map[string]*Member // by host id
	host map[string]string  // status key → host id
	err  error              // why the watch ended
}

func newStatusView(s StatusKeys) *statusView {
	return &statusView{keys: s, all: make(map[string]*Member), host: make(map[string]string), stop: func() {}}
}

// put records the document at key; nil (a delete) or a document that
// names no agent forgets the key's agent. The caller holds mu or owns v.
func (v *statusView) put(key string, value []byte) {
	ip := v.keys.IP(key)
	if ip == "" {
		return
	}
	if id, ok := v.host[key]; ok {
		delete(v.host, key)
		if v.all[id] != nil && v.all[id].key == key {
			delete(v.all, id)
		}
	}
	var m Member
	if value == nil || json.Unmarshal(value, &m) != nil || m.HostID == "" {
		return
	}
	if m.IP == "" {
		m.IP = ip
	}
	m.key = key
	v.all[m.HostID], v.host[key] = &m, m.HostID
}

// follow applies the status prefix's events from rev+1 until stop, or
// until the watch ends (see broken).
func (v *statusView) follow(ctx context.Context, cli clientv3.Watcher, rev int64) {
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	v.stop, v.done = cancel, make(chan struct{})
	wch := cli.Watch(wctx, v.keys.Prefix, clientv3.WithPrefix(), clientv3.WithRev(rev+1))
	go func() {
		defer close(v.done)
		for wr := range wch {
			v.mu.Lock()
			if err := wr.Err(); err != nil {
				v.err = fmt.Errorf("status watch: %w", err)
			}
			for _, ev := range wr.Events {
				value := ev.Kv.Value
				if ev.Type == clientv3.EventTypeDelete {
					value = nil
				}
				v.put(string(ev.Kv.Key), value)
			}
			v.mu.Unlock()
			if wr.Err() != nil {
				cancel()
			}
		}
	}()
}

// broken says why the view can no longer be trusted (the watch ended: it
// was compacted, lost its leader or etcd closed it), or nil.
func (v *statusView) broken() error {
	select {
	case <-v.done:
		v.mu.Lock()
		defer v.mu.Unlock()
		if v.err != nil {
			return v.err
		}
		return errors.New("status watch closed")
	default:
		return nil
	}
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
