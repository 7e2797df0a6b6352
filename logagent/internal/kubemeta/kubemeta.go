// Package kubemeta keeps the agent's view of the pods on its node: one
// watch of the API server (field selector spec.nodeName) through a
// client-go informer, indexed by pod uid, namespace/name and container id.
// The harvesters look up the metadata of a file's pod in it (Lookup); the
// "kubernetes" collect entries derive their files from it (Pods). The API
// server being down stops neither: the cache keeps what it had and Status
// says so.
package kubemeta

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/klog/v2"

	"github.com/logcollect/logcollect/logagent/internal/podpath"
	"github.com/logcollect/logcollect/pkg/fleet"
	"github.com/logcollect/logcollect/pkg/record"
)

// AnnotationPrefix marks the annotations the agent reads itself (they are
// kept in the cache whatever the include list says).
const AnnotationPrefix = "logcollect.io/"

// goneKeep is how long a deleted pod's metadata stays for the files it
// left (read to the end after the pod is gone), and goneMax bounds them.
const (
	goneKeep = 10 * time.Minute
	goneMax  = 1000
)

// Options configure a Cache.
type Options struct {
	NodeName           string
	IncludeLabels      []string // copied into records (record.Kubernetes.Labels)
	IncludeAnnotations []string
	Wait               time.Duration // harvester.Pods.Wait
	Log                *slog.Logger
}

// API states in Status.
const (
	APIConnecting  = "connecting"  // no list has succeeded yet
	APIOK          = "ok"          // the last list or watch call succeeded
	APIUnavailable = "unavailable" // the last call failed: collecting with the cached metadata
)

// Status is the cache's part of the agent status (the fleet contract's,
// so the CLI and the console read it too).
type Status = fleet.KubernetesStatus

// Cache is the pod metadata of one node.
type Cache struct {
	o        Options
	client   Pods
	informer cache.SharedIndexInformer
	changed  chan struct{}

	mu     sync.Mutex
	status Status
	gone   map[string]goneEntry // by uid: pods deleted lately
}

type goneEntry struct {
	pod *corev1.Pod
	at  time.Time
}

// Index names.
const (
	byUID         = "uid"
	byContainerID = "container-id"
)

// RouteLogs sends client-go's own logs (klog: watch errors, retries) to
// log instead of stderr in klog's format. klog's logger is process-wide:
// the agent's main sets it once (setProcessGlobals).
func RouteLogs(log *slog.Logger) { klog.SetSlogLogger(log.With("component", "client-go")) }

// Pods is what the cache needs of the API server: to list and watch pods
// (in every namespace). client-go's typed client of pods has these methods;
// the tests hand in the fake clientset's.
type Pods interface {
	List(ctx context.Context, opts metav1.ListOptions) (*corev1.PodList, error)
	Watch(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error)
}

// Connect builds a client of pods from a kubeconfig file, or from the
// pod's service account when kubeconfig is "". It is a REST client that
// knows only core/v1: client-go's clientset would link every API group
// into the agent (its binary grew from 21 to 58 MB, and the pages the
// groups' registration touches at start-up added about 30 MB of resident
// memory on every host, Kubernetes or not).
func Connect(kubeconfig string) (Pods, error) {
	var cfg *rest.Config
	var err error
	if kubeconfig == "" {
		if cfg, err = rest.InClusterConfig(); err != nil {
			return nil, fmt.Errorf("kubernetes in-cluster config (set [kubernetes] kubeconfig outside a pod): %w", err)
		}
	} else if cfg, err = clientcmd.BuildConfigFromFlags("", kubeconfig); err != nil {
		return nil, fmt.Errorf("kubernetes config %s: %w", kubeconfig, err)
	}
	cfg.UserAgent = "logagent"
	return newPodsClient(cfg)
}

