package rollout

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"maps"
	"os"
	"slices"
	"strings"
	"time"

	"go.etcd.io/etcd/api/v3/etcdserverpb"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/logcollect/logcollect/pkg/backoff"
	"github.com/logcollect/logcollect/pkg/fleet"
)

// Errors the command maps to its exit code and message.
var (
	// ErrFailed: a wave failed its health gate; the rollout was rolled back.
	ErrFailed = errors.New("rollout failed")
	// ErrAborted: the operator aborted the rollout (perhaps from another
	// command while this one drove it).
	ErrAborted = errors.New("rollout aborted")
	// ErrPaused: this command stopped driving (etcd unreachable, the lock
	// lost, interrupted); the rollout stays where it is until resumed.
	ErrPaused = errors.New("rollout paused")
	// ErrConflict: another rollout or controller is in the way.
	ErrConflict = errors.New("rollout conflict")

	errInterrupted = errors.New("interrupted")
)

// Controller drives the rollouts of groups in one etcd.
type Controller struct {
	Cli    *clientv3.Client
	Keys   fleet.Keys
	Status StatusKeys
	// Request bounds each etcd call (the dial timeout).
	Request time.Duration
	// LockTTL is the lease of the controller's lock: how long a killed
	// command's rollout shows as driven before it shows as paused, and how
	// long etcd may be unreachable before the command gives up.
	LockTTL time.Duration
	// Out receives progress lines.
	Out io.Writer
}

// Options of a rollout.
type Options struct {
	Group     string
	Candidate []byte // validated collect config JSON
	Steps     []fleet.Step
	Bake      time.Duration
	// WaveTimeout is how long the targets of a wave have to report the
	// candidate applied before they fail it.
	WaveTimeout time.Duration
}

// Lock is the value of the rollout lock: who drives the rollout.
type Lock struct {
	Host  string    `json:"host"`
	PID   int       `json:"pid"`
	Since time.Time `json:"since"`
}

// Snapshot is a rollout as stored, with its controller's lock.
type Snapshot struct {
	Rollout  *fleet.Rollout // nil: the group never had one
	Revision int64          // mod revision of the document
	Lock     *Lock          // nil: no controller drives it
	// StableRevision is the group config's mod revision now (0: none).
	StableRevision int64
}

// Read returns the group's rollout, its lock and the stable config's
// revision in one read.
func (c *Controller) Read(ctx context.Context, group string) (Snapshot, error) {
	resp, err := c.txn(ctx, nil, clientv3.OpGet(c.Keys.Rollout(group)), clientv3.OpGet(c.Keys.RolloutLock(group)), clientv3.OpGet(c.Keys.GroupConfig(group), clientv3.WithKeysOnly()))
	if err != nil {
		return Snapshot{}, err
	}
	return c.snapshot(resp.Responses[0].GetResponseRange(), resp.Responses[1].GetResponseRange(), resp.Responses[2].GetResponseRange())
}

func (c *Controller) snapshot(doc, lock, stable *etcdRange) (Snapshot, error) {
	var s Snapshot
	if len(doc.Kvs) == 1 {
		s.Rollout = new(fleet.Rollout)
		if err := json.Unmarshal(doc.Kvs[0].Value, s.Rollout); err != nil {
			return s, fmt.Errorf("rollout document %s: %w", doc.Kvs[0].Key, err)
		}
		s.Revision = doc.Kvs[0].ModRevision
	}
	if len(lock.Kvs) == 1 {
		s.Lock = new(Lock)
		if json.Unmarshal(lock.Kvs[0].Value, s.Lock) != nil {
			s.Lock.Host = string(lock.Kvs[0].Value)
		}
	}
	if len(stable.Kvs) == 1 {
		s.StableRevision = stable.Kvs[0].ModRevision
	}
	return s, nil
}

