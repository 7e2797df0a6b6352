package configsource

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/logcollect/logcollect/logagent/internal/collect"
	"github.com/logcollect/logcollect/pkg/backoff"
	"github.com/logcollect/logcollect/pkg/fleet"
)

// Client is what the watcher needs of etcd (*clientv3.Client is one).
type Client interface {
	clientv3.KV
	clientv3.Watcher
}

// Options configure a Watcher.
type Options struct {
	Client  Client
	HostKey string     // the agent's own collect key
	Keys    fleet.Keys // where group configs and rollouts live
	Groups  []string   // [agent] groups, in precedence order
	HostID  string     // what rollout waves hash
	Policy  collect.Policy
	Timeout time.Duration // of each read; 5s when 0
	Log     *slog.Logger
	// Initial are the sources the agent runs already (from its cache):
	// a source whose version in etcd is refused keeps running these.
	Initial []Source
	// Apply receives every new desired config, one at a time, in order.
	Apply func(Desired)
	// Reachable is told whether etcd answers (nil) or not; may be nil.
	Reachable func(error)
}

// MaxGroups bounds [agent] groups: the first read of every source is one
// etcd transaction (two reads per group, etcd allows 128 by default).
const MaxGroups = 32

// Watcher reads and watches the agent's sources; see Run.
type Watcher struct {
	o      Options
	host   keyState
	groups []*groupSource
	last   *Desired
	now    func() time.Time
}

// keyState is one config key: what etcd holds and the last version the
// policy accepted.
type keyState struct {
	name     string
	key      string
	raw      []byte
	rev      int64 // mod revision (0: absent; a delete's revision once deleted)
	loaded   bool  // raw at rev was judged
	good     Source
	rejected *fleet.Rejected // raw at rev was refused; good runs
}

type groupSource struct {
	name       string
	stable     keyState
	rollout    *fleet.Rollout
	rolloutRev int64
	rolloutErr string
	candidate  map[string]string // candidate hash → the policy's refusal ("" accepted); one entry kept
}

// New validates the options.
func New(o Options) (*Watcher, error) {
	if o.Client == nil || o.Apply == nil || o.Log == nil {
		return nil, errors.New("configsource: Client, Apply and Log are required")
	}
	if o.HostKey == "" || strings.Count(o.Keys.CollectPattern, "%s") != 1 {
		return nil, fmt.Errorf("configsource: host key %q and a collect key pattern with one %%s (%q) are required", o.HostKey, o.Keys.CollectPattern)
	}
	if len(o.Groups) > MaxGroups {
		return nil, fmt.Errorf("configsource: %d groups, at most %d", len(o.Groups), MaxGroups)
	}
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Second
	}
	w := &Watcher{o: o, now: time.Now}
	w.host = keyState{name: fleet.SourceHost, key: o.HostKey, good: Source{Name: fleet.SourceHost}}
	for _, g := range o.Groups {
		if err := fleet.CheckGroup(g); err != nil {
			return nil, fmt.Errorf("configsource: %w", err)
		}
		if slices.ContainsFunc(w.groups, func(s *groupSource) bool { return s.name == g }) {
			return nil, fmt.Errorf("configsource: group %q twice", g)
		}
		name := fleet.GroupSource(g)
		w.groups = append(w.groups, &groupSource{name: g, stable: keyState{name: name, key: o.Keys.GroupConfig(g), good: Source{Name: name}}})
	}
	for _, in := range o.Initial {
		if in.Rollout != "" {
			continue // a candidate is not the group's last good stable config
		}
		if in.Name == fleet.SourceHost {
			w.host.good = in
		}
		for _, g := range w.groups {
			if in.Name == g.stable.name {
				g.stable.good = in
			}
		}
	}
	return w, nil
}

// Run reads every source in one transaction, emits the desired config,
// and watches the sources from the revision read, so no change is missed;
// on compaction or any error it reads again after a backoff. Collection
// goes on with the current config meanwhile. It returns when ctx is done.
func (w *Watcher) Run(ctx context.Context) error {
	bo := backoff.Backoff{Min: 200 * time.Millisecond, Max: 15 * time.Second}
	for ctx.Err() == nil {
		rev, err := w.read(ctx)
		if err != nil {
			if ctx.Err() != nil {
				break
			}
			w.reachable(err)
			w.o.Log.Warn("read collect config from etcd; retrying, collecting with the current config meanwhile", "key", w.o.HostKey, "groups", w.o.Groups, "err", err)
			bo.Wait(ctx)
			continue
		}
		w.reachable(nil)
		bo.Reset()
		w.emit()
		err = w.watch(ctx, rev)
		if ctx.Err() != nil {
			break
		}
		w.reachable(err)
		w.o.Log.Warn("etcd watch interrupted; reading the collect config again", "err", err)
		bo.Wait(ctx)
	}
	return nil
}

