package agent

// [kubernetes] enabled: the pod cache of the node (kubemeta) gives the
// harvesters their records' pod metadata, and "kubernetes" collect entries
// become file entries derived from the node's pods, reconciled through the
// same path as the operator's entries (one implementation of tasks). A pod
// that goes away keeps its derived entries until their files are read to
// the end (drained), then its tasks stop.

import (
	"context"
	"log/slog"
	"os"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/logcollect/logcollect/logagent/internal/collect"
	"github.com/logcollect/logcollect/logagent/internal/harvester"
	"github.com/logcollect/logcollect/logagent/internal/kubemeta"
	"github.com/logcollect/logcollect/pkg/logging"
)

// drainTimeout bounds how long a gone pod's files are read before its
// tasks stop anyway (a file that never ends in a newline, a deleted file
// still open).
const drainTimeout = 5 * time.Minute

type kubeAgent struct {
	cache *kubemeta.Cache
	dirs  kubemeta.Dirs
	warn  *logging.Limited

	// mu serialises setEntries: the etcd watch and pod changes both
	// reconcile.
	mu       sync.Mutex
	entries  []collect.Entry      // the collect config as applied
	initial  map[types.UID]bool   // pods in the first list: their files start per the entry's start
	derived  map[string]derived   // by derived entry key, as last reconciled
	draining map[string]time.Time // derived keys of gone pods: since when
}

type derived struct {
	entry collect.Entry
	uid   string
}

// newKube connects to the API server (or prepares the in-cluster client);
// the watch starts in startKube.
func newKube(a *Agent, client kubemeta.Pods) (*kubeAgent, error) {
	k := a.cfg.Kubernetes
	node := k.NodeName
	if node == "" {
		node = a.hostname
	}
	if client == nil {
		var err error
		if client, err = kubemeta.Connect(k.Kubeconfig); err != nil {
			return nil, err
		}
	}
	c, err := kubemeta.New(client, kubemeta.Options{NodeName: node, IncludeLabels: k.IncludeLabels,
		IncludeAnnotations: k.IncludeAnnotations, Wait: k.WaitForMetadata, Log: a.log})
	if err != nil {
		return nil, err
	}
	return &kubeAgent{cache: c, dirs: kubemeta.Dirs{Kubelet: k.KubeletDir, Log: k.LogDir}, warn: logging.NewLimited(10 * time.Minute),
		derived: map[string]derived{}, draining: map[string]time.Time{}}, nil
}

// pods is the harvesters' metadata source: nil (no interface holding a
// nil pointer) when Kubernetes is off.
func (a *Agent) pods() harvester.Pods {
	if a.kube == nil {
		return nil
	}
	return a.kube.cache
}

// kubeStatus is the status document's kubernetes part.
func (a *Agent) kubeStatus() *kubemeta.Status {
	if a.kube == nil {
		return nil
	}
	s := a.kube.cache.Status()
	return &s
}

// startKube runs the watch and re-derives the entries when pods change
// and, while pods drain, every scan interval; stop waits for both.
func (a *Agent) startKube() (stop func()) {
	if a.kube == nil {
		return func() {}
	}
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Add(2)
	go func() { defer wg.Done(); a.kube.cache.Run(ctx) }()
	go func() {
		defer wg.Done()
		// Pods are derived once the first list is in (the events of that
		// list may come before the informer calls itself synced).
		if !a.kube.cache.WaitSynced(ctx) {
			return
		}
		a.setEntries(nil, false)
		tick := time.NewTicker(a.cfg.Agent.ScanInterval)
		defer tick.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-a.kube.cache.Changed():
			case <-tick.C:
				a.kube.mu.Lock()
				idle := len(a.kube.draining) == 0
				a.kube.mu.Unlock()
				if idle {
					continue
				}
			}
			a.setEntries(nil, false)
		}
	}()
	return func() { cancel(); wg.Wait() }
}

