package kubemeta

import (
	"context"
	"fmt"
	"slices"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/logcollect/logcollect/logagent/internal/collect"
	"github.com/logcollect/logcollect/logagent/internal/podpath"
	"github.com/logcollect/logcollect/pkg/record"
)

func testPod(ns, name, uid, node string, labels map[string]string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, UID: types.UID(uid), Labels: labels,
			Annotations: map[string]string{AnnotationPaths: "/data/logs/*.log, /host/audit.log", "team": "a", "big": "x"}},
		Spec: corev1.PodSpec{NodeName: node,
			Containers: []corev1.Container{
				{Name: "app", VolumeMounts: []corev1.VolumeMount{{Name: "logs", MountPath: "/data/logs"}, {Name: "hostlogs", MountPath: "/host", SubPath: "web"}}},
				{Name: "sidecar"},
			},
			Volumes: []corev1.Volume{
				{Name: "logs", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}},
				{Name: "hostlogs", VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/srv/logs"}}},
			}},
		Status: corev1.PodStatus{ContainerStatuses: []corev1.ContainerStatus{{Name: "app", ContainerID: "containerd://abc"}, {Name: "sidecar", ContainerID: "containerd://def"}}},
	}
}

// startCache runs a cache of node-1 on a fake clientset holding pods.
func startCache(t *testing.T, o Options, pods ...*corev1.Pod) (*Cache, *fake.Clientset) {
	t.Helper()
	objs := make([]runtime.Object, 0, len(pods))
	for _, p := range pods {
		objs = append(objs, p)
	}
	client := fake.NewClientset(objs...)
	o.NodeName = "node-1"
	c, err := New(client.CoreV1().Pods(""), o)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { defer close(done); c.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	waitFor(t, "the first list", c.Synced)
	return c, client
}

func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

func TestLookup(t *testing.T) {
	c, client := startCache(t, Options{IncludeLabels: []string{"app", "app.kubernetes.io/name", "missing"}, IncludeAnnotations: []string{"team"}},
		testPod("web", "web-1", "u1", "node-1", map[string]string{"app": "web", "app.kubernetes.io/name": "shop", "other": "x"}))
	want := func(container, id string) *record.Kubernetes {
		return &record.Kubernetes{Namespace: "web", PodName: "web-1", PodUID: "u1", ContainerName: container, ContainerID: id, NodeName: "node-1",
			Labels:      []record.KV{{Key: "app", Value: "web"}, {Key: "app_kubernetes_io/name", Value: "shop"}},
			Annotations: []record.KV{{Key: "team", Value: "a"}}}
	}
	for _, tc := range []struct {
		path string
		want *record.Kubernetes
	}{
		{"/var/log/pods/web_web-1_u1/app/0.log", want("app", "abc")},
		{"/var/log/containers/web-1_web_sidecar-def.log", want("sidecar", "def")},
		{"/var/lib/docker/containers/def/def-json.log", want("sidecar", "def")},
		{"/var/lib/kubelet/pods/u1/volumes/kubernetes.io~empty-dir/logs/a.log", want("app", "abc")},
	} {
		got, ok := c.Lookup(podpath.Parse(tc.path))
		if !ok || fmt.Sprint(*got) != fmt.Sprint(*tc.want) {
			t.Errorf("Lookup(%s) = %+v, %v\nwant %+v", tc.path, got, ok, tc.want)
		}
	}
	got, ok := c.Lookup(podpath.Parse("/var/log/pods/web_web-2_u2/app/0.log"))
	if ok || got.PodName != "web-2" || got.NodeName != "node-1" || got.Labels != nil {
		t.Errorf("Lookup of an unknown pod = %+v, %v: want what the path says, not ok", got, ok)
	}

	// Deleted: its files are still found (they are read to the end).
	if err := client.CoreV1().Pods("web").Delete(context.Background(), "web-1", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "the deletion", func() bool { return len(c.Pods()) == 0 })
	if got, ok := c.Lookup(podpath.Parse("/var/log/pods/web_web-1_u1/app/0.log")); !ok || got.Labels == nil {
		t.Errorf("Lookup of a deleted pod's file = %+v, %v: want its metadata", got, ok)
	}
	if s := c.Status(); s.API != APIOK || s.Node != "node-1" {
		t.Errorf("status %+v", s)
	}
}

// TestTrim: the cache keeps annotations only when included or the agent's
// own, and no more of the spec than it reads.
func TestTrim(t *testing.T) {
	c, _ := startCache(t, Options{IncludeAnnotations: []string{"team"}}, testPod("web", "web-1", "u1", "node-1", nil))
	p := c.Pods()[0]
	keys := []string{}
	for k := range p.Annotations {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	if !slices.Equal(keys, []string{AnnotationPaths, "team"}) {
		t.Errorf("annotations kept %v", keys)
	}
	if len(p.Spec.Containers) != 2 || len(p.Spec.Volumes) != 2 || p.ManagedFields != nil {
		t.Errorf("trimmed pod %+v", p)
	}
}

// TestManyLabels: a pod with 10,000 labels gives records only the
// included ones.
func TestManyLabels(t *testing.T) {
	labels := map[string]string{}
	for i := range 10000 {
		labels[fmt.Sprintf("label-%05d", i)] = fmt.Sprintf("value-%d", i)
	}
	c, _ := startCache(t, Options{IncludeLabels: []string{"label-00042", "label-09999"}}, testPod("web", "web-1", "u1", "node-1", labels))
	k, ok := c.Lookup(podpath.Parse("/var/log/pods/web_web-1_u1/app/0.log"))
	if !ok || len(k.Labels) != 2 || k.Labels[0] != (record.KV{Key: "label-00042", Value: "value-42"}) {
		t.Errorf("labels %v, %v: want the two included", k.Labels, ok)
	}
}

func TestDerive(t *testing.T) {
	entries, err := collect.Parse([]byte(`[{"type":"kubernetes","topic":"k8s_log","selector":"app=web","fields":{"env":"prod"}}]`))
	if err != nil {
		t.Fatal(err)
	}
	web := testPod("web", "web-1", "u1", "node-1", map[string]string{"app": "web"})
	bad := testPod("web", "web-2", "u2", "node-1", map[string]string{"app": "web"})
	bad.Annotations = map[string]string{AnnotationPaths: "/nowhere/a.log, relative.log", AnnotationFormat: "xml"}
	other := testPod("api", "api-1", "u3", "node-1", map[string]string{"app": "api"})
	dirs := Dirs{Kubelet: "/k", Log: "/l"}
	got, warnings := Derive(entries[0], []*corev1.Pod{web, bad, other}, dirs, func(p *corev1.Pod) bool { return p.Name == "web-1" })
	var paths []string
	for _, d := range got {
		e := d.Entry
		paths = append(paths, fmt.Sprintf("%s %s %s %s", e.Path, e.Format, e.Start, d.PodUID))
		if e.Type != collect.TypeFile || e.Fields["env"] != "prod" || e.Topic != "k8s_log" || e.Selector != "" {
			t.Errorf("derived entry %+v", e)
		}
	}
	wantPaths := []string{
		"/l/pods/web_web-1_u1/app/*.log cri beginning u1",
		"/l/pods/web_web-1_u1/sidecar/*.log cri beginning u1",
		"/k/pods/u1/volumes/kubernetes.io~empty-dir/logs/*.log raw beginning u1",
		"/srv/logs/web/audit.log raw beginning u1",
		"/l/pods/web_web-2_u2/app/*.log cri end u2",
		"/l/pods/web_web-2_u2/sidecar/*.log cri end u2",
	}
	if !slices.Equal(paths, wantPaths) {
		t.Errorf("derived\n%v\nwant\n%v", paths, wantPaths)
	}
	if len(warnings) != 3 {
		t.Errorf("warnings %q: want the bad format and both bad paths", warnings)
	}
}