// Start begins a rollout of o.Candidate to o.Group and drives it to its
// end (see drive). It refuses when a rollout of the group is active or the
// group has no members.
func (c *Controller) Start(ctx context.Context, o Options) (*fleet.Rollout, error) {
	if err := fleet.CheckGroup(o.Group); err != nil {
		return nil, err
	}
	if len(o.Steps) == 0 {
		return nil, errors.New("no steps")
	}
	resp, err := c.txn(ctx, nil, clientv3.OpGet(c.Keys.Rollout(o.Group)), clientv3.OpGet(c.Keys.RolloutLock(o.Group)),
		clientv3.OpGet(c.Keys.GroupConfig(o.Group), clientv3.WithKeysOnly()), clientv3.OpGet(c.Status.Prefix, clientv3.WithPrefix()))
	if err != nil {
		return nil, err
	}
	snap, err := c.snapshot(resp.Responses[0].GetResponseRange(), resp.Responses[1].GetResponseRange(), resp.Responses[2].GetResponseRange())
	if err != nil {
		return nil, err
	}
	if snap.Rollout.Active() {
		return nil, fmt.Errorf("%w: rollout %s of group %s is %s at wave %d: wait for it, or stop it with logagent rollout abort -group %s",
			ErrConflict, snap.Rollout.ID, o.Group, Describe(snap), snap.Rollout.Wave+1, o.Group)
	}
	mem := members(c.Status.agents(resp.Responses[3].GetResponseRange().Kvs), o.Group)
	if len(mem) == 0 {
		return nil, fmt.Errorf("group %s has no members: no agent under %s<ip>%s lists it in its status (agents join a group with [agent] groups = %s and must be running)",
			o.Group, c.Status.Prefix, c.Status.Suffix, o.Group)
	}
	now := time.Now().UTC()
	r := &fleet.Rollout{ID: newID(now), Group: o.Group, State: fleet.StateRunning, Candidate: json.RawMessage(o.Candidate),
		Hash: fleet.ConfigHash(o.Candidate), StableRevision: snap.StableRevision, Steps: o.Steps, Bake: o.Bake,
		StartedAt: now}
	d := &driver{c: c, opt: o, r: r}
	d.beginWave(0, mem, now)
	// The document may have changed since it was read (ModRevision), and
	// nobody may hold the lock: then ours is the only controller.
	rev, err := d.lock(ctx, clientv3.Compare(clientv3.ModRevision(c.Keys.Rollout(o.Group)), "=", snap.Revision))
	if err != nil {
		return r, err
	}
	d.rev = rev
	fmt.Fprintf(c.Out, "rollout %s of group %s: candidate %s to %d members in waves %s, bake %s; stable is r%d\n",
		r.ID, o.Group, r.Hash, len(mem), stepList(o.Steps), o.Bake, r.StableRevision)
	return r, d.drive(ctx)
}

