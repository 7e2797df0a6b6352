package statuspub

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/logcollect/logcollect/devkit/testkit"
	kt "github.com/logcollect/logcollect/logagent/internal/testutil"
	"github.com/logcollect/logcollect/pkg/fleet"
	"github.com/logcollect/logcollect/pkg/logging"
)

// doc is a status the test changes under a lock.
type doc struct {
	mu   sync.Mutex
	st   fleet.Status
	fast bool
}

// get is a snapshot the test's later changes do not reach, as the agent's
// are (a fresh document each time).
func (d *doc) get() fleet.Status {
	d.mu.Lock()
	defer d.mu.Unlock()
	st := d.st
	st.Files, st.Groups = slices.Clone(st.Files), slices.Clone(st.Groups)
	return st
}
func (d *doc) isFast() bool { d.mu.Lock(); defer d.mu.Unlock(); return d.fast }
func (d *doc) set(f func(*fleet.Status)) {
	d.mu.Lock()
	defer d.mu.Unlock()
	f(&d.st)
}

// An idle agent writes its status once; lag alone is written only after
// the refresh period (at every interval while a candidate runs); a real
// change is written at the next check; a stop deletes the key.
func TestWritesOnChange(t *testing.T) {
	e := testkit.StartEtcd(t, testkit.EtcdOptions{})
	cli := kt.EtcdClient(t, clientv3.Config{Endpoints: []string{e.Endpoint()}})
	d := &doc{st: fleet.Status{Hostname: "h", Config: fleet.ConfigStatus{State: fleet.ConfigApplied, Revision: 3},
		Files: []fleet.FileStatus{{Path: "/var/log/a.log", Topic: "t", Offset: 10, Size: 10}}}}
	var writes atomic.Int64
	var timesMu sync.Mutex
	var times []time.Time // of each write
	const interval, refresh = 50 * time.Millisecond, 1500 * time.Millisecond
	p, err := New(Options{Client: cli, Key: "/logagent/10.0.0.1/status", TTL: 5 * time.Second, Interval: interval, Refresh: refresh,
		Snapshot: func() fleet.Status { st := d.get(); st.UpdatedAt = time.Now(); return st }, Fast: d.isFast, Log: logging.Discard(),
		Written: func() { timesMu.Lock(); times = append(times, time.Now()); timesMu.Unlock(); writes.Add(1) }})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); p.Run(ctx) }()
	defer func() { cancel(); <-done }()

	waitWrites := func(what string, n int64, within time.Duration) {
		t.Helper()
		deadline := time.Now().Add(within)
		for writes.Load() < n {
			if time.Now().After(deadline) {
				t.Fatalf("%s: %d writes, want %d within %s", what, writes.Load(), n, within)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	waitWrites("first write", 1, 5*time.Second)
	time.Sleep(20 * interval) // twenty checks of an idle agent
	if n := writes.Load(); n != 1 {
		t.Fatalf("idle agent wrote %d times, want 1", n)
	}

	// Lag alone: not before the refresh period since the last write, then
	// once.
	d.set(func(st *fleet.Status) { st.Files[0].Size, st.Files[0].Lag, st.TotalLag, st.Health.Lag = 30, 20, 20, 20 })
	waitWrites("lag refresh", 2, 2*refresh)
	timesMu.Lock()
	if gap := times[1].Sub(times[0]); gap < refresh {
		t.Errorf("lag written %s after the previous write, before the refresh period %s", gap, refresh)
	}
	timesMu.Unlock()
	time.Sleep(10 * interval)
	if n := writes.Load(); n != 2 {
		t.Errorf("unchanged after the lag refresh: %d writes, want 2", n)
	}

	// A change an operator acts on: at the next check.
	d.set(func(st *fleet.Status) { st.Groups = []fleet.GroupState{{Group: "web", Revision: 9}} })
	start := time.Now()
	waitWrites("group change", 3, time.Second)
	if el := time.Since(start); el > refresh/2 {
		t.Errorf("a change took %s", el)
	}

	// A candidate runs: lag is written at every interval.
	d.set(func(st *fleet.Status) { st.Groups[0] = fleet.GroupState{Group: "web", Rollout: "r1", Hash: "abc"} })
	d.mu.Lock()
	d.fast = true
	d.mu.Unlock()
	waitWrites("candidate", 4, time.Second)
	for i := int64(1); i <= 3; i++ {
		d.set(func(st *fleet.Status) { st.Health.Lag += 5 })
		waitWrites("fast lag", 4+i, 10*interval)
	}

	resp, err := cli.Get(context.Background(), "/logagent/10.0.0.1/status")
	if err != nil || len(resp.Kvs) != 1 || resp.Kvs[0].Version != writes.Load() {
		t.Fatalf("status key: %v %v, want version %d", resp, err, writes.Load())
	}
	cancel()
	<-done
	if resp, err := cli.Get(context.Background(), "/logagent/10.0.0.1/status"); err != nil || len(resp.Kvs) != 0 {
		t.Errorf("status key after stop: %v %v", resp, err)
	}
}

// The keys: positions and lag do not change the signature; files in
// another order neither; a file more does.
func TestKeys(t *testing.T) {
	a := fleet.Status{Files: []fleet.FileStatus{{Path: "/b", Lag: 5, Size: 10, Offset: 5}, {Path: "/a"}}, TotalLag: 5, Health: fleet.Health{Lag: 5}}
	b := fleet.Status{Files: []fleet.FileStatus{{Path: "/a", Size: 3, Offset: 1, Lag: 2}, {Path: "/b"}}, TotalLag: 2, Health: fleet.Health{Lag: 2}, UpdatedAt: time.Now()}
	sa, _ := sigKey(a)
	sb, _ := sigKey(b)
	da, _ := docKey(a)
	db, _ := docKey(b)
	if string(sa) != string(sb) || string(da) == string(db) {
		t.Errorf("signatures %s / %s", sa, sb)
	}
	b.Files = append(b.Files, fleet.FileStatus{Path: "/c"})
	if sc, _ := sigKey(b); string(sc) == string(sa) {
		t.Error("a new file did not change the signature")
	}
}

// flakyKeepAlive is a real client whose first keep-alive ends at once, as
// the etcd client ends one whose first answer is late.
type flakyKeepAlive struct {
	*clientv3.Client
	grants, keepAlives atomic.Int64
}

func (f *flakyKeepAlive) Grant(ctx context.Context, ttl int64) (*clientv3.LeaseGrantResponse, error) {
	f.grants.Add(1)
	return f.Client.Grant(ctx, ttl)
}

func (f *flakyKeepAlive) KeepAlive(ctx context.Context, id clientv3.LeaseID) (<-chan *clientv3.LeaseKeepAliveResponse, error) {
	if f.keepAlives.Add(1) == 1 {
		ch := make(chan *clientv3.LeaseKeepAliveResponse)
		close(ch)
		return ch, nil
	}
	return f.Client.KeepAlive(ctx, id)
}

// A keep-alive that ends while the lease lives keeps the lease: no second
// grant, the status stays attached to the first lease.
func TestKeepAliveEndedLeaseKept(t *testing.T) {
	e := testkit.StartEtcd(t, testkit.EtcdOptions{})
	cli := &flakyKeepAlive{Client: kt.EtcdClient(t, clientv3.Config{Endpoints: []string{e.Endpoint()}})}
	const key = "/logagent/10.0.0.2/status"
	p, err := New(Options{Client: cli, Key: key, TTL: 5 * time.Second, Interval: 50 * time.Millisecond, Refresh: time.Second,
		Snapshot: func() fleet.Status { return fleet.Status{Hostname: "h"} }, Log: logging.Discard()})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); p.Run(ctx) }()
	defer func() { cancel(); <-done }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := cli.Get(context.Background(), key)
		if err == nil && len(resp.Kvs) == 1 && cli.keepAlives.Load() >= 2 {
			ttl, err := cli.TimeToLive(context.Background(), clientv3.LeaseID(resp.Kvs[0].Lease))
			if err != nil || ttl.TTL <= 0 {
				t.Fatalf("status lease: %v %v", ttl, err)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no status on a kept lease: keep-alives %d, %v", cli.keepAlives.Load(), err)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if n := cli.grants.Load(); n != 1 {
		t.Errorf("%d leases granted, want 1", n)
	}
}

// A config change kicks every publisher at once: their writes land spread
// over Spread, not as one burst; a publisher a rollout selected (Fast)
// writes at once, as its gate waits for it.
func TestKickedWritesSpread(t *testing.T) {
	e := testkit.StartEtcd(t, testkit.EtcdOptions{})
	cli := kt.EtcdClient(t, clientv3.Config{Endpoints: []string{e.Endpoint()}})
	const n, spread = 20, 1500 * time.Millisecond
	type pub struct {
		d       *doc
		kick    chan struct{}
		mu      sync.Mutex
		written []time.Time
	}
	pubs := make([]*pub, n)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer func() { cancel(); wg.Wait() }()
	for i := range pubs {
		p := &pub{d: &doc{st: fleet.Status{Hostname: "h", Config: fleet.ConfigStatus{Revision: 1}}, fast: i == 0}, kick: make(chan struct{}, 1)}
		pubs[i] = p
		pp, err := New(Options{Client: cli, Key: fmt.Sprintf("/logagent/10.0.1.%d/status", i), TTL: 5 * time.Second, Interval: time.Minute, Refresh: time.Minute,
			Spread: spread, Snapshot: p.d.get, Fast: p.d.isFast, Kick: p.kick, Log: logging.Discard(),
			Written: func() { p.mu.Lock(); p.written = append(p.written, time.Now()); p.mu.Unlock() }})
		if err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() { defer wg.Done(); pp.Run(ctx) }()
		p.kick <- struct{}{} // the first write: at once, spread or not
	}
	count := func(p *pub) int { p.mu.Lock(); defer p.mu.Unlock(); return len(p.written) }
	kt.Poll(t, "every first write", 10*time.Second, func() bool {
		for _, p := range pubs {
			if count(p) < 1 {
				return false
			}
		}
		return true
	})

	kicked := time.Now()
	for _, p := range pubs {
		p.d.set(func(st *fleet.Status) { st.Config.Revision = 2 })
		p.kick <- struct{}{}
	}
	kt.Poll(t, "every change written", 10*time.Second, func() bool {
		for _, p := range pubs {
			if count(p) < 2 {
				return false
			}
		}
		return true
	})
	var late []time.Duration
	for i, p := range pubs {
		p.mu.Lock()
		after := p.written[1].Sub(kicked)
		p.mu.Unlock()
		if i == 0 {
			if after > spread/3 {
				t.Errorf("the rollout's target wrote %s after the kick, want at once", after)
			}
			continue
		}
		if after > spread+time.Second {
			t.Errorf("publisher %d wrote %s after the kick, beyond the spread %s", i, after, spread)
		}
		late = append(late, after)
	}
	slices.Sort(late)
	// 19 uniform delays over 1.5 s: the last is almost surely past a
	// quarter of it and the first before three quarters.
	if late[len(late)-1] < spread/4 || late[0] > spread*3/4 {
		t.Errorf("writes not spread over %s: first %s, last %s", spread, late[0], late[len(late)-1])
	}
}
