// Package agent wires the agent together: checkpoint store, Kafka sink,
// one harvester task per collect entry, the etcd watch that reconciles
// those tasks, and the operational HTTP endpoints. It is built from the
// sink back to the source and stopped from the source toward the sink, so
// queues drain before the producer closes.
package agent

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/logcollect/logcollect/logagent/internal/checkpoint"
	"github.com/logcollect/logcollect/logagent/internal/collect"
	"github.com/logcollect/logcollect/logagent/internal/config"
	"github.com/logcollect/logcollect/logagent/internal/configsource"
	"github.com/logcollect/logcollect/logagent/internal/harvester"
	"github.com/logcollect/logcollect/logagent/internal/kubemeta"
	"github.com/logcollect/logcollect/logagent/internal/metrics"
	"github.com/logcollect/logcollect/logagent/internal/producer"
	"github.com/logcollect/logcollect/pkg/backoff"
	"github.com/logcollect/logcollect/pkg/etcdconf"
	"github.com/logcollect/logcollect/pkg/fleet"
	"github.com/logcollect/logcollect/pkg/obs"
)

// CacheFile holds the last good collect config in data_dir, run while etcd
// is unreachable at start: every source's config with its revision
// (configsource.EncodeCache); a plain collect config array (what older
// agents wrote) is still read, as the host key's config.
const CacheFile = "collect_config.json"

// Agent is one running agent.
type Agent struct {
	cfg   config.Config
	log   *slog.Logger
	reg   *prometheus.Registry
	m     *metrics.Metrics
	ready *obs.Readiness

	ip, hostname string
	hostID       string // what event ids hash: stable across restarts and IP changes (hostid.go)
	stateDir     string // data_dir, symlinks resolved: never collected (harvester.Options.StateDir)
	store        *checkpoint.Store
	sink         *producer.Kafka
	sched        *harvester.Scheduler // runs every file task's harvesters
	owners       *harvester.Owners    // which file entry reads a file that several entries match
	http         *obs.Server
	status       *statusReporter

	// etcd is the agent's one etcd client, shared by the config watch and
	// the status publisher; set by connectEtcd before etcdReady closes
	// (nil if it never connected).
	etcd      *clientv3.Client
	etcdReady chan struct{}

	kube *kubeAgent // [kubernetes] enabled (kubernetes.go); nil otherwise

	mu      sync.Mutex
	tasks   map[string]task // by collect.Entry.Key: a file entry's path, a journald entry's stream
	specs   map[string]collect.Entry
	desired *configsource.Desired // what runs (nil: nothing yet)
}

// New prepares an agent: it resolves the IP and hostname, opens the
// checkpoint store and the Kafka sink, and binds the HTTP listener.
func New(cfg config.Config, log *slog.Logger) (*Agent, error) { return newAgent(cfg, log, nil) }