// Resume takes over an active rollout of group whose controller is gone
// (killed, or paused) and drives it on from its current wave, which starts
// its clock again. It waits up to LockTTL for a dead controller's lock to
// expire.
func (c *Controller) Resume(ctx context.Context, group string, waveTimeout time.Duration) (*fleet.Rollout, error) {
	deadline := time.Now().Add(c.LockTTL + time.Second)
	for {
		snap, err := c.Read(ctx, group)
		if err != nil {
			return nil, err
		}
		switch {
		case snap.Rollout == nil:
			return nil, fmt.Errorf("group %s has no rollout to resume", group)
		case !snap.Rollout.Active():
			return snap.Rollout, fmt.Errorf("nothing to resume: rollout %s of group %s is %s", snap.Rollout.ID, group, snap.Rollout.State)
		case snap.Lock != nil && time.Now().Before(deadline):
			if err := backoff.Sleep(ctx, 200*time.Millisecond); err != nil {
				return nil, err
			}
			continue
		case snap.Lock != nil:
			return nil, fmt.Errorf("%w: rollout %s of group %s is driven by %s (pid %d, since %s); its lock outlived %s, so that controller is alive",
				ErrConflict, snap.Rollout.ID, group, snap.Lock.Host, snap.Lock.PID, snap.Lock.Since.Format(time.RFC3339), c.LockTTL)
		}
		r := snap.Rollout
		now := time.Now().UTC()
		d := &driver{c: c, r: r, opt: Options{Group: group, Candidate: r.Candidate, Steps: r.Steps, Bake: r.Bake, WaveTimeout: waveTimeout}}
		r.State, r.Message, r.WaveStartedAt, r.UpdatedAt = fleet.StateRunning, "", now, now
		rev, err := d.lock(ctx, clientv3.Compare(clientv3.ModRevision(c.Keys.Rollout(group)), "=", snap.Revision))
		if errors.Is(err, ErrConflict) && time.Now().Before(deadline) {
			continue // the lock was taken or the document changed meanwhile: look again
		}
		if err != nil {
			return r, err
		}
		d.rev = rev
		all, err := d.readAgents(ctx)
		if err != nil {
			return r, d.pause(err)
		}
		d.setTargets(members(all, group))
		fmt.Fprintf(c.Out, "resumed rollout %s of group %s at wave %d of %d (%s, %d targets)\n", r.ID, group, r.Wave+1, len(r.Steps), r.Steps[r.Wave], len(d.targets))
		return r, d.drive(ctx)
	}
}

// Abort withdraws the candidate of group's active rollout now: agents
// return to the stable config. A command driving it notices and stops.
func (c *Controller) Abort(ctx context.Context, group, by string) (*fleet.Rollout, error) {
	rctx, cancel := context.WithTimeout(ctx, 5*c.Request)
	defer cancel()
	r, err := fleet.Abort(rctx, c.Cli, c.Keys, group, by, time.Now().UTC())
	if errors.Is(err, fleet.ErrRolloutChanging) {
		err = fmt.Errorf("%w: %w", ErrConflict, err)
	}
	return r, err
}

// Describe is a rollout's state for people: "running", "paused (no
// controller)" when running without a lock, "done", ...
func Describe(s Snapshot) string {
	if s.Rollout == nil {
		return "none"
	}
	if s.Rollout.State == fleet.StateRunning && s.Lock == nil {
		return "paused (no controller)"
	}
	return s.Rollout.State
}

// driver drives one rollout while holding the lock.
type driver struct {
	c       *Controller
	opt     Options
	r       *fleet.Rollout
	rev     int64 // mod revision of the document as last written by us
	lease   clientv3.LeaseID
	lost    <-chan *clientv3.LeaseKeepAliveResponse // closed when the lock's lease is lost
	targets map[string]*Target                      // the current wave's, by host id
	noneAt  time.Time                               // when the wave found no member (zero: it did)
	shown   string                                  // the last progress line
}

// beginWave makes wave i the current one over the group's present members.
func (d *driver) beginWave(i int, mem map[string]*Member, now time.Time) {
	r := d.r
	r.Wave = i
	sel := fleet.Select(r.Group, r.Steps[i], slices.Sorted(maps.Keys(mem)))
	if !sel.All && r.Selection.Targets > 0 {
		// Selections only grow: agents that were selected and are offline
		// now stay selected when they return.
		sel.Cutoff = max(sel.Cutoff, r.Selection.Cutoff)
	}
	r.Selection = sel
	r.WaveStartedAt, r.UpdatedAt = now, now
	r.Waves = append(r.Waves, fleet.WaveResult{Step: r.Steps[i], Targets: r.Selection.Targets, Started: now})
	d.setTargets(mem)
}

// setTargets makes the members the current selection picks the targets.
func (d *driver) setTargets(mem map[string]*Member) {
	d.targets = make(map[string]*Target)
	for id, m := range mem {
		if d.r.Selects(id) {
			d.targets[id] = &Target{HostID: id, Host: m.Host, IP: m.IP}
		}
	}
}