// setEntries reconciles the tasks to entries (replace) or to the entries
// applied last, with "kubernetes" entries expanded to the files of the
// node's pods.
func (a *Agent) setEntries(entries []collect.Entry, replace bool) {
	k := a.kube
	if k == nil {
		a.reconcile(entries)
		return
	}
	k.mu.Lock()
	defer k.mu.Unlock()
	if replace {
		k.entries = entries
	}
	a.reconcile(a.expand())
}

// expand is the operator's entries with each kubernetes entry replaced by
// its derived file entries (those allowed_paths permits), plus the entries
// of gone pods that are still draining. Called under k.mu.
func (a *Agent) expand() []collect.Entry {
	k := a.kube
	var out []collect.Entry
	var pods []*corev1.Pod
	synced := k.cache.Synced()
	if synced {
		pods = k.cache.Pods()
		if k.initial == nil {
			k.initial = map[types.UID]bool{}
			for _, p := range pods {
				k.initial[p.UID] = true
			}
		}
	}
	fresh := func(p *corev1.Pod) bool { return !k.initial[p.UID] }
	now := map[string]derived{}
	policy := a.cfg.Agent.CollectPolicy()
	seen := map[string]bool{}
	for _, e := range k.entries {
		if e.Type != collect.TypeKubernetes {
			out = append(out, e)
			seen[e.Key()] = true
			continue
		}
		if !synced {
			continue
		}
		ds, warnings := kubemeta.Derive(e, pods, k.dirs, fresh)
		for _, w := range warnings {
			k.warn.Log(a.log, slog.LevelWarn, w, "kubernetes collect entry: "+w)
		}
		for _, d := range ds {
			key := d.Entry.Key()
			if err := policy.Check([]collect.Entry{d.Entry}); err != nil {
				k.warn.Log(a.log, slog.LevelWarn, key, "kubernetes collect entry: a pod's files are not collected", "path", d.Entry.Path, "err", err)
				continue
			}
			if seen[key] {
				continue // the first entry naming a file wins, as in one config
			}
			seen[key] = true
			now[key] = derived{entry: d.Entry, uid: d.PodUID}
			out = append(out, d.Entry)
		}
	}
	// Entries of pods gone (or no longer selected) drain before they stop.
	for key, d := range k.derived {
		if _, ok := now[key]; ok || seen[key] || !synced {
			if ok || seen[key] {
				delete(k.draining, key)
			}
			if !synced {
				now[key] = d
				out = append(out, d.entry)
			}
			continue
		}
		since, ok := k.draining[key]
		if !ok {
			since = time.Now()
			k.draining[key] = since
			a.log.Info("pod gone: reading its files to the end before stopping", "path", d.entry.Path, "pod_uid", d.uid)
		}
		if a.drained(d.entry) || time.Since(since) > drainTimeout {
			delete(k.draining, key)
			a.log.Info("pod gone and its files read: stopping", "path", d.entry.Path, "pod_uid", d.uid, "drained", time.Since(since) <= drainTimeout)
			continue
		}
		now[key] = d
		out = append(out, d.entry)
	}
	k.derived = now
	return out
}

// drained reports whether every file of a derived entry was read to its
// end and acknowledged: each file the glob matches has a checkpoint at its
// size, and no harvester still reads a file of it that was deleted.
func (a *Agent) drained(e collect.Entry) bool {
	files, _ := e.Glob()
	done := map[string]bool{}
	for key, cp := range a.store.Entries() {
		if key.Topic() != e.Topic {
			continue
		}
		if !e.PathMatches(cp.Path) {
			continue
		}
		fi, err := os.Stat(cp.Path)
		switch {
		case err == nil && sameFile(fi, cp.Device, cp.Inode):
			if cp.Offset < fi.Size() {
				return false
			}
			done[cp.Path] = true
		case a.live(key):
			return false // deleted or replaced while its harvester still reads it
		}
	}
	for _, f := range files {
		if fi, err := os.Stat(f); err == nil && fi.Size() > 0 && !done[f] {
			return false // not even opened yet
		}
	}
	return true
}