func (w *Watcher) reachable(err error) {
	if w.o.Reachable != nil {
		w.o.Reachable(err)
	}
}

// read gets the host key and every group's config and rollout at one
// revision. The reads are serializable: the member answers from what it
// has applied, without a round of consensus (a fleet starting at once
// costs etcd little), and the watch from that revision delivers whatever
// came after, so nothing is missed.
func (w *Watcher) read(ctx context.Context) (int64, error) {
	get := func(key string) clientv3.Op { return clientv3.OpGet(key, clientv3.WithSerializable()) }
	ops := []clientv3.Op{get(w.host.key)}
	for _, g := range w.groups {
		ops = append(ops, get(g.stable.key), get(w.o.Keys.Rollout(g.name)))
	}
	tctx, cancel := context.WithTimeout(ctx, w.o.Timeout)
	resp, err := w.o.Client.Txn(tctx).Then(ops...).Commit()
	cancel()
	if err != nil {
		return 0, err
	}
	value := func(i int) (value []byte, rev int64) {
		kvs := resp.Responses[i].GetResponseRange().GetKvs()
		if len(kvs) == 0 {
			return nil, 0
		}
		return kvs[0].Value, kvs[0].ModRevision
	}
	w.host.set(value(0))
	for i, g := range w.groups {
		g.stable.set(value(1 + 2*i))
		g.setRollout(value(2 + 2*i))
	}
	return resp.Header.Revision, nil
}

// watch follows every source from rev+1 until an error: one watch on the
// host key and one per group (its keys share a prefix, so a transaction
// that changes a group's config and its rollout arrives as one response).
func (w *Watcher) watch(ctx context.Context, rev int64) error {
	wctx, cancel := context.WithCancel(clientv3.WithRequireLeader(ctx))
	defer cancel()
	type resp struct {
		wr  clientv3.WatchResponse
		end bool
	}
	ch := make(chan resp)
	follow := func(key string, opts ...clientv3.OpOption) {
		for wr := range w.o.Client.Watch(wctx, key, append(opts, clientv3.WithRev(rev+1))...) {
			select {
			case ch <- resp{wr: wr}:
			case <-wctx.Done():
				return
			}
		}
		select {
		case ch <- resp{end: true}:
		case <-wctx.Done():
		}
	}
	go follow(w.host.key)
	for _, g := range w.groups {
		prefix := w.o.Keys.Group(g.name)
		go follow(prefix, clientv3.WithPrefix())
		if !strings.HasPrefix(g.stable.key, prefix) { // a collect pattern without a '/' after %s
			go follow(g.stable.key)
		}
	}
	for {
		var r resp
		select {
		case r = <-ch:
		case <-ctx.Done():
			return ctx.Err()
		}
		if r.end {
			return errors.New("watch closed")
		}
		if err := r.wr.Err(); err != nil {
			if r.wr.CompactRevision != 0 {
				return fmt.Errorf("watch compacted at revision %d: %w", r.wr.CompactRevision, err)
			}
			return err
		}
		for _, ev := range r.wr.Events {
			w.event(ev)
		}
		w.emit()
	}
}

func (w *Watcher) event(ev *clientv3.Event) {
	value, rev := ev.Kv.Value, ev.Kv.ModRevision
	if ev.Type == clientv3.EventTypeDelete {
		value = nil
	}
	key := string(ev.Kv.Key)
	if key == w.host.key {
		w.host.set(value, rev)
	}
	for _, g := range w.groups {
		switch key {
		case g.stable.key:
			g.stable.set(value, rev)
		case w.o.Keys.Rollout(g.name):
			if ev.Type == clientv3.EventTypeDelete {
				rev = 0
			}
			g.setRollout(value, rev)
		}
	}
}

