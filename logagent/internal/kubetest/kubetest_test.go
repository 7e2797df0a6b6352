package kubetest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/logcollect/logcollect/devkit/testkit"
	"github.com/logcollect/logcollect/logagent/internal/agent"
	"github.com/logcollect/logcollect/logagent/internal/config"
	"github.com/logcollect/logcollect/logagent/internal/kubemeta"
	kt "github.com/logcollect/logcollect/logagent/internal/testutil"
	"github.com/logcollect/logcollect/pkg/logging"
)

const (
	node  = "node-1"
	topic = "k8s_log"
)

type env struct {
	api   *testkit.KubeAPIServer
	kube  kubernetes.Interface
	stack *kt.Stack
	dir   string
	cfg   config.Config
	logs  *testkit.Buffer
}

func start(t *testing.T) *env {
	t.Helper()
	api := testkit.StartKubeAPIServer(t)
	kubeconfig, err := api.Kubeconfig()
	if err != nil {
		t.Fatal(err)
	}
	rc, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		t.Fatal(err)
	}
	kube, err := kubernetes.NewForConfig(rc)
	if err != nil {
		t.Fatal(err)
	}
	st := kt.StartStack(t)
	dir := t.TempDir()
	cfg := config.Default()
	cfg.Kafka.Client.Brokers = []string{st.Kafka.Addr()}
	cfg.Etcd.Endpoints = []string{st.Etcd.Endpoint()}
	cfg.Etcd.StatusInterval = 200 * time.Millisecond
	cfg.Agent.IP = "127.0.0.1"
	cfg.Agent.Hostname = node
	cfg.Agent.DataDir = filepath.Join(dir, "data")
	cfg.Agent.HTTPListen = ""
	cfg.Agent.AllowedPaths = []string{dir + "/**"}
	cfg.Agent.ScanInterval = 100 * time.Millisecond
	cfg.Agent.PollInterval = 50 * time.Millisecond
	cfg.Agent.CheckpointInterval = 100 * time.Millisecond
	cfg.Agent.ShutdownTimeout = 5 * time.Second
	cfg.Kubernetes = config.Kubernetes{Enabled: true, NodeName: node, Kubeconfig: kubeconfig,
		IncludeLabels: []string{"app", "team", "app.kubernetes.io/name"}, IncludeAnnotations: []string{"owner"},
		WaitForMetadata: 10 * time.Second, KubeletDir: filepath.Join(dir, "kubelet"), LogDir: filepath.Join(dir, "log"), DockerDir: filepath.Join(dir, "docker")}
	return &env{api: api, kube: kube, stack: st, dir: dir, cfg: cfg, logs: &testkit.Buffer{}}
}

// run starts the agent; it stops at the end of the test.
func (e *env) run(t *testing.T) {
	t.Helper()
	log, _ := logging.New(e.logs, "debug", "text")
	a, err := agent.New(e.cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	var once sync.Once
	t.Cleanup(func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("agent run: %v", err)
			}
			if t.Failed() {
				t.Logf("agent log:\n%s", e.logs.String())
			}
		})
	})
}

func (e *env) put(t *testing.T, config string) {
	t.Helper()
	e.stack.PutCollect(t, strings.ReplaceAll(config, "DIR", e.dir))
}

// pod creates a pod on the node (the apiserver assigns its uid) with an
// emptyDir volume "logs" mounted at /data/logs in container "app".
func (e *env) pod(t *testing.T, ns, name string, labels, annotations map[string]string) *corev1.Pod {
	t.Helper()
	ctx := context.Background()
	if _, err := e.kube.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{}); err != nil {
		if _, err := e.kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	p := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns, Labels: labels, Annotations: annotations},
		Spec: corev1.PodSpec{NodeName: node,
			Containers: []corev1.Container{{Name: "app", Image: "busybox:1.36",
				VolumeMounts: []corev1.VolumeMount{{Name: "logs", MountPath: "/data/logs"}}}},
			Volumes: []corev1.Volume{{Name: "logs", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}},
		},
	}
	p, err := e.kube.CoreV1().Pods(ns).Create(ctx, p, metav1.CreateOptions{})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// stdout is the kubelet's log file of the pod's container.
func (e *env) stdout(p *corev1.Pod) string {
	return filepath.Join(e.dir, "log", "pods", fmt.Sprintf("%s_%s_%s", p.Namespace, p.Name, p.UID), "app", "0.log")
}

// volume is a file in the pod's emptyDir "logs".
func (e *env) volume(p *corev1.Pod, name string) string {
	return filepath.Join(e.dir, "kubelet", "pods", string(p.UID), "volumes", "kubernetes.io~empty-dir", "logs", name)
}

// appendLines writes lines (CRI-framed when cri) and returns the messages.
func appendLines(t *testing.T, path, prefix string, n int, cri bool) []string {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var msgs []string
	for i := range n {
		m := fmt.Sprintf("%s %d", prefix, i)
		line := m
		if cri {
			line = time.Now().UTC().Format(time.RFC3339Nano) + " stdout F " + m
		}
		if _, err := fmt.Fprintln(f, line); err != nil {
			t.Fatal(err)
		}
		msgs = append(msgs, m)
	}
	return msgs
}

