package agent

// Fleet status: every agent keeps a JSON document at its status key
// ([etcd] status_key, default /logagent/<ip>/status) attached to an etcd
// lease it keeps alive. The key disappears by itself when the agent dies
// (the lease expires after status_ttl) and is deleted (lease revoked) on a
// clean stop. The publisher (statuspub) runs beside collection and never
// blocks it: config changes only nudge it through a one-slot channel, and
// an etcd outage only delays the next write. This file assembles the
// document.

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"runtime"
	"sort"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/logcollect/logcollect/logagent/internal/collect"
	"github.com/logcollect/logcollect/logagent/internal/configsource"
	"github.com/logcollect/logcollect/logagent/internal/statuspub"
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
	inRollout bool // a rollout selected this agent: its status is written at once, lag refreshed at status_interval
	health    health
	lastErr   *ErrorStatus
}

// health counts, since the running config was applied, what the rollout
// gate judges (fleet.Health).
type health struct {
	failing       map[string]bool // files that failed to open or read, each counted once
	read, perm    int64
	matchedBefore int // files the config before the running one matched when it was replaced (-1: none before)
}

func newStatusReporter(a *Agent) *statusReporter {
	return &statusReporter{a: a, started: time.Now().UTC(), kick: make(chan struct{}, 1), config: ConfigStatus{State: ConfigNone},
		health: health{failing: map[string]bool{}, matchedBefore: -1}}
}

func (s *statusReporter) nudge() {
	select {
	case s.kick <- struct{}{}:
	default:
	}
}

// applied records the desired config that now runs (changed: its entries
// or sources differ from the previous one, so the health counts restart
// and matchedBefore is what the previous one matched, -1 for none);
// a config refused by the policy shows as rejected, naming the source,
// while the last good version of that source runs.
func (s *statusReporter) applied(origin string, d configsource.Desired, changed bool, matchedBefore int) {
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
		s.health.matchedBefore = matchedBefore
		s.health.failing, s.health.read, s.health.perm = map[string]bool{}, 0, 0
	}
	s.config, s.groups, s.sources = c, d.Groups, d.Sources
	s.inRollout = d.InRollout()
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
	stats := statCache{}
	files, lag := a.fileStatuses(stats)
	a.mu.Lock()
	var running []collect.Entry
	if a.desired != nil {
		running = a.desired.Entries
	}
	a.mu.Unlock()
	matched := filesMatched(running, stats)
	s.mu.Lock()
	st.Config = s.config
	st.Groups, st.Sources = s.groups, s.sources // replaced whole on change, never mutated
	st.Health = fleet.Health{ReadErrors: s.health.read, PermissionErrors: s.health.perm, FilesMatched: matched, FilesMatchedBefore: s.health.matchedBefore, Lag: lag}
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
	st.Kubernetes = a.kubeStatus()
	if len(st.Files) > MaxStatusFiles {
		st.FilesOmitted = len(st.Files) - MaxStatusFiles
		st.Files = st.Files[:MaxStatusFiles]
	}
	return st
}

// statCache holds the stats of one status snapshot: its file list and its
// count of matched files stat the same paths (with 1,000 files, 2,000
// stats every status_interval).
type statCache map[string]pathStat

type pathStat struct {
	st  syscall.Stat_t
	err error
}

// stat is os.Stat's answer for path, once per snapshot, without a
// FileInfo per path.
func (c statCache) stat(path string) (*syscall.Stat_t, error) {
	if p, ok := c[path]; ok {
		return &p.st, p.err
	}
	var p pathStat
	for {
		if p.err = syscall.Stat(path, &p.st); p.err != syscall.EINTR {
			break
		}
	}
	c[path] = p
	return &p.st, p.err
}

// fileStatuses reads the positions from the checkpoint store (the durable,
// acknowledged offsets) for the files of the running entries, and the sizes
// from the files themselves (through stats).
func (a *Agent) fileStatuses(stats statCache) ([]FileStatus, int64) {
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
		if st, err := stats.stat(cp.Path); err == nil && uint64(st.Dev) == cp.Device && st.Ino == cp.Inode {
			fs.Size = st.Size
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

// filesMatched counts the regular files the entries' globs match now (not
// excluded), each file once: what the rollout gate compares before and
// after a switch. From the file system, not the harvesters, so a config
// just applied is not judged before its first scan. stats may hold stats
// of the same snapshot (see statCache).
func filesMatched(entries []collect.Entry, stats statCache) int {
	seen := map[string]bool{}
	for i := range entries {
		e := &entries[i]
		if e.Type == collect.TypeJournald {
			continue
		}
		matches, _ := e.Glob() // validated by collect.Parse
		for _, m := range matches {
			if seen[m] || e.Excluded(m) {
				continue
			}
			if st, err := stats.stat(m); err == nil && st.Mode&syscall.S_IFMT == syscall.S_IFREG {
				seen[m] = true
			}
		}
	}
	return len(seen)
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
		if specs[i].Matches(path) {
			return true
		}
	}
	return false
}

func sameFile(fi os.FileInfo, dev, ino uint64) bool {
	st, ok := fi.Sys().(*syscall.Stat_t)
	return ok && uint64(st.Dev) == dev && st.Ino == ino
}

// run publishes the status (statuspub) on the shared client until ctx is
// done.
func (s *statusReporter) run(ctx context.Context) {
	a := s.a
	cli, ok := a.etcdClient(ctx) // connecting is logged by connectEtcd
	if !ok {
		return
	}
	e := a.cfg.Etcd
	p, err := statuspub.New(statuspub.Options{Client: cli, Key: a.cfg.StatusKey(a.ip), TTL: e.StatusTTL, Interval: e.StatusInterval, Refresh: e.StatusRefresh,
		Timeout: e.DialTimeout, Snapshot: s.snapshot, Fast: s.selected, Spread: e.StatusSpread, Kick: s.kick, Log: a.log,
		Explain: func(err error) error { return etcdconf.Explain(err, e.Settings) }, Written: a.m.StatusWrites.Inc})
	if err != nil {
		a.log.Error("fleet status", "err", err)
		return
	}
	p.Run(ctx)
}

// selected tells whether a rollout selected this agent.
func (s *statusReporter) selected() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.inRollout
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