// New prepares the watch of o.NodeName's pods; Run starts it.
func New(client Pods, o Options) (*Cache, error) {
	if o.NodeName == "" {
		return nil, errors.New("kubernetes: no node name: set [kubernetes] node_name (the DaemonSet sets LOGAGENT_KUBERNETES_NODE_NAME from spec.nodeName)")
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	c := &Cache{o: o, client: client, changed: make(chan struct{}, 1), gone: map[string]goneEntry{},
		status: Status{Node: o.NodeName, API: APIConnecting, Since: time.Now().UTC()}}
	sel := fields.OneTermEqualSelector("spec.nodeName", o.NodeName).String()
	lw := &cache.ListWatch{
		ListWithContextFunc: func(ctx context.Context, opts metav1.ListOptions) (runtime.Object, error) {
			opts.FieldSelector = sel
			l, err := client.List(ctx, opts)
			c.noteAPI(err)
			return l, err
		},
		WatchFuncWithContext: func(ctx context.Context, opts metav1.ListOptions) (watch.Interface, error) {
			opts.FieldSelector = sel
			w, err := client.Watch(ctx, opts)
			c.noteAPI(err)
			return w, err
		},
	}
	c.informer = cache.NewSharedIndexInformerWithOptions(lw, &corev1.Pod{}, cache.SharedIndexInformerOptions{
		Indexers:          cache.Indexers{byUID: indexUID, byContainerID: indexContainerIDs},
		ObjectDescription: "pods of node " + o.NodeName,
	})
	if err := c.informer.SetTransform(c.trim); err != nil {
		return nil, fmt.Errorf("kubernetes informer: %w", err)
	}
	if err := c.informer.SetWatchErrorHandlerWithContext(func(_ context.Context, _ *cache.Reflector, err error) {
		c.noteAPI(err)
	}); err != nil {
		return nil, fmt.Errorf("kubernetes informer: %w", err)
	}
	if _, err := c.informer.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    func(any) { c.nudge() },
		UpdateFunc: func(any, any) { c.nudge() },
		DeleteFunc: c.deleted,
	}); err != nil {
		return nil, fmt.Errorf("kubernetes informer: %w", err)
	}
	return c, nil
}

// Run watches until ctx is done.
func (c *Cache) Run(ctx context.Context) { c.informer.RunWithContext(ctx) }

// Synced reports whether the first list arrived.
func (c *Cache) Synced() bool { return c.informer.HasSynced() }

// WaitSynced waits until the first list arrived; false when ctx ended first.
func (c *Cache) WaitSynced(ctx context.Context) bool {
	return cache.WaitForCacheSync(ctx.Done(), c.informer.HasSynced)
}

// Changed receives (coalesced) after pods were added, changed or deleted.
func (c *Cache) Changed() <-chan struct{} { return c.changed }

// Wait is how long a file of an unknown pod waits for it (harvester.Pods).
func (c *Cache) Wait() time.Duration { return c.o.Wait }

// Status is the state of the watch.
func (c *Cache) Status() Status {
	c.mu.Lock()
	defer c.mu.Unlock()
	s := c.status
	s.Pods = len(c.informer.GetStore().ListKeys())
	return s
}

func (c *Cache) nudge() {
	select {
	case c.changed <- struct{}{}:
	default:
	}
}

