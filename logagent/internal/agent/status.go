package agent

// Fleet status: every agent keeps a JSON document at its status key
// ([etcd] status_key, default /logagent/<ip>/status) attached to an etcd
// lease it keeps alive. The key disappears by itself when the agent dies
// (the lease expires after status_ttl) and is deleted (lease revoked) on a
// clean stop. The publisher runs beside collection and never blocks it:
// config changes only nudge it through a one-slot channel, and an etcd
// outage only delays the next write.

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/logcollect/logcollect/logagent/internal/collect"
	"github.com/logcollect/logcollect/logagent/internal/configsource"
	"github.com/logcollect/logcollect/pkg/backoff"
	"github.com/logcollect/logcollect/pkg/buildinfo"
	"github.com/logcollect/logcollect/pkg/etcdconf"
	"github.com/logcollect/logcollect/pkg/fleet"
)

// The status document is fleet's (pkg/fleet/status.go): the CLI, the audit
// command and the console decode the same types. These names keep the
// agent's callers short.
type (
	Status          = fleet.Status
	ConfigStatus    = fleet.ConfigStatus
	Rejected        = fleet.Rejected
	FileStatus      = fleet.FileStatus
	ProcessorStatus = fleet.ProcessorStatus
	ErrorStatus     = fleet.ErrorStatus
)

// Config states.
const (
	ConfigNone     = fleet.ConfigNone
	ConfigApplied  = fleet.ConfigApplied
	ConfigRejected = fleet.ConfigRejected
)

// MaxStatusFiles bounds the files listed in a status document.
const MaxStatusFiles = fleet.MaxStatusFiles

// statusReporter holds what the status document says besides the files,
// and publishes it.
type statusReporter struct {
	a       *Agent
	started time.Time
	kick    chan struct{} // one slot: "publish now", never blocks the sender

	mu        sync.Mutex
	config    ConfigStatus
	groups    []fleet.GroupState
	sources   []fleet.EntrySource
	candidate bool // a rollout's candidate runs: lag is refreshed at status_interval
	health    health
	lastErr   *ErrorStatus
}

// health counts, since the running config was applied, what the rollout
// gate judges (fleet.Health).
type health struct {
	failing       map[string]bool // files that failed to open or read, each counted once
	read, perm    int64
	matched       int // files matched at the latest snapshot (-1: none taken)
	matchedBefore int // matched when the running config replaced the one before (-1: none before)
}

func newStatusReporter(a *Agent) *statusReporter {
	return &statusReporter{a: a, started: time.Now().UTC(), kick: make(chan struct{}, 1), config: ConfigStatus{State: ConfigNone},
		health: health{failing: map[string]bool{}, matched: -1, matchedBefore: -1}}
}

func (s *statusReporter) nudge() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// applied records the desired config that now runs (changed: its entries
// or sources differ from the previous one, so the health counts restart);
// a config refused by the policy shows as rejected, naming the source,
// while the last good version of that source runs.
func (s *statusReporter) applied(origin string, d configsource.Desired, changed bool) {
	now := time.Now().UTC()
	s.mu.Lock()
	c := ConfigStatus{State: ConfigApplied, Source: origin, Revision: d.Host(), Entries: len(d.Entries), AppliedAt: s.config.AppliedAt}
	if changed || c.AppliedAt.IsZero() {
		c.AppliedAt = now
	}
	if n := len(d.Rejected); n > 0 {
		r := d.Rejected[0]
		c.State, c.Rejected = ConfigRejected, &r
	}
	if changed {
		if s.config.State != ConfigNone {
			s.health.matchedBefore = s.health.matched
		}
		s.health.failing, s.health.read, s.health.perm = map[string]bool{}, 0, 0
	}
	s.config, s.groups, s.sources = c, d.Groups, d.Sources
	s.candidate = slices.ContainsFunc(d.Groups, func(g fleet.GroupState) bool { return g.Hash != "" && g.Rejected == "" })
	s.mu.Unlock()
	s.nudge()
}

