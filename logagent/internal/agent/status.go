package agent

// Fleet status: every agent keeps a JSON document at its status key
// ([etcd] status_key, default /logagent/<ip>/status) attached to an etcd
// lease it keeps alive. The key disappears by itself when the agent dies
// (the lease expires after status_ttl) and is deleted (lease revoked) on a
// clean stop. The publisher runs beside collection and never blocks it:
// config changes only nudge it through a one-slot channel, and an etcd
// outage only delays the next write.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"go.etcd.io/etcd/api/v3/v3rpc/rpctypes"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/logcollect/logcollect/logagent/internal/collect"
	"github.com/logcollect/logcollect/pkg/backoff"
	"github.com/logcollect/logcollect/pkg/buildinfo"
	"github.com/logcollect/logcollect/pkg/etcdconf"
)

// Status is the document an agent publishes at its status key.
type Status struct {
	Version   string       `json:"version"`
	Revision  string       `json:"revision"` // VCS commit of the binary
	GoVersion string       `json:"go_version"`
	Hostname  string       `json:"hostname"`
	IP        string       `json:"ip"`
	PID       int          `json:"pid"`
	StartedAt time.Time    `json:"started_at"`
	UpdatedAt time.Time    `json:"updated_at"`
	Config    ConfigStatus `json:"config"`
	// Files are the files of the running collect entries that the agent
	// follows or holds a checkpoint for, largest lag first (at most
	// MaxStatusFiles; FilesOmitted counts the rest).
	Files        []FileStatus `json:"files"`
	FilesOmitted int          `json:"files_omitted,omitempty"`
	TotalLag     int64        `json:"total_lag"` // bytes written and not yet acknowledged, over all files
	// Processors are the counts of the running entries that have
	// processors, since each entry's task (re)started.
	Processors []ProcessorStatus `json:"processors,omitempty"`
	LastError  *ErrorStatus      `json:"last_error,omitempty"`
}

// Config states.
const (
	ConfigNone     = "none"     // nothing applied yet (etcd not read, nothing cached)
	ConfigApplied  = "applied"  // the latest config runs
	ConfigRejected = "rejected" // the latest config was rejected; Revision still runs
)

// ConfigStatus tells which collect config runs.
type ConfigStatus struct {
	State     string    `json:"state"`
	Source    string    `json:"source,omitempty"`    // etcd, etcd (key absent), cache <path>, ...
	Revision  int64     `json:"revision"`            // etcd revision of the running config; 0 when it came from the cache
	Entries   int       `json:"entries"`             // entries of the running config
	AppliedAt time.Time `json:"applied_at,omitzero"` // when the running config was applied
	Rejected  *Rejected `json:"rejected,omitempty"`  // the latest rejected config, when newer than the running one
}

// Rejected is a collect config the agent refused.
type Rejected struct {
	Revision int64     `json:"revision"`
	Reason   string    `json:"reason"`
	At       time.Time `json:"at"`
}

// FileStatus is the delivery position of one file.
type FileStatus struct {
	Path    string `json:"path"`
	Topic   string `json:"topic"`
	Offset  int64  `json:"offset"`            // acknowledged by Kafka
	Size    int64  `json:"size"`              // current size; -1 when the file was rotated away while still being read
	Lag     int64  `json:"lag"`               // size - offset
	Open    bool   `json:"open"`              // a harvester follows it now
	Entry   string `json:"entry,omitempty"`   // the collect entry (its path) whose harvester follows it, when open
	Rotated bool   `json:"rotated,omitempty"` // the path holds another file now
	// Device and inode identify the file in its documents (log.file.*),
	// whatever it is named now. Events and Dropped count its lines from
	// CountedSince up to Offset: records Kafka acknowledged, and lines the
	// processors dropped on purpose. CountedSince is absent when the
	// agent keeps no counts for the file (see docs/audit.md).
	Device       uint64 `json:"device"`
	Inode        uint64 `json:"inode"`
	Events       uint64 `json:"events"`
	Dropped      uint64 `json:"dropped"`
	CountedSince *int64 `json:"counted_since,omitempty"`
}

// ProcessorStatus is what one collect entry's processors did.
type ProcessorStatus struct {
	Entry       string `json:"entry"` // the entry's path
	Topic       string `json:"topic"`
	Filtered    uint64 `json:"dropped_filtered"`     // lines dropped by drop or keep
	RateLimited uint64 `json:"dropped_rate_limited"` // lines dropped by rate_limit
	Failed      uint64 `json:"processor_errors"`     // lines sent on unprocessed, flagged processor_error
}

// ErrorStatus is the agent's latest warning or error log.
type ErrorStatus struct {
	Level   string    `json:"level"`
	Message string    `json:"message"`
	At      time.Time `json:"at"`
}

// MaxStatusFiles bounds the files listed in a status document, so a glob
// over thousands of files cannot outgrow etcd's value limit.
const MaxStatusFiles = 500

// statusReporter holds what the status document says besides the files,
// and publishes it.
type statusReporter struct {
	a       *Agent
	started time.Time
	kick    chan struct{} // one slot: "publish now", never blocks the sender

	mu      sync.Mutex
	config  ConfigStatus
	lastErr *ErrorStatus
}

func newStatusReporter(a *Agent) *statusReporter {
	return &statusReporter{a: a, started: time.Now().UTC(), kick: make(chan struct{}, 1), config: ConfigStatus{State: ConfigNone}}
}

func (s *statusReporter) nudge() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// applied records a config that now runs.
func (s *statusReporter) applied(source string, rev int64, entries int) {
	s.mu.Lock()
	s.config = ConfigStatus{State: ConfigApplied, Source: source, Revision: rev, Entries: entries, AppliedAt: time.Now().UTC()}
	s.mu.Unlock()
	s.nudge()
}

// rejected records a config that was refused; the previous one keeps running.
func (s *statusReporter) rejected(rev int64, err error) {
	s.mu.Lock()
	s.config.State = ConfigRejected
	s.config.Rejected = &Rejected{Revision: rev, Reason: err.Error(), At: time.Now().UTC()}
	s.mu.Unlock()
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
	s.mu.Lock()
	st.Config = s.config
	if st.Config.Rejected != nil {
		r := *st.Config.Rejected
		st.Config.Rejected = &r
	}
	if s.lastErr != nil {
		e := *s.lastErr
		st.LastError = &e
	}
	s.mu.Unlock()
	st.Files, st.TotalLag = a.fileStatuses()
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
		fs := FileStatus{Path: cp.Path, Topic: topic, Offset: cp.Offset, Size: -1, Open: a.live(key), Device: cp.Device, Inode: cp.Inode}
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

// keep writes the document now, at every status_interval and when nudged,
// until ctx is done or the lease is lost; published tells whether a write
// succeeded.
func (s *statusReporter) keep(ctx context.Context, cli *clientv3.Client, key string, lease clientv3.LeaseID, ka <-chan *clientv3.LeaseKeepAliveResponse) (published bool, err error) {
	a := s.a
	tick := time.NewTicker(a.cfg.Etcd.StatusInterval)
	defer tick.Stop()
	for {
		data, err := json.Marshal(s.snapshot())
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
		case !published:
			published = true
			a.log.Info("fleet status published", "key", key, "ttl", a.cfg.Etcd.StatusTTL, "interval", a.cfg.Etcd.StatusInterval)
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