// newAgent is New with the Kubernetes client given (tests: a fake
// clientset); nil connects as [kubernetes] says.
func newAgent(cfg config.Config, log *slog.Logger, kubeClient kubemeta.Pods) (*Agent, error) {
	a := &Agent{cfg: cfg, log: log, reg: obs.NewRegistry(), ready: obs.NewReadiness("etcd", "kafka"),
		tasks: map[string]task{}, specs: map[string]collect.Entry{}, owners: harvester.NewOwners(), etcdReady: make(chan struct{})}
	a.status = newStatusReporter(a)
	log = slog.New(errorRecorder{log.Handler(), a.status}) // the status shows the latest warning or error
	a.log = log
	a.m = metrics.New(a.reg)
	ip, why, err := outboundIP(cfg.Agent.IP)
	if err != nil {
		return nil, err
	}
	a.ip = ip
	a.hostname = cfg.Agent.Hostname
	if a.hostname == "" {
		if a.hostname, err = os.Hostname(); err != nil {
			return nil, fmt.Errorf("hostname (set [agent] hostname): %w", err)
		}
	}
	idWhy := ""
	if a.hostID, idWhy, err = hostID(cfg.Agent.DataDir, ip, cfg.Agent.HostID, MachineIDPath, log); err != nil {
		return nil, err
	}
	log.Info("agent identity", "ip", ip, "ip_source", why, "hostname", a.hostname, "collect_key", cfg.CollectKey(ip),
		"host_id", a.hostID, "host_id_source", idWhy)
	if cfg.Kubernetes.Enabled {
		if a.kube, err = newKube(a, kubeClient); err != nil {
			return nil, err
		}
	}
	if a.store, err = checkpoint.Open(cfg.Agent.DataDir, log); err != nil {
		return nil, err
	}
	if a.stateDir, err = filepath.EvalSymlinks(cfg.Agent.DataDir); err == nil {
		a.stateDir, err = filepath.Abs(a.stateDir)
	}
	if err != nil {
		return nil, fmt.Errorf("resolve data_dir %s: %w", cfg.Agent.DataDir, err)
	}
	a.store.OnSave = func(err error) {
		if err != nil {
			a.m.CheckpointSaveErrors.Inc()
			return
		}
		a.m.CheckpointSaved.SetToCurrentTime()
	}
	k := cfg.Kafka
	a.sink, err = producer.New(producer.Config{Client: k.Client, ChanMaxSize: k.ChanMaxSize, RequiredAcks: k.RequiredAcks, Compression: k.Compression,
		MaxMessageBytes: k.MaxMessageBytes, Idempotent: k.Idempotent, MaxInflightBytes: k.MaxInflightBytes,
		DeadLetterPath: filepath.Join(cfg.Agent.DataDir, "dead-letter.ndjson"), DeadLetterMaxBytes: k.DeadLetterMaxBytes, DeadLetterBackups: k.DeadLetterFiles}, log, a.m, a.ready)
	if err != nil {
		return nil, err
	}
	if a.http, err = obs.Listen(cfg.Agent.HTTPListen, obs.Handler(a.reg, a.ready, nil), log); err != nil {
		a.sink.Close(context.Background())
		return nil, err
	}
	return a, nil
}

// IP is the address the agent identifies as.
func (a *Agent) IP() string { return a.ip }

// HostID is the identity the agent's event ids hash.
func (a *Agent) HostID() string { return a.hostID }

// HTTPAddr is the bound metrics address, or "".
func (a *Agent) HTTPAddr() string {
	if a.http == nil {
		return ""
	}
	return a.http.Addr()
}

// Run collects until ctx is done, then stops reading, delivers in-flight
// lines within [agent] shutdown_timeout and saves checkpoints.
func (a *Agent) Run(ctx context.Context) error {
	bg, stopBG := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		a.store.Run(bg, a.cfg.Agent.CheckpointInterval, a.cfg.Agent.CheckpointRetention, a.live)
	}()
	connectCtx, stopConnect := context.WithCancel(context.Background())
	connected := make(chan struct{})
	go func() {
		defer close(connected)
		a.connectEtcd(connectCtx)
	}()
	stopStatus := a.startStatus()
	a.sched = harvester.NewScheduler(0, a.cfg.Agent.PollInterval)
	stopKube := a.startKube()
	if a.http != nil {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := a.http.Run(bg); err != nil {
				a.log.Error("metrics server", "err", err)
			}
		}()
	}

	// The last good config runs at once, so a host whose etcd is down
	// still collects.
	cache := filepath.Join(a.cfg.Agent.DataDir, CacheFile)
	if data, err := os.ReadFile(cache); err == nil {
		if d, err := configsource.FromCache(a.cfg.Agent.CollectPolicy(), data, a.cfg.Agent.Groups); err != nil {
			a.m.ConfigReloads.WithLabelValues("rejected").Inc()
			a.log.Error("cached collect config rejected; waiting for etcd", "path", cache, "err", err)
		} else {
			a.apply(d, "cache "+cache, false)
		}
	} else if !errors.Is(err, fs.ErrNotExist) {
		a.log.Error("read cached collect config", "path", cache, "err", err)
	}

	etcdDone := make(chan struct{})
	go func() {
		defer close(etcdDone)
		a.watchEtcd(ctx)
	}()
	<-ctx.Done()
	<-etcdDone

	// Stop from the source toward the sink.
	a.log.Info("stopping: reading stopped, delivering lines in flight", "deadline", a.cfg.Agent.ShutdownTimeout)
	deadline := time.Now().Add(a.cfg.Agent.ShutdownTimeout)
	stopKube()
	a.reconcile(nil)
	a.sched.Close()
	sctx, cancel := context.WithDeadline(context.Background(), deadline)
	err := a.sink.Close(sctx)
	cancel()
	if err != nil {
		a.log.Warn("shutdown", "err", err)
	}
	stopStatus() // revokes the status lease: the key goes at once
	stopConnect()
	<-connected
	if a.etcd != nil {
		a.etcd.Close()
	}
	stopBG()
	wg.Wait() // store.Run saves once more on its way out
	if serr := a.store.Save(); serr != nil {
		return fmt.Errorf("save checkpoints: %w", serr)
	}
	a.log.Info("stopped; checkpoints saved")
	return nil
}