// k8sRecord is a record's kubernetes part.
type k8sRecord struct {
	Namespace string `json:"namespace"`
	Pod       struct {
		Name string `json:"name"`
		UID  string `json:"uid"`
	} `json:"pod"`
	Container struct {
		Name string `json:"name"`
	} `json:"container"`
	Node struct {
		Name string `json:"name"`
	} `json:"node"`
	Labels      map[string]string `json:"labels"`
	Annotations map[string]string `json:"annotations"`
}

func meta(t *testing.T, r kt.Record) k8sRecord {
	var v struct {
		Kubernetes k8sRecord `json:"kubernetes"`
	}
	if err := json.Unmarshal(r.Value, &v); err != nil {
		t.Fatalf("record %s: %v", r.Value, err)
	}
	return v.Kubernetes
}

// wait reads the topic until every message in want arrived.
func (e *env) wait(t *testing.T, want []string, d time.Duration) map[string]kt.Record {
	t.Helper()
	got := map[string]kt.Record{}
	kt.WaitFor(t, e.stack.Kafka.Addr(), topic, d, func(rs []kt.Record) bool {
		for _, r := range rs {
			got[r.Message] = r
		}
		for _, w := range want {
			if _, ok := got[w]; !ok {
				return false
			}
		}
		return true
	})
	for _, w := range want {
		if _, ok := got[w]; !ok {
			t.Fatalf("%q never reached Kafka (%d records)", w, len(got))
		}
	}
	return got
}

// status reads the agent's published status.
func (e *env) status(t *testing.T) agent.Status {
	t.Helper()
	resp, err := e.stack.Cli.Get(context.Background(), e.cfg.StatusKey("127.0.0.1"))
	if err != nil {
		t.Fatal(err)
	}
	var s agent.Status
	if len(resp.Kvs) > 0 {
		if err := json.Unmarshal(resp.Kvs[0].Value, &s); err != nil {
			t.Fatal(err)
		}
	}
	return s
}

func (e *env) waitStatus(t *testing.T, what string, cond func(*kubemeta.Status) bool) {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(100 * time.Millisecond) {
		if s := e.status(t); s.Kubernetes != nil && cond(s.Kubernetes) {
			return
		}
	}
	t.Fatalf("status never showed %s: %+v", what, e.status(t).Kubernetes)
}

// TestPodLabelsReachRecords: the records of a pod's container log (a plain
// file entry over /var/log/pods) carry its namespace, name, uid, container,
// node and the included labels and annotations, and nothing else of it; a
// file of a pod the API server does not know goes out after the wait with
// what its path says.
func TestPodLabelsReachRecords(t *testing.T) {
	e := start(t)
	p := e.pod(t, "web", "web-1", map[string]string{"app": "web", "team": "shop", "secret": "x", "app.kubernetes.io/name": "store"},
		map[string]string{"owner": "ops", "note": "not included"})
	want := appendLines(t, e.stdout(p), "web-1 says", 20, true)
	ghost := filepath.Join(e.dir, "log", "pods", "web_ghost-1_00000000-0000-0000-0000-000000000000", "app", "0.log")
	ghostLines := appendLines(t, ghost, "ghost says", 3, true)
	e.put(t, `[{"path":"DIR/log/pods/*/*/*.log","topic":"k8s_log","format":"cri","start":"beginning"}]`)
	e.run(t)
	got := e.wait(t, append(want, ghostLines...), 60*time.Second)
	for _, m := range want {
		k := meta(t, got[m])
		if k.Namespace != "web" || k.Pod.Name != "web-1" || k.Pod.UID != string(p.UID) || k.Container.Name != "app" || k.Node.Name != node ||
			fmt.Sprint(k.Labels) != "map[app:web app_kubernetes_io/name:store team:shop]" || fmt.Sprint(k.Annotations) != "map[owner:ops]" {
			t.Fatalf("record %s: kubernetes %+v", got[m].Value, k)
		}
	}
	k := meta(t, got[ghostLines[0]])
	if k.Pod.Name != "ghost-1" || k.Labels != nil || k.Node.Name != node {
		t.Errorf("record of an unknown pod: %+v: want what its path says", k)
	}
	if s := e.status(t).Kubernetes; s == nil || s.API != kubemeta.APIOK || s.Pods != 1 {
		t.Errorf("status %+v: want the API ok and 1 pod", s)
	}
}