// lock takes the controller lock and writes the document in one txn,
// if cond holds; it returns the document's new mod revision.
func (d *driver) lock(ctx context.Context, cond clientv3.Cmp) (int64, error) {
	c := d.c
	lctx, cancel := context.WithTimeout(ctx, c.Request)
	lease, err := c.Cli.Grant(lctx, int64(max(1, c.LockTTL.Round(time.Second)/time.Second)))
	cancel()
	if err != nil {
		return 0, err
	}
	host, _ := os.Hostname()
	val, _ := json.Marshal(Lock{Host: host, PID: os.Getpid(), Since: time.Now().UTC()})
	doc, err := json.Marshal(d.r)
	if err != nil {
		return 0, err
	}
	lockKey := c.Keys.RolloutLock(d.r.Group)
	resp, err := c.txn(ctx, []clientv3.Cmp{cond, clientv3.Compare(clientv3.CreateRevision(lockKey), "=", 0)},
		clientv3.OpPut(lockKey, string(val), clientv3.WithLease(lease.ID)), clientv3.OpPut(c.Keys.Rollout(d.r.Group), string(doc)))
	if err == nil && !resp.Succeeded {
		err = fmt.Errorf("%w: another controller took the rollout of group %s, or changed it, while this one started: see logagent rollout status -group %s", ErrConflict, d.r.Group, d.r.Group)
	}
	if err != nil {
		c.revoke(lease.ID)
		return 0, err
	}
	// The lease lives as long as this process keeps it alive; it outlives
	// a cancelled ctx only until pause revokes it.
	ka, err := c.Cli.KeepAlive(context.WithoutCancel(ctx), lease.ID)
	if err != nil {
		c.revoke(lease.ID)
		return 0, err
	}
	d.lease, d.lost = lease.ID, ka
	return resp.Header.Revision, nil
}

// drive follows the agents' status and acts on the gate's verdict until
// the rollout is done (nil), rolled back (ErrFailed), aborted (ErrAborted)
// or can no longer be driven (ErrPaused). Every poll reads the rollout
// document (someone may abort it); the statuses are read once and then
// followed by a watch, read again only when the watch breaks.
func (d *driver) drive(ctx context.Context) error {
	defer d.c.revoke(d.lease)
	r := d.r
	poll := min(time.Second, max(100*time.Millisecond, r.Bake/10))
	var view *statusView
	defer func() {
		if view != nil {
			view.stop()
		}
	}()
	var unreachableSince time.Time
	for {
		began := time.Now()
		var doc *fleet.Rollout
		var err error
		if view == nil {
			doc, view, err = d.read(ctx)
		} else if doc, err = d.readDoc(ctx); err == nil {
			if err = view.broken(); err != nil {
				view.stop()
				view = nil
			}
		}
		switch {
		case ctx.Err() != nil:
			return d.pause(errInterrupted)
		case err != nil && errors.Is(err, ErrAborted):
			return err
		case err != nil:
			if unreachableSince.IsZero() {
				unreachableSince = began
			}
			if time.Since(unreachableSince) >= d.c.LockTTL {
				return d.pause(err)
			}
		default:
			unreachableSince = time.Time{}
			if doc != nil {
				return d.changed(doc)
			}
			view.mu.Lock()
			done, err := d.step(ctx, view.all)
			view.mu.Unlock()
			if done || err != nil {
				return err
			}
		}
		wait := max(poll, 2*time.Since(began)) // a large fleet's first read sets the pace
		select {
		case <-ctx.Done():
		case _, ok := <-d.lost:
			if !ok {
				return d.pause(errors.New("lost the controller lock (etcd unreachable for longer than its lease)"))
			}
		case <-time.After(wait):
		}
	}
}