func (a *Agent) live(key checkpoint.Key) bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	for _, t := range a.tasks {
		if t.Live(key) {
			return true
		}
	}
	return false
}

// apply runs a desired config from the config source (or the cache):
// every source in it passed collect.Policy.Load, as `logagent validate`
// does, and so did the merge; refused versions are logged once each and
// the last good version of their source keeps running.
func (a *Agent) apply(d configsource.Desired, origin string, cacheIt bool) {
	a.mu.Lock()
	prev := a.desired
	a.desired = &d
	a.mu.Unlock()
	for _, r := range d.Rejected {
		if prev != nil && slices.ContainsFunc(prev.Rejected, func(p fleet.Rejected) bool {
			return p.Source == r.Source && p.Revision == r.Revision && p.Reason == r.Reason
		}) {
			continue
		}
		a.m.ConfigReloads.WithLabelValues("rejected").Inc()
		a.log.Error("collect config rejected; the last good config keeps running", "source", r.Source, "revision", r.Revision, "err", r.Reason)
	}
	changed := prev == nil || !bytes.Equal(prev.Config, d.Config) || !slices.Equal(prev.Sources, d.Sources)
	if changed {
		a.setEntries(d.Entries, true)
		a.m.ConfigReloads.WithLabelValues("applied").Inc()
		a.log.Info("collect config applied", "source", origin, "entries", len(d.Entries), "groups", d.Groups)
	}
	before := -1
	if prev != nil {
		before = filesMatched(prev.Entries, statCache{})
	}
	a.status.applied(origin, d, changed, before)
	if cacheIt && changed {
		data, err := configsource.EncodeCache(d)
		if err == nil {
			err = checkpoint.WriteFileAtomic(filepath.Join(a.cfg.Agent.DataDir, CacheFile), data)
		}
		if err != nil {
			a.log.Error("cache collect config", "err", err)
		}
	}
}