// TestDiscoveryFollowsPodsAndDrains: a kubernetes entry follows a pod
// created while the agent runs (stdout and its annotated volume file, read
// from the beginning), not a pod its selector excludes; a deleted pod's
// files are read to the end, then its tasks stop.
func TestDiscoveryFollowsPodsAndDrains(t *testing.T) {
	e := start(t)
	e.put(t, `[{"type":"kubernetes","topic":"k8s_log","selector":"app=web"}]`)
	e.run(t)
	e.waitStatus(t, "the API ok", func(s *kubemeta.Status) bool { return s.API == kubemeta.APIOK })

	ann := map[string]string{kubemeta.AnnotationPaths: "/data/logs/*.log", kubemeta.AnnotationFormat: "raw"}
	web := e.pod(t, "web", "web-1", map[string]string{"app": "web"}, ann)
	other := e.pod(t, "web", "cache-1", map[string]string{"app": "cache"}, ann)
	// The kubelet writes the files once the pod runs: after the agent saw it.
	want := appendLines(t, e.stdout(web), "web-1 stdout", 10, true)
	want = append(want, appendLines(t, e.volume(web, "app.log"), "web-1 volume", 10, false)...)
	excluded := appendLines(t, e.volume(other, "app.log"), "cache-1 volume", 5, false)
	excluded = append(excluded, appendLines(t, e.stdout(other), "cache-1 stdout", 5, true)...)
	got := e.wait(t, want, 60*time.Second)
	if k := meta(t, got["web-1 volume 0"]); k.Pod.Name != "web-1" || k.Container.Name != "app" || k.Labels["app"] != "web" {
		t.Errorf("volume record kubernetes %+v", k)
	}

	// Deleted: what it wrote last is still shipped, then the tasks stop.
	last := appendLines(t, e.volume(web, "app.log"), "web-1 last words", 200, false)
	if err := e.kube.CoreV1().Pods("web").Delete(context.Background(), "web-1", metav1.DeleteOptions{GracePeriodSeconds: new(int64)}); err != nil {
		t.Fatal(err)
	}
	e.wait(t, last, 60*time.Second)
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(e.logs.String(), "pod gone and its files read: stopping"); time.Sleep(100 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("the deleted pod's tasks never stopped")
		}
	}
	if strings.Contains(e.logs.String(), "drained=false") {
		t.Errorf("the deleted pod's tasks stopped by the timeout, not drained")
	}
	for _, r := range kt.ReadAll(t, e.stack.Kafka.Addr(), topic) {
		for _, x := range excluded {
			if r.Message == x {
				t.Fatalf("%q of a pod the selector excludes was shipped", x)
			}
		}
	}
}

// TestAPIServerDown: with the API server stopped, files of cached pods are
// still collected with their metadata, and the status says the API is
// unavailable; when it is back, it says ok again.
func TestAPIServerDown(t *testing.T) {
	e := start(t)
	p := e.pod(t, "web", "web-1", map[string]string{"app": "web"}, nil)
	e.put(t, `[{"path":"DIR/log/pods/*/*/*.log","topic":"k8s_log","format":"cri","start":"beginning"}]`)
	first := appendLines(t, e.stdout(p), "before", 5, true)
	e.run(t)
	e.wait(t, first, 60*time.Second)

	e.api.Stop()
	e.waitStatus(t, "the API unavailable", func(s *kubemeta.Status) bool { return s.API == kubemeta.APIUnavailable && s.Error != "" })
	during := appendLines(t, e.stdout(p), "during the outage", 5, true)
	got := e.wait(t, during, 60*time.Second)
	if k := meta(t, got[during[4]]); k.Labels["app"] != "web" || k.Pod.UID != string(p.UID) {
		t.Errorf("record during the outage: %+v: want the cached metadata", k)
	}
	if err := e.api.Start(); err != nil {
		t.Fatal(err)
	}
	e.waitStatus(t, "the API ok again", func(s *kubemeta.Status) bool { return s.API == kubemeta.APIOK })
}

// TestTenThousandLabels: a pod with 10,000 labels costs the records only
// the included ones, and the agent's heap stays small.
func TestTenThousandLabels(t *testing.T) {
	e := start(t)
	labels := map[string]string{"app": "web"}
	for i := range 10000 {
		labels[fmt.Sprintf("bulk.example.com/label-%05d", i)] = fmt.Sprintf("value-%05d", i)
	}
	p := e.pod(t, "web", "web-1", labels, nil)
	want := appendLines(t, e.stdout(p), "labelled", 2000, true)
	e.put(t, `[{"path":"DIR/log/pods/*/*/*.log","topic":"k8s_log","format":"cri","start":"beginning"}]`)
	runtime.GC()
	var before runtime.MemStats
	runtime.ReadMemStats(&before)
	e.run(t)
	got := e.wait(t, want, 60*time.Second)
	for _, m := range want[:10] {
		r := got[m]
		if k := meta(t, r); len(k.Labels) != 1 || k.Labels["app"] != "web" || len(r.Value) > 2048 {
			t.Fatalf("record of %d bytes, labels %d: want the one included", len(r.Value), len(k.Labels))
		}
	}
	runtime.GC()
	var after runtime.MemStats
	runtime.ReadMemStats(&after)
	if grown := int64(after.HeapAlloc) - int64(before.HeapAlloc); grown > 64<<20 {
		t.Errorf("heap grew %d MB with the pod cached and its records sent", grown>>20)
	}
}