// read reads the rollout document and every agent's status in one txn and
// follows the statuses from there; doc is set when the document is no
// longer the one this driver wrote.
func (d *driver) read(ctx context.Context) (doc *fleet.Rollout, view *statusView, err error) {
	c := d.c
	resp, err := c.txn(ctx, nil, clientv3.OpGet(c.Keys.Rollout(d.r.Group)), clientv3.OpGet(c.Status.Prefix, clientv3.WithPrefix()))
	if err != nil {
		return nil, nil, err
	}
	if doc = d.changedDoc(resp.Responses[0].GetResponseRange()); doc != nil {
		return doc, nil, nil
	}
	view = newStatusView(c.Status)
	for _, kv := range resp.Responses[1].GetResponseRange().Kvs {
		view.put(string(kv.Key), kv.Value)
	}
	view.follow(ctx, c.Cli, resp.Header.Revision)
	return nil, view, nil
}

// readDoc reads the rollout document alone; doc is set as in read.
func (d *driver) readDoc(ctx context.Context) (doc *fleet.Rollout, err error) {
	resp, err := d.c.txn(ctx, nil, clientv3.OpGet(d.c.Keys.Rollout(d.r.Group)))
	if err != nil {
		return nil, err
	}
	return d.changedDoc(resp.Responses[0].GetResponseRange()), nil
}

// changedDoc is the document of rng when it is not the one this driver
// last wrote (an empty one if it was deleted), else nil.
func (d *driver) changedDoc(rng *etcdRange) *fleet.Rollout {
	kvs := rng.Kvs
	if len(kvs) == 1 && kvs[0].ModRevision == d.rev {
		return nil
	}
	doc := new(fleet.Rollout)
	if len(kvs) == 1 {
		_ = json.Unmarshal(kvs[0].Value, doc)
	}
	return doc
}

func (d *driver) readAgents(ctx context.Context) (map[string]*Member, error) {
	resp, err := d.c.txn(ctx, nil, clientv3.OpGet(d.c.Status.Prefix, clientv3.WithPrefix()))
	if err != nil {
		return nil, err
	}
	return d.c.Status.agents(resp.Responses[0].GetResponseRange().Kvs), nil
}

// changed explains why another command's write ends this driver.
func (d *driver) changed(doc *fleet.Rollout) error {
	if doc.ID == d.r.ID && doc.State == fleet.StateAborted {
		return fmt.Errorf("%w: %s; the candidate is withdrawn", ErrAborted, doc.Message)
	}
	return fmt.Errorf("%w: the rollout document of group %s was changed by another command (now %s %s); this one stops", ErrConflict, d.r.Group, doc.ID, doc.State)
}