// noteAPI records the outcome of a list or watch call: an outage is logged
// once, and so is the recovery.
func (c *Cache) noteAPI(err error) {
	if errors.Is(err, context.Canceled) {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	state, msg := APIOK, ""
	if err != nil {
		state, msg = APIUnavailable, err.Error()
	}
	if state == c.status.API && msg == c.status.Error {
		return
	}
	if state != c.status.API {
		c.status.Since = time.Now().UTC()
		if err != nil {
			c.o.Log.Warn("kubernetes API server unavailable; collecting with the cached pod metadata", "node", c.o.NodeName, "err", err)
		} else {
			c.o.Log.Info("kubernetes API server reachable; watching the node's pods", "node", c.o.NodeName)
		}
	}
	c.status.API, c.status.Error = state, msg
}

// trim keeps of a pod what the agent uses, before the informer stores it:
// label sets and annotations can be large, and managedFields always are.
// Labels stay whole (collect entries select on any of them); annotations
// only when included or the agent's own.
func (c *Cache) trim(obj any) (any, error) {
	p, ok := obj.(*corev1.Pod)
	if !ok {
		return obj, nil // a tombstone (cache.DeletedFinalStateUnknown)
	}
	t := &corev1.Pod{ObjectMeta: metav1.ObjectMeta{Name: p.Name, Namespace: p.Namespace, UID: p.UID,
		ResourceVersion: p.ResourceVersion, Labels: p.Labels, DeletionTimestamp: p.DeletionTimestamp}}
	for k, v := range p.Annotations {
		if strings.HasPrefix(k, AnnotationPrefix) || slices.Contains(c.o.IncludeAnnotations, k) {
			if t.Annotations == nil {
				t.Annotations = map[string]string{}
			}
			t.Annotations[k] = v
		}
	}
	t.Spec.NodeName = p.Spec.NodeName
	for _, ct := range p.Spec.Containers {
		t.Spec.Containers = append(t.Spec.Containers, corev1.Container{Name: ct.Name, VolumeMounts: ct.VolumeMounts})
	}
	for _, v := range p.Spec.Volumes {
		tv := corev1.Volume{Name: v.Name}
		tv.HostPath, tv.EmptyDir = v.HostPath, v.EmptyDir
		t.Spec.Volumes = append(t.Spec.Volumes, tv)
	}
	t.Status.Phase = p.Status.Phase
	for _, s := range p.Status.ContainerStatuses {
		t.Status.ContainerStatuses = append(t.Status.ContainerStatuses, corev1.ContainerStatus{Name: s.Name, ContainerID: s.ContainerID})
	}
	return t, nil
}

func (c *Cache) deleted(obj any) {
	if d, ok := obj.(cache.DeletedFinalStateUnknown); ok {
		obj = d.Obj
	}
	if p, ok := obj.(*corev1.Pod); ok {
		now := time.Now()
		c.mu.Lock()
		for uid, g := range c.gone {
			if now.Sub(g.at) > goneKeep || len(c.gone) >= goneMax {
				delete(c.gone, uid)
			}
		}
		c.gone[string(p.UID)] = goneEntry{pod: p, at: now}
		c.mu.Unlock()
	}
	c.nudge()
}

func indexUID(obj any) ([]string, error) {
	p, ok := obj.(*corev1.Pod)
	if !ok {
		return nil, nil
	}
	return []string{string(p.UID)}, nil
}

func indexContainerIDs(obj any) ([]string, error) {
	p, ok := obj.(*corev1.Pod)
	if !ok {
		return nil, nil
	}
	var ids []string
	for _, s := range p.Status.ContainerStatuses {
		if id := bareContainerID(s.ContainerID); id != "" {
			ids = append(ids, id)
		}
	}
	return ids, nil
}

// bareContainerID strips the runtime: docker://<id>, containerd://<id>.
func bareContainerID(id string) string {
	if _, after, ok := strings.Cut(id, "://"); ok {
		return after
	}
	return id
}

// Pods are the node's pods now (not the deleted ones), for discovery.
func (c *Cache) Pods() []*corev1.Pod {
	objs := c.informer.GetStore().List()
	out := make([]*corev1.Pod, 0, len(objs))
	for _, o := range objs {
		if p, ok := o.(*corev1.Pod); ok {
			out = append(out, p)
		}
	}
	return out
}

// pod finds the pod ref names, among the deleted ones too.
func (c *Cache) pod(ref podpath.Ref) *corev1.Pod {
	idx := c.informer.GetIndexer()
	first := func(objs []any, _ error) *corev1.Pod {
		for _, o := range objs {
			if p, ok := o.(*corev1.Pod); ok {
				return p
			}
		}
		return nil
	}
	var p *corev1.Pod
	switch {
	case ref.PodUID != "":
		p = first(idx.ByIndex(byUID, ref.PodUID))
	case ref.PodName != "":
		if o, ok, _ := idx.GetByKey(ref.Namespace + "/" + ref.PodName); ok {
			p, _ = o.(*corev1.Pod)
		}
	}
	if p == nil && ref.ContainerID != "" {
		p = first(idx.ByIndex(byContainerID, ref.ContainerID))
	}
	if p != nil {
		return p
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, g := range c.gone {
		if g.pod.UID == "" {
			continue
		}
		if string(g.pod.UID) == ref.PodUID || (g.pod.Namespace == ref.Namespace && g.pod.Name == ref.PodName) || hasContainerID(g.pod, ref.ContainerID) {
			return g.pod
		}
	}
	return nil
}

func hasContainerID(p *corev1.Pod, id string) bool {
	if id == "" {
		return false
	}
	for _, s := range p.Status.ContainerStatuses {
		if bareContainerID(s.ContainerID) == id {
			return true
		}
	}
	return false
}

// Lookup gives the record metadata of the pod ref names (harvester.Pods);
// ok is false while the pod is unknown, and k is then what ref says.
func (c *Cache) Lookup(ref podpath.Ref) (k *record.Kubernetes, ok bool) {
	p := c.pod(ref)
	if p == nil {
		k := &record.Kubernetes{Namespace: ref.Namespace, PodName: ref.PodName, PodUID: ref.PodUID,
			ContainerName: ref.ContainerName, ContainerID: ref.ContainerID, NodeName: c.o.NodeName}
		return k, false
	}
	return c.Meta(p, ref.ContainerName, ref.ContainerID, ref.Volume), true
}

// Meta is the record metadata of p's container (named, or by id, or the
// one container that mounts volume).
func (c *Cache) Meta(p *corev1.Pod, container, containerID, volume string) *record.Kubernetes {
	k := &record.Kubernetes{Namespace: p.Namespace, PodName: p.Name, PodUID: string(p.UID), NodeName: p.Spec.NodeName,
		ContainerName: container, ContainerID: containerID}
	for _, s := range p.Status.ContainerStatuses {
		if k.ContainerName == "" && k.ContainerID != "" && bareContainerID(s.ContainerID) == k.ContainerID {
			k.ContainerName = s.Name
		}
	}
	if k.ContainerName == "" && volume != "" {
		var mounting []string
		for _, ct := range p.Spec.Containers {
			for _, m := range ct.VolumeMounts {
				if m.Name == volume {
					mounting = append(mounting, ct.Name)
					break
				}
			}
		}
		if len(mounting) == 1 { // a volume shared by containers belongs to none of them
			k.ContainerName = mounting[0]
		}
	}
	if k.ContainerID == "" && k.ContainerName != "" {
		for _, s := range p.Status.ContainerStatuses {
			if s.Name == k.ContainerName {
				k.ContainerID = bareContainerID(s.ContainerID)
			}
		}
	}
	k.Labels = pick(p.Labels, c.o.IncludeLabels)
	k.Annotations = pick(p.Annotations, c.o.IncludeAnnotations)
	return k
}

// pick copies the included keys of m, sorted, de-dotted (record.Kubernetes).
func pick(m map[string]string, include []string) []record.KV {
	var out []record.KV
	for _, key := range include {
		if v, ok := m[key]; ok {
			out = append(out, record.KV{Key: strings.ReplaceAll(key, ".", "_"), Value: v})
		}
	}
	slices.SortFunc(out, func(a, b record.KV) int { return strings.Compare(a.Key, b.Key) })
	return slices.CompactFunc(out, func(a, b record.KV) bool { return a.Key == b.Key })
}
