// Package statuspub keeps an agent's fleet status document in etcd: at its
// status key, attached to a lease it keeps alive, so the key disappears by
// itself when the agent dies (the lease expires after the TTL) and at once
// on a clean stop (the lease is revoked). Liveness is the keep-alive, not
// the writes: the document is written when it changes. It knows nothing of
// tailing, so the fleet benchmark runs thousands of publishers in one
// process.
package statuspub

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"math/rand/v2"
	"slices"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/logcollect/logcollect/pkg/backoff"
	"github.com/logcollect/logcollect/pkg/fleet"
)

// Client is what the publisher needs of etcd (*clientv3.Client is one).
type Client interface {
	clientv3.KV
	clientv3.Lease
}

// Options configure a Publisher.
type Options struct {
	Client Client
	Key    string
	TTL    time.Duration // of the lease ([etcd] status_ttl)
	// Interval is how often the document is assembled and compared
	// ([etcd] status_interval); Refresh how often a change of lag or
	// positions alone is written ([etcd] status_refresh), or Interval while
	// Fast says so (a rollout's candidate runs: its gate watches lag).
	Interval, Refresh time.Duration
	// Spread delays a write asked for by Kick by a random part of itself
	// ([etcd] status_spread), unless Fast: a change that reaches a whole
	// fleet at once then reaches etcd as writes spread over this time, not
	// as one burst. 0 writes at once.
	Spread   time.Duration
	Timeout  time.Duration // of each request; 5s when 0
	Snapshot func() fleet.Status
	Fast     func() bool     // may be nil
	Kick     <-chan struct{} // "something changed": compare now; may be nil
	Log      *slog.Logger
	Explain  func(error) error // decorates errors in the log; may be nil
	Written  func()            // after each successful write; may be nil
}

// Publisher publishes one status document; see Run.
type Publisher struct {
	o Options
}

// New validates the options.
func New(o Options) (*Publisher, error) {
	if o.Client == nil || o.Snapshot == nil || o.Log == nil || o.Key == "" {
		return nil, errors.New("statuspub: Client, Key, Snapshot and Log are required")
	}
	if o.TTL < time.Second || o.Interval <= 0 || o.Refresh < o.Interval || o.Spread < 0 {
		return nil, fmt.Errorf("statuspub: TTL %s (at least 1s), Interval %s, Refresh %s (at least Interval) and Spread %s (not negative)", o.TTL, o.Interval, o.Refresh, o.Spread)
	}
	if o.Timeout <= 0 {
		o.Timeout = 5 * time.Second
	}
	if o.Explain == nil {
		o.Explain = func(err error) error { return err }
	}
	return &Publisher{o: o}, nil
}

// Run publishes until ctx is done, then revokes the lease, which deletes
// the key. Every failure is retried with backoff; a lost lease (etcd
// unreachable for longer than the TTL) is granted again.
func (p *Publisher) Run(ctx context.Context) {
	o := p.o
	ttl := int64(math.Ceil(o.TTL.Seconds()))
	bo := backoff.Backoff{Min: 200 * time.Millisecond, Max: 15 * time.Second}
	failing := false
	fail := func(what string, err error) {
		if !failing && ctx.Err() == nil {
			o.Log.Warn("fleet status: "+what+"; retrying, collection goes on", "key", o.Key, "err", o.Explain(err))
		}
		failing = true
		bo.Wait(ctx)
	}
	var lease clientv3.LeaseID // 0: none yet, or lost
	for ctx.Err() == nil {
		if lease == 0 {
			gctx, cancel := context.WithTimeout(ctx, o.Timeout)
			resp, err := o.Client.Grant(gctx, ttl)
			cancel()
			if err != nil {
				fail("grant lease", err)
				continue
			}
			lease = resp.ID
		}
		kctx, kcancel := context.WithCancel(ctx)
		ka, err := o.Client.KeepAlive(kctx, lease)
		if err != nil {
			kcancel()
			lease = p.alive(ctx, lease)
			fail("keep lease alive", err)
			continue
		}
		published, err := p.keep(ctx, lease, ka)
		kcancel()
		if published {
			failing = false // a later outage is logged again
			bo.Reset()
		}
		if ctx.Err() != nil {
			p.remove(lease)
			return
		}
		// The client ends a keep-alive whose first answer is late (an
		// overloaded etcd, a whole fleet starting): a lease that still
		// lives is kept, rather than granting another and orphaning it.
		if lease = p.alive(ctx, lease); lease != 0 {
			o.Log.Debug("fleet status: keep-alive interrupted, the lease lives on", "key", o.Key, "err", err)
			bo.Wait(ctx)
			continue
		}
		fail("lease lost", err)
	}
}

// alive returns lease if etcd says it has time to live, else 0.
func (p *Publisher) alive(ctx context.Context, lease clientv3.LeaseID) clientv3.LeaseID {
	tctx, cancel := context.WithTimeout(ctx, p.o.Timeout)
	defer cancel()
	resp, err := p.o.Client.TimeToLive(tctx, lease)
	if err != nil || resp.TTL <= 0 {
		return 0
	}
	return lease
}

