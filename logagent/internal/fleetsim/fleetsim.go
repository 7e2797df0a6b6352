// Package fleetsim runs many simulated agents in one process for the fleet
// benchmark: each runs the agent's real config source (host key, groups,
// rollouts: configsource) and status publisher (statuspub), with its own
// host id, IP and lease, but tails nothing. Agents share a pool of etcd
// clients, as hosts behind one connection each would share etcd's
// capacity. Every desired config an agent applies is reported as an Event.
package fleetsim

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/logcollect/logcollect/logagent/internal/collect"
	"github.com/logcollect/logcollect/logagent/internal/configsource"
	"github.com/logcollect/logcollect/logagent/internal/statuspub"
	"github.com/logcollect/logcollect/pkg/buildinfo"
	"github.com/logcollect/logcollect/pkg/fleet"
)

// Options configure a simulated fleet.
type Options struct {
	Clients []*clientv3.Client // the pool; agent i uses Clients[i%len]
	Agents  int
	First   int // index of the first agent, so several processes can share a fleet
	Groups  []string
	// CollectPattern and StatusPattern are the agents' keys, with %s for
	// the IP ([etcd] collect_log_key and the status key pattern).
	CollectPattern, StatusPattern  string
	Policy                         collect.Policy
	TTL, Interval, Refresh, Spread time.Duration // [etcd] status_ttl, status_interval, status_refresh, status_spread
	Timeout                        time.Duration
	// Ramp spreads the agents' starts over this time (real hosts do not
	// start in the same millisecond); 0 starts them all at once.
	Ramp time.Duration
	Log  *slog.Logger
	// Applied hears of every desired config an agent applies (called
	// concurrently).
	Applied func(Event)
}

// Event is one simulated agent applying a desired config.
type Event struct {
	HostID string             `json:"host_id"`
	IP     string             `json:"ip"`
	At     time.Time          `json:"at"`
	Host   int64              `json:"host_revision"`
	Groups []fleet.GroupState `json:"groups"`
}

// Identity of simulated agent i: host id sim-000042 and an IP in 10/8.
func Identity(i int) (hostID, ip string) {
	return fmt.Sprintf("sim-%06d", i), fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255)
}

// Run runs the agents until ctx is done; the statuses are revoked on the
// way out.
func Run(ctx context.Context, o Options) error {
	if len(o.Clients) == 0 || o.Agents <= 0 || o.Log == nil {
		return errors.New("fleetsim: clients, agents and a log are required")
	}
	start := time.Now()
	var agents []*agent
	for i := o.First; i < o.First+o.Agents; i++ {
		a, err := newAgent(o, i)
		if err != nil {
			return err
		}
		agents = append(agents, a)
	}
	var wg sync.WaitGroup
	for i, a := range agents {
		wg.Add(2)
		go func() { defer wg.Done(); a.src.Run(ctx) }()
		go func() { defer wg.Done(); a.pub.Run(ctx) }()
		if next := o.Ramp * time.Duration(i+1) / time.Duration(len(agents)); o.Ramp > 0 {
			select {
			case <-time.After(time.Until(start.Add(next))):
			case <-ctx.Done():
			}
		}
	}
	wg.Wait()
	return nil
}

// agent is one simulated agent: what it runs, as the real agent's status
// reports it.
type agent struct {
	hostID, ip string
	started    time.Time
	src        *configsource.Watcher
	pub        *statuspub.Publisher
	kick       chan struct{}

	mu      sync.Mutex
	desired *configsource.Desired
	applied time.Time
	before  int // entries of the config before (-1: none): what "files matched" stands for without files
}

func newAgent(o Options, i int) (*agent, error) {
	a := &agent{started: time.Now().UTC(), kick: make(chan struct{}, 1), before: -1}
	a.hostID, a.ip = Identity(i)
	cli := o.Clients[i%len(o.Clients)]
	var err error
	a.src, err = configsource.New(configsource.Options{Client: cli, HostKey: fmt.Sprintf(o.CollectPattern, a.ip), Keys: fleet.Keys{CollectPattern: o.CollectPattern},
		Groups: o.Groups, HostID: a.hostID, Policy: o.Policy, Timeout: o.Timeout, Log: o.Log,
		Apply: func(d configsource.Desired) {
			now := time.Now()
			a.mu.Lock()
			if a.desired != nil {
				a.before = len(a.desired.Entries)
			}
			a.desired, a.applied = &d, now.UTC()
			a.mu.Unlock()
			select {
			case a.kick <- struct{}{}:
			default:
			}
			if o.Applied != nil {
				o.Applied(Event{HostID: a.hostID, IP: a.ip, At: now, Host: d.Host(), Groups: d.Groups})
			}
		}})
	if err != nil {
		return nil, err
	}
	a.pub, err = statuspub.New(statuspub.Options{Client: cli, Key: fmt.Sprintf(o.StatusPattern, a.ip), TTL: o.TTL, Interval: o.Interval, Refresh: o.Refresh,
		Timeout: o.Timeout, Snapshot: a.snapshot, Fast: a.selected, Spread: o.Spread, Kick: a.kick, Log: o.Log})
	return a, err
}

// snapshot is the status document the agent would publish, without files:
// each entry stands for one matched file.
func (a *agent) snapshot() fleet.Status {
	st := fleet.Status{Version: buildinfo.Version, Revision: buildinfo.Revision(), GoVersion: runtime.Version(), Hostname: a.hostID, IP: a.ip, HostID: a.hostID,
		PID: os.Getpid(), StartedAt: a.started, UpdatedAt: time.Now().UTC(), Config: fleet.ConfigStatus{State: fleet.ConfigNone}, Files: []fleet.FileStatus{}}
	a.mu.Lock()
	defer a.mu.Unlock()
	if d := a.desired; d != nil {
		st.Config = fleet.ConfigStatus{State: fleet.ConfigApplied, Source: "etcd", Revision: d.Host(), Entries: len(d.Entries), AppliedAt: a.applied}
		if len(d.Rejected) > 0 {
			r := d.Rejected[0]
			st.Config.State, st.Config.Rejected = fleet.ConfigRejected, &r
		}
		st.Groups, st.Sources = d.Groups, d.Sources
		st.Health = fleet.Health{FilesMatched: len(d.Entries), FilesMatchedBefore: a.before}
	}
	return st
}

func (a *agent) selected() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.desired != nil && a.desired.InRollout()
}