// fileError counts a file that cannot be opened or read, once per file
// while the config runs.
func (s *statusReporter) fileError(path string, err error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.health.failing[path] {
		return
	}
	s.health.failing[path] = true
	if errors.Is(err, fs.ErrPermission) {
		s.health.perm++
	} else {
		s.health.read++
	}
	s.nudge()
}

func (s *statusReporter) noteError(r slog.Record) {
	var b strings.Builder
	b.WriteString(r.Message)
	r.Attrs(func(at slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", at.Key, at.Value.Resolve())
		return true
	})
	msg := b.String()
	if len(msg) > 1000 {
		msg = msg[:1000] + "…"
	}
	s.mu.Lock()
	s.lastErr = &ErrorStatus{Level: r.Level.String(), Message: msg, At: r.Time.UTC()}
	s.mu.Unlock()
}

// snapshot assembles the current document.
func (s *statusReporter) snapshot() Status {
	a := s.a
	st := Status{Version: buildinfo.Version, Revision: buildinfo.Revision(), GoVersion: runtime.Version(),
		Hostname: a.hostname, IP: a.ip, PID: os.Getpid(), StartedAt: s.started, UpdatedAt: time.Now().UTC()}
	st.HostID = a.hostID
	files, lag := a.fileStatuses()
	s.mu.Lock()
	st.Config = s.config
	st.Groups, st.Sources = s.groups, s.sources // replaced whole on change, never mutated
	s.health.matched = len(files)
	st.Health = fleet.Health{ReadErrors: s.health.read, PermissionErrors: s.health.perm, FilesMatched: len(files), FilesMatchedBefore: s.health.matchedBefore, Lag: lag}
	if st.Config.Rejected != nil {
		r := *st.Config.Rejected
		st.Config.Rejected = &r
	}
	if s.lastErr != nil {
		e := *s.lastErr
		st.LastError = &e
	}
	s.mu.Unlock()
	st.Files, st.TotalLag = files, lag
	st.Processors = a.processorStatuses()
	if len(st.Files) > MaxStatusFiles {
		st.FilesOmitted = len(st.Files) - MaxStatusFiles
		st.Files = st.Files[:MaxStatusFiles]
	}
	return st
}

// fileStatuses reads the positions from the checkpoint store (the durable,
// acknowledged offsets) for the files of the running entries, and the sizes
// from the files themselves.
func (a *Agent) fileStatuses() ([]FileStatus, int64) {
	a.mu.Lock()
	specs := make([]collect.Entry, 0, len(a.specs))
	for _, e := range a.specs {
		specs = append(specs, e)
	}
	a.mu.Unlock()
	files := []FileStatus{}
	var total int64
	for key, cp := range a.store.Entries() {
		topic := key.Topic()
		if !belongs(specs, cp.Path, topic) {
			continue
		}
		fs := FileStatus{Path: cp.Path, Topic: topic, Offset: cp.Offset, Size: -1, Open: a.live(key), ID: cp.ID, Device: cp.Device, Inode: cp.Inode}
		if c := cp.Counts; c != nil {
			since := c.Since
			fs.Events, fs.Dropped, fs.CountedSince = c.Events, c.Dropped, &since
		}
		if fs.Open {
			fs.Entry, _ = a.owners.Owner(key)
		}
		if fi, err := os.Stat(cp.Path); err == nil && sameFile(fi, cp.Device, cp.Inode) {
			fs.Size = fi.Size()
			fs.Lag = max(0, fs.Size-fs.Offset)
		} else if fs.Open {
			fs.Rotated = true
		} else {
			continue // rotated away or deleted, and done with
		}
		total += fs.Lag
		files = append(files, fs)
	}
	sort.Slice(files, func(i, j int) bool {
		if files[i].Lag != files[j].Lag {
			return files[i].Lag > files[j].Lag
		}
		if files[i].Path != files[j].Path {
			return files[i].Path < files[j].Path
		}
		return files[i].Topic < files[j].Topic
	})
	return files, total
}