// step judges the current wave once and acts on the verdict.
func (d *driver) step(ctx context.Context, all map[string]*Member) (done bool, err error) {
	r := d.r
	now := time.Now().UTC()
	if len(d.targets) == 0 {
		// Every member was offline when the wave began: wait for one to
		// return rather than pass a wave nobody ran.
		mem := members(all, r.Group)
		if len(mem) > 0 {
			r.Waves = r.Waves[:len(r.Waves)-1]
			d.beginWave(r.Wave, mem, now)
			return false, d.write(ctx)
		}
		if now.Sub(r.WaveStartedAt) < d.opt.WaveTimeout {
			d.progress(fmt.Sprintf("wave %d: no member of group %s reports status; waiting", r.Wave+1, r.Group))
			return false, nil
		}
		return true, d.rollback(ctx, []fleet.Failure{{Host: "-", Reason: fmt.Sprintf("no member of group %s reported status within %s", r.Group, d.opt.WaveTimeout)}})
	}
	ts := make([]Target, 0, len(d.targets))
	for id, t := range d.targets {
		t.Report = nil
		if m := all[id]; m != nil {
			t.Report = &Report{Group: m.Group(r.Group), Health: m.Health}
			t.Host, t.IP = m.Host, m.IP
		}
		ts = append(ts, *t)
	}
	v := Judge(r, ts, now, d.opt.WaveTimeout)
	for _, id := range v.Start {
		d.targets[id].AppliedSince = now
		d.targets[id].LagAtApply = all[id].Health.Lag
	}
	if len(v.Failures) > 0 {
		return true, d.rollback(ctx, v.Failures)
	}
	if !v.Passed {
		line := fmt.Sprintf("wave %d of %d (%s): %d of %s run the candidate", r.Wave+1, len(r.Steps), r.Steps[r.Wave], v.Applied, plural(len(ts), "target", "targets"))
		if v.Baking > 0 {
			line += fmt.Sprintf(", %d baking (%s)", v.Baking, r.Bake)
		}
		if len(v.Waiting) > 0 {
			slices.Sort(v.Waiting)
			line += "; waiting for " + strings.Join(v.Waiting[:min(3, len(v.Waiting))], ", ")
			if len(v.Waiting) > 3 {
				line += fmt.Sprintf(" and %d more", len(v.Waiting)-3)
			}
		}
		d.progress(line)
		return false, nil
	}
	r.EndWave("passed", now)
	passed := fmt.Sprintf("wave %d of %d (%s): passed: %s healthy\n", r.Wave+1, len(r.Steps), r.Steps[r.Wave], plural(len(ts), "target", "targets"))
	if r.Wave+1 < len(r.Steps) {
		d.beginWave(r.Wave+1, members(all, r.Group), now)
		if err := d.write(ctx); err != nil {
			return true, err
		}
		fmt.Fprint(d.c.Out, passed) // once stored: what the command says is what status shows
		return false, nil
	}
	fmt.Fprint(d.c.Out, passed)
	return true, d.complete(ctx)
}

func (d *driver) progress(line string) {
	if line != d.shown {
		fmt.Fprintln(d.c.Out, line)
		d.shown = line
	}
}

// write stores the document if nobody changed it since our last write.
func (d *driver) write(ctx context.Context) error {
	ok, rev, err := d.c.cas(ctx, d.r, d.rev)
	if err != nil {
		return d.pause(err)
	}
	if !ok {
		doc, err := d.readDoc(ctx)
		if err != nil {
			return d.pause(err)
		}
		return d.changed(doc)
	}
	d.rev = rev
	return nil
}

// rollback withdraws the candidate because of failures.
func (d *driver) rollback(ctx context.Context, failures []fleet.Failure) error {
	r := d.r
	now := time.Now().UTC()
	var names []string
	for _, f := range failures {
		names = append(names, fmt.Sprintf("%s (%s): %s", f.Host, f.IP, f.Reason))
	}
	r.State, r.Failures, r.UpdatedAt = fleet.StateRolledBack, failures, now
	r.Message = fmt.Sprintf("wave %d failed: %s", r.Wave+1, strings.Join(names, "; "))
	r.EndWave("failed", now)
	if err := d.write(ctx); err != nil {
		return err
	}
	return fmt.Errorf("%w: %s; rolled back: the candidate is withdrawn and agents return to the stable config r%d", ErrFailed, r.Message, r.StableRevision)
}

// complete makes the candidate the group's config and marks the rollout
// done in one txn, so no agent sees one without the other; it refuses to
// overwrite a group config someone changed during the rollout.
func (d *driver) complete(ctx context.Context) error {
	c, r := d.c, d.r
	r.State, r.UpdatedAt, r.Message = fleet.StateDone, time.Now().UTC(), ""
	doc, err := json.Marshal(r)
	if err != nil {
		return err
	}
	cfgKey, docKey := c.Keys.GroupConfig(r.Group), c.Keys.Rollout(r.Group)
	resp, err := c.txn(ctx, []clientv3.Cmp{
		clientv3.Compare(clientv3.ModRevision(docKey), "=", d.rev),
		clientv3.Compare(clientv3.ModRevision(cfgKey), "=", r.StableRevision),
	}, clientv3.OpPut(cfgKey, string(r.Candidate)), clientv3.OpPut(docKey, string(doc)))
	if err != nil {
		return d.pause(err)
	}
	if resp.Succeeded {
		fmt.Fprintf(c.Out, "done: group %s runs the candidate as its config r%d\n", r.Group, resp.Header.Revision)
		return nil
	}
	cur, err := d.readDoc(ctx)
	if err != nil {
		return d.pause(err)
	}
	if cur != nil {
		return d.changed(cur)
	}
	r.State = fleet.StateRunning
	return d.rollback(ctx, []fleet.Failure{{Host: "-", Reason: fmt.Sprintf("the group's config %s changed during the rollout (was r%d): not overwritten", cfgKey, r.StableRevision)}})
}