// keep writes the document at the first check, then whenever it changes,
// until ctx is done or the lease is lost; published tells whether a write
// succeeded.
// Every Interval (and when kicked) the document is assembled locally and
// written only if something an operator acts on changed (config, groups,
// sources, health counts, the latest error, the set of files); lag and
// positions alone are written every Refresh (Interval while Fast). Idle
// agents then write nothing at all.
func (p *Publisher) keep(ctx context.Context, lease clientv3.LeaseID, ka <-chan *clientv3.LeaseKeepAliveResponse) (published bool, err error) {
	o := p.o
	tick := time.NewTicker(o.Interval)
	defer tick.Stop()
	var lastSig, lastDoc []byte
	var lastWrite time.Time
	// The first write waits for the first check or kick: an agent starting
	// reads its config at the same moment, and one write with the config
	// applied is worth more than two (a fleet starting at once).
	for {
		kicked, err := p.wait(ctx, tick.C, o.Kick, ka)
		if err != nil {
			return published, err
		}
		if kicked && published && o.Spread > 0 && (o.Fast == nil || !o.Fast()) {
			if err := p.sleep(ctx, rand.N(o.Spread), ka); err != nil {
				return published, err
			}
		}
		st := o.Snapshot()
		doc, err := docKey(st)
		if err != nil {
			return published, fmt.Errorf("encode status: %w", err)
		}
		if published && bytes.Equal(doc, lastDoc) {
			continue // nothing at all changed: most checks of most agents
		}
		sig, err := sigKey(st)
		if err != nil {
			return published, fmt.Errorf("encode status: %w", err)
		}
		refresh := o.Refresh
		if o.Fast != nil && o.Fast() {
			refresh = o.Interval
		}
		due := time.Since(lastWrite) >= refresh && !bytes.Equal(doc, lastDoc)
		if !published || !bytes.Equal(sig, lastSig) || due {
			data, err := json.Marshal(st)
			if err != nil {
				return published, fmt.Errorf("encode status: %w", err)
			}
			pctx, cancel := context.WithTimeout(ctx, o.Timeout)
			_, err = o.Client.Put(pctx, o.Key, string(data), clientv3.WithLease(lease))
			cancel()
			switch {
			case ctx.Err() != nil:
				return published, ctx.Err()
			case errors.Is(err, rpctypes.ErrLeaseNotFound):
				return published, err
			case err != nil:
				if !published {
					return false, err
				}
				// A transient failure: the lease may well outlive it.
				o.Log.Debug("fleet status write failed; next interval retries", "err", err)
			default:
				lastSig, lastDoc, lastWrite = sig, doc, time.Now()
				if !published {
					published = true
					o.Log.Info("fleet status published", "key", o.Key, "ttl", o.TTL, "refresh", o.Refresh)
				}
				if o.Written != nil {
					o.Written()
				}
			}
		}
	}
}

// wait returns at the next tick or kick (kicked), or with an error when
// ctx is done or the lease is lost; the lease's keep-alive answers are
// drained meanwhile. A nil kick never comes.
func (p *Publisher) wait(ctx context.Context, tick <-chan time.Time, kick <-chan struct{}, ka <-chan *clientv3.LeaseKeepAliveResponse) (kicked bool, err error) {
	for {
		select {
		case <-ctx.Done():
			return false, ctx.Err()
		case _, ok := <-ka:
			if !ok {
				return false, errors.New("keep-alive ended (etcd unreachable for longer than status_ttl)")
			}
		case <-tick:
			return false, nil
		case <-kick:
			return true, nil
		}
	}
}

// sleep waits d as wait does, heeding no kick.
func (p *Publisher) sleep(ctx context.Context, d time.Duration, ka <-chan *clientv3.LeaseKeepAliveResponse) error {
	t := time.NewTimer(d)
	defer t.Stop()
	_, err := p.wait(ctx, t.C, nil, ka)
	return err
}

// docKey and sigKey encode what decides a write: doc is the document
// without the time; sig the document without what moves all the time too
// (positions, sizes, lag, processor counts; files in path order).
func docKey(st fleet.Status) ([]byte, error) {
	st.UpdatedAt = time.Time{}
	return json.Marshal(st)
}

func sigKey(st fleet.Status) ([]byte, error) {
	st.UpdatedAt = time.Time{}
	st.TotalLag, st.Health.Lag = 0, 0
	st.Files = slices.Clone(st.Files)
	for i := range st.Files {
		f := &st.Files[i]
		f.Offset, f.Size, f.Lag = 0, 0, 0
	}
	slices.SortFunc(st.Files, func(a, b fleet.FileStatus) int {
		return cmp.Or(cmp.Compare(a.Path, b.Path), cmp.Compare(a.Topic, b.Topic))
	})
	st.Processors = nil
	return json.Marshal(st)
}

// remove revokes the lease at a clean stop, deleting the key at once
// instead of after the TTL.
func (p *Publisher) remove(lease clientv3.LeaseID) {
	o := p.o
	ctx, cancel := context.WithTimeout(context.Background(), o.Timeout)
	defer cancel()
	if _, err := o.Client.Revoke(ctx, lease); err != nil {
		o.Log.Warn("fleet status: revoke lease at stop; the key expires after status_ttl", "key", o.Key, "err", o.Explain(err))
		return
	}
	o.Log.Info("fleet status removed", "key", o.Key)
}