func (k *keyState) set(value []byte, rev int64) {
	if rev == k.rev && k.loaded {
		return
	}
	k.raw, k.rev, k.loaded = value, rev, false
}

// judge loads a new version with the policy: accepted, it is the source's
// good version; refused, the previous good version stays.
func (k *keyState) judge(p collect.Policy, now time.Time) {
	if k.loaded {
		return
	}
	k.loaded = true
	if _, err := p.Load(k.raw); err != nil {
		k.rejected = &fleet.Rejected{Source: k.name, Revision: k.rev, Reason: err.Error(), At: now.UTC()}
		return
	}
	k.rejected = nil
	k.good = Source{Name: k.name, Revision: k.rev, Config: json.RawMessage(k.raw)}
}

func (g *groupSource) setRollout(value []byte, rev int64) {
	if rev == g.rolloutRev && (rev != 0 || g.rollout == nil) {
		return
	}
	g.rolloutRev, g.rollout, g.rolloutErr = rev, nil, ""
	if value == nil {
		return
	}
	var r fleet.Rollout
	if err := json.Unmarshal(value, &r); err != nil {
		g.rolloutErr = fmt.Sprintf("rollout document at revision %d is not valid JSON (%v); running the stable config", rev, err)
		return
	}
	r.Group = g.name // the key names the group; waves hash it
	if r.Hash == "" {
		r.Hash = fleet.ConfigHash(r.Candidate)
	}
	g.rollout = &r
}

// candidateVerdict loads a selected rollout's candidate once per hash.
func (g *groupSource) candidateVerdict(p collect.Policy) string {
	r := g.rollout
	if why, ok := g.candidate[r.Hash]; ok {
		return why
	}
	why := ""
	if _, err := p.Load(r.Candidate); err != nil {
		why = fmt.Sprintf("rollout %s candidate %s: %v", r.ID, r.Hash, err)
	}
	g.candidate = map[string]string{r.Hash: why}
	return why
}

// desired judges what changed and merges the sources.
func (w *Watcher) desired() (Desired, error) {
	now := w.now()
	var rejected []fleet.Rejected
	w.host.judge(w.o.Policy, now)
	if w.host.rejected != nil {
		rejected = append(rejected, *w.host.rejected)
	}
	inputs := []Source{w.host.good}
	states := make([]fleet.GroupState, 0, len(w.groups))
	for _, g := range w.groups {
		g.stable.judge(w.o.Policy, now)
		stable := g.stable.good
		st := fleet.GroupState{Group: g.name, Revision: stable.Revision}
		if g.stable.rejected != nil {
			rejected = append(rejected, *g.stable.rejected)
			st.Rejected = g.stable.rejected.Reason
		}
		src := stable
		switch r := g.rollout; {
		case g.rolloutErr != "": // a controller's bug: shown, never guessed at
			rejected = append(rejected, fleet.Rejected{Source: g.stable.name, Revision: g.rolloutRev, Reason: g.rolloutErr, At: now.UTC()})
			st.Rejected = g.rolloutErr
		case r.Selects(w.o.HostID):
			if why := g.candidateVerdict(w.o.Policy); why != "" {
				st = fleet.GroupState{Group: g.name, Revision: stable.Revision, Rollout: r.ID, Hash: r.Hash, Rejected: why}
				rejected = append(rejected, fleet.Rejected{Source: g.stable.name, Revision: g.rolloutRev, Reason: why, At: now.UTC()})
			} else {
				src = Source{Name: g.stable.name, Rollout: r.ID, Hash: r.Hash, Config: r.Candidate}
				st = fleet.GroupState{Group: g.name, Rollout: r.ID, Hash: r.Hash}
			}
		}
		inputs = append(inputs, src)
		states = append(states, st)
	}
	d, err := Merge(w.o.Policy, inputs, states)
	d.Rejected = rejected
	return d, err
}

// emit hands the desired config to Apply when it differs from the last.
func (w *Watcher) emit() {
	d, err := w.desired()
	if err != nil {
		// Each source passed the policy alone and duplicates are resolved,
		// so this is a rule across entries the merge does not know yet.
		w.o.Log.Error("merged collect config rejected; the last good config keeps running", "err", err)
		return
	}
	if w.last != nil && w.last.Same(&d) {
		return
	}
	w.last = &d
	w.o.Apply(d)
}