// pause ends driving without changing the rollout's state where etcd
// cannot be written: agents keep what they run, and the rollout shows as
// paused once the lock's lease is gone (revoked here when etcd answers).
// An interrupted command marks it paused.
func (d *driver) pause(cause error) error {
	r := d.r
	if errors.Is(cause, errInterrupted) {
		now := time.Now().UTC()
		r.State, r.Message, r.UpdatedAt = fleet.StatePaused, "paused: the controlling command was interrupted", now
		ctx, cancel := context.WithTimeout(context.Background(), d.c.Request)
		defer cancel()
		if ok, _, err := d.c.cas(ctx, r, d.rev); err == nil && ok {
			return fmt.Errorf("%w at wave %d of %d (interrupted): agents keep what they run; continue with logagent rollout resume -group %s, or logagent rollout abort -group %s",
				ErrPaused, r.Wave+1, len(r.Steps), r.Group, r.Group)
		}
	}
	return fmt.Errorf("%w at wave %d of %d: %v; agents keep what they run; continue with logagent rollout resume -group %s once etcd answers",
		ErrPaused, r.Wave+1, len(r.Steps), cause, r.Group)
}

// cas writes r if the document's mod revision is still rev.
func (c *Controller) cas(ctx context.Context, r *fleet.Rollout, rev int64) (ok bool, newRev int64, err error) {
	doc, err := json.Marshal(r)
	if err != nil {
		return false, 0, err
	}
	key := c.Keys.Rollout(r.Group)
	resp, err := c.txn(ctx, []clientv3.Cmp{clientv3.Compare(clientv3.ModRevision(key), "=", rev)}, clientv3.OpPut(key, string(doc)))
	if err != nil {
		return false, 0, err
	}
	return resp.Succeeded, resp.Header.Revision, nil
}

type etcdRange = etcdserverpb.RangeResponse

// txn runs one transaction bounded by Request.
func (c *Controller) txn(ctx context.Context, cmps []clientv3.Cmp, ops ...clientv3.Op) (*clientv3.TxnResponse, error) {
	rctx, cancel := context.WithTimeout(ctx, c.Request)
	defer cancel()
	resp, err := c.Cli.Txn(rctx).If(cmps...).Then(ops...).Commit()
	if err != nil && rctx.Err() == context.DeadlineExceeded && ctx.Err() == nil {
		err = fmt.Errorf("etcd did not answer within %s: %w", c.Request, context.DeadlineExceeded)
	}
	return resp, err
}

func (c *Controller) revoke(lease clientv3.LeaseID) {
	if lease == 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), c.Request)
	defer cancel()
	_, _ = c.Cli.Revoke(ctx, lease) // if etcd does not answer, the lease expires
}

// endWave records the current wave's result.
func newID(now time.Time) string {
	b := make([]byte, 3)
	_, _ = rand.Read(b)
	return now.Format("20060102-150405") + "-" + hex.EncodeToString(b)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

func stepList(steps []fleet.Step) string {
	s := make([]string, len(steps))
	for i, st := range steps {
		s[i] = st.String()
	}
	return strings.Join(s, ",")
}