// processorStatuses reads the counts of the running entries' chains.
func (a *Agent) processorStatuses() []ProcessorStatus {
	a.mu.Lock()
	var out []ProcessorStatus
	for _, e := range a.specs {
		if e.Chain == nil || e.Chain.Len() == 0 {
			continue
		}
		s := e.Chain.Stats()
		out = append(out, ProcessorStatus{Entry: e.Path, Topic: e.Topic, Filtered: s.Filtered, RateLimited: s.RateLimited, Failed: s.Failed})
	}
	a.mu.Unlock()
	sort.Slice(out, func(i, j int) bool { return out[i].Entry < out[j].Entry })
	return out
}

func belongs(specs []collect.Entry, path, topic string) bool {
	for i := range specs {
		if specs[i].Topic != topic {
			continue
		}
		if ok, _ := filepath.Match(specs[i].Path, path); ok && !specs[i].Excluded(path) {
			return true
		}
	}
	return false
}

func sameFile(fi os.FileInfo, dev, ino uint64) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && uint64(st.Dev) == dev && st.Ino == ino
}

// run publishes until ctx is done, then revokes the lease, which deletes
// the key. Every failure is retried with backoff; a lost lease (etcd
// unreachable for longer than the TTL) is granted again.
func (s *statusReporter) run(ctx context.Context) {
	a := s.a
	key := a.cfg.StatusKey(a.ip)
	ttl := int64(math.Ceil(a.cfg.Etcd.StatusTTL.Seconds()))
	bo := backoff.Backoff{Min: 200 * time.Millisecond, Max: 15 * time.Second}
	failing := false
	fail := func(what string, err error) {
		if !failing && ctx.Err() == nil {
			a.log.Warn("fleet status: "+what+"; retrying, collection goes on", "key", key, "err", etcdconf.Explain(err, a.cfg.Etcd.Settings))
		}
		failing = true
		bo.Wait(ctx)
	}
	cli, ok := a.etcdClient(ctx) // connecting is logged by connectEtcd
	if !ok {
		return
	}
	for ctx.Err() == nil {
		gctx, cancel := context.WithTimeout(ctx, a.cfg.Etcd.DialTimeout)
		lease, err := cli.Grant(gctx, ttl)
		cancel()
		if err != nil {
			fail("grant lease", err)
			continue
		}
		kctx, kcancel := context.WithCancel(ctx)
		ka, err := cli.KeepAlive(kctx, lease.ID)
		if err != nil {
			kcancel()
			fail("keep lease alive", err)
			continue
		}
		published, err := s.keep(ctx, cli, key, lease.ID, ka)
		kcancel()
		if published {
			failing = false // a later outage is logged again
			bo.Reset()
		}
		if ctx.Err() != nil {
			s.remove(cli, key, lease.ID)
			return
		}
		fail("lease lost", err)
	}
}