// reconcile starts tasks for new entries, stops removed ones (after their
// in-flight lines are delivered), and restarts changed ones; checkpoints
// are keyed by file, so they survive.
func (a *Agent) reconcile(entries []collect.Entry) {
	want := map[string]collect.Entry{}
	order := map[string]int{}
	for i, e := range entries {
		want[e.Key()] = e
		order[e.Key()] = i
	}
	// Stop outside the lock: a stop waits for lines in flight, and the
	// checkpoint store's expiry asks live() meanwhile.
	a.mu.Lock()
	var stop []task
	for path, t := range a.tasks {
		if e, ok := want[path]; ok && collect.Equal(e, a.specs[path]) {
			continue
		}
		stop = append(stop, t)
		delete(a.tasks, path)
		delete(a.specs, path)
		a.log.Info("task stopping", "path", path)
	}
	a.mu.Unlock()
	var stopping sync.WaitGroup
	for _, t := range stop {
		stopping.Add(1)
		go func() { defer stopping.Done(); t.Close() }()
	}
	stopping.Wait()
	if len(stop) > 0 {
		a.log.Info("tasks stopped", "count", len(stop))
	}
	a.mu.Lock()
	defer a.mu.Unlock()
	// Start in the config's order: a task joins the file owners before it
	// scans, so an earlier entry is known to a later one whose glob
	// overlaps it, and the earlier one reads the file (harvester/owners.go).
	for _, e := range entries {
		path := e.Key()
		e = want[path]
		if _, ok := a.tasks[path]; ok {
			continue
		}
		if e.Type == collect.TypeJournald {
			a.tasks[path] = a.startJournal(e)
			a.specs[path] = e
			a.log.Info("task started", "journal", path, "topic", e.Topic)
			continue
		}
		ag := a.cfg.Agent
		a.tasks[path] = harvester.Start(harvester.Options{Entry: e, HostName: a.hostname, HostIP: a.ip, HostID: a.hostID, AllowedPaths: ag.AllowedPaths, AllowJournal: ag.AllowJournal, StateDir: a.stateDir,
			ScanInterval: ag.ScanInterval, PollInterval: ag.PollInterval, CloseInactive: ag.CloseInactive, PartialFlush: ag.PartialFlushTimeout, StopTimeout: ag.ShutdownTimeout,
			Scheduler: a.sched, Store: a.store, Sender: a.sink, Metrics: a.m, Log: a.log.With("topic", e.Topic),
			Owners: a.owners, Order: order[path], FileError: a.status.fileError, Pods: a.pods()})
		a.specs[path] = e
		a.log.Info("task started", "path", path, "topic", e.Topic)
	}
}

// connectEtcd creates the agent's one etcd client (etcdconf.Connect:
// with a username it authenticates while it is created, so etcd being down
// or refusing the password is retried here), then lets the config watch
// and the status publisher use it.
func (a *Agent) connectEtcd(ctx context.Context) {
	defer close(a.etcdReady)
	bo := backoff.Backoff{Min: 200 * time.Millisecond, Max: 15 * time.Second}
	cli, err := etcdconf.Connect(ctx, a.cfg.Etcd.Settings, &bo, func(err error) {
		a.ready.Set("etcd", err)
		a.log.Warn("read collect config from etcd; retrying, collecting with the current config meanwhile",
			"key", a.cfg.CollectKey(a.ip), "endpoints", a.cfg.Etcd.Endpoints, "err", err)
	})
	if errors.Is(err, etcdconf.ErrSettings) {
		a.ready.Set("etcd", err)
		a.log.Error("etcd client; collecting with the cached config only, no fleet status", "err", err)
	}
	a.etcd = cli
}

// etcdClient waits for the shared client; ok is false when ctx ended
// first or the client cannot be built.
func (a *Agent) etcdClient(ctx context.Context) (cli *clientv3.Client, ok bool) {
	select {
	case <-a.etcdReady:
		return a.etcd, a.etcd != nil
	case <-ctx.Done():
		return nil, false
	}
}

// watchEtcd runs the config source (the host key, the groups' configs
// and rollouts) on the shared client. Every failure is retryable:
// collection goes on with the current config meanwhile.
func (a *Agent) watchEtcd(ctx context.Context) {
	cli, ok := a.etcdClient(ctx)
	if !ok {
		return
	}
	var initial []configsource.Source
	a.mu.Lock()
	if a.desired != nil {
		initial = a.desired.Inputs
	}
	a.mu.Unlock()
	w, err := configsource.New(configsource.Options{Client: cli, HostKey: a.cfg.CollectKey(a.ip), Keys: fleet.Keys{CollectPattern: a.cfg.Etcd.CollectLogKey},
		Groups: a.cfg.Agent.Groups, HostID: a.hostID, Policy: a.cfg.Agent.CollectPolicy(), Timeout: a.cfg.Etcd.DialTimeout, Log: a.log, Initial: initial,
		Apply:     func(d configsource.Desired) { a.apply(d, "etcd", true) },
		Reachable: func(err error) { a.ready.Set("etcd", err) }})
	if err != nil {
		a.log.Error("collect config source; collecting with the cached config only", "err", err)
		return
	}
	w.Run(ctx)
}