// keep writes the document now and then whenever it changes, until ctx
// is done or the lease is lost; published tells whether a write succeeded.
// Liveness is the lease's keep-alive, not the writes: every status_interval
// (and when nudged) the document is assembled locally and written only if
// something an operator acts on changed (config, groups, sources, health
// counts, the latest error, the set of files); lag and positions alone are
// written every status_refresh, or every status_interval while a rollout's
// candidate runs (its gate watches lag). 10,000 idle agents then write
// nothing at all.
func (s *statusReporter) keep(ctx context.Context, cli *clientv3.Client, key string, lease clientv3.LeaseID, ka <-chan *clientv3.LeaseKeepAliveResponse) (published bool, err error) {
	a := s.a
	tick := time.NewTicker(a.cfg.Etcd.StatusInterval)
	defer tick.Stop()
	var lastKey, lastDoc []byte
	var lastWrite time.Time
	for {
		st := s.snapshot()
		sig, doc, err := statusKeys(st)
		if err != nil {
			return published, fmt.Errorf("encode status: %w", err)
		}
		refresh := a.cfg.Etcd.StatusRefresh
		s.mu.Lock()
		if s.candidate {
			refresh = a.cfg.Etcd.StatusInterval
		}
		s.mu.Unlock()
		due := time.Since(lastWrite) >= refresh && !bytes.Equal(doc, lastDoc)
		if !published || !bytes.Equal(sig, lastKey) || due {
			data, err := json.Marshal(st)
			if err != nil {
				return published, fmt.Errorf("encode status: %w", err)
			}
			pctx, cancel := context.WithTimeout(ctx, a.cfg.Etcd.DialTimeout)
			_, err = cli.Put(pctx, key, string(data), clientv3.WithLease(lease))
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
				a.log.Debug("fleet status write failed; next interval retries", "err", err)
			default:
				lastKey, lastDoc, lastWrite = sig, doc, time.Now()
				if !published {
					published = true
					a.log.Info("fleet status published", "key", key, "ttl", a.cfg.Etcd.StatusTTL, "refresh", a.cfg.Etcd.StatusRefresh)
				}
				a.m.StatusWrites.Inc()
			}
		}
		for wait := true; wait; {
			select {
			case <-ctx.Done():
				return published, ctx.Err()
			case _, ok := <-ka:
				if !ok {
					return published, errors.New("keep-alive ended (etcd unreachable for longer than status_ttl)")
				}
			case <-tick.C:
				wait = false
			case <-s.kick:
				wait = false
			}
		}
	}
}

// statusKeys encodes what decides a write: sig is the document without
// what moves all the time (positions, sizes, lag, processor counts, the
// time), doc the document without the time.
func statusKeys(st Status) (sig, doc []byte, err error) {
	st.UpdatedAt = time.Time{}
	if doc, err = json.Marshal(st); err != nil {
		return nil, nil, err
	}
	st.TotalLag, st.Health.Lag = 0, 0
	st.Files = slices.Clone(st.Files)
	for i := range st.Files {
		f := &st.Files[i]
		f.Offset, f.Size, f.Lag = 0, 0, 0
	}
	slices.SortFunc(st.Files, func(a, b FileStatus) int { return cmp.Or(cmp.Compare(a.Path, b.Path), cmp.Compare(a.Topic, b.Topic)) })
	st.Processors = nil
	sig, err = json.Marshal(st)
	return sig, doc, err
}

// remove revokes the lease at a clean stop, deleting the key at once
// instead of after the TTL.
func (s *statusReporter) remove(cli *clientv3.Client, key string, lease clientv3.LeaseID) {
	a := s.a
	ctx, cancel := context.WithTimeout(context.Background(), a.cfg.Etcd.DialTimeout)
	defer cancel()
	if _, err := cli.Revoke(ctx, lease); err != nil {
		a.log.Warn("fleet status: revoke lease at stop; the key expires after status_ttl", "key", key, "err", etcdconf.Explain(err, a.cfg.Etcd.Settings))
		return
	}
	a.log.Info("fleet status removed", "key", key)
}

// startStatus starts the publisher; stop revokes the lease and waits.
func (a *Agent) startStatus() (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		a.status.run(ctx)
	}()
	return func() {
		cancel()
		<-done
	}
}

// errorRecorder passes records to the agent's log handler and remembers
// the latest warning or error for the status document, whatever the log
// level.
type errorRecorder struct {
	slog.Handler
	s *statusReporter
}

func (h errorRecorder) Enabled(ctx context.Context, l slog.Level) bool {
	return l >= slog.LevelWarn || h.Handler.Enabled(ctx, l)
}

func (h errorRecorder) Handle(ctx context.Context, r slog.Record) error {
	if r.Level >= slog.LevelWarn {
		h.s.noteError(r)
	}
	if !h.Handler.Enabled(ctx, r.Level) {
		return nil
	}
	return h.Handler.Handle(ctx, r)
}

func (h errorRecorder) WithAttrs(as []slog.Attr) slog.Handler {
	return errorRecorder{h.Handler.WithAttrs(as), h.s}
}

func (h errorRecorder) WithGroup(name string) slog.Handler {
	return errorRecorder{h.Handler.WithGroup(name), h.s}
}
