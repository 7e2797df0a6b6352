package agent

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/logcollect/logcollect/logagent/internal/config"
	"github.com/logcollect/logcollect/logagent/internal/kubemeta"
	kt "github.com/logcollect/logcollect/logagent/internal/testutil"
)

func fakePod(name, uid string, labels map[string]string) *corev1.Pod {
	return &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: "web", Name: name, UID: types.UID(uid), Labels: labels,
			Annotations: map[string]string{kubemeta.AnnotationPaths: "/data/logs/*.log"}},
		Spec: corev1.PodSpec{NodeName: "node-1",
			Containers: []corev1.Container{{Name: "app", VolumeMounts: []corev1.VolumeMount{{Name: "logs", MountPath: "/data/logs"}}}},
			Volumes:    []corev1.Volume{{Name: "logs", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}},
	}
}

// TestKubernetesEntryWithFakeClient runs the agent's kubernetes wiring on
// client-go's fake clientset (the real API server's tests are in
// internal/kubetest): a kubernetes entry follows a running pod's annotated
// volume file and a pod created later, not a pod its selector excludes, and
// a deleted pod's last lines are shipped before its task stops.
func TestKubernetesEntryWithFakeClient(t *testing.T) {
	s := newStack(t)
	s.cfg.Kubernetes = config.Kubernetes{Enabled: true, NodeName: "node-1", IncludeLabels: []string{"app"}, WaitForMetadata: 5 * time.Second,
		KubeletDir: filepath.Join(s.dir, "kubelet"), LogDir: filepath.Join(s.dir, "log"), DockerDir: filepath.Join(s.dir, "docker")}
	client := fake.NewClientset(fakePod("web-1", "u1", map[string]string{"app": "web"}))
	vol := func(uid string) string {
		return filepath.Join(s.dir, "kubelet", "pods", uid, "volumes", "kubernetes.io~empty-dir", "logs", "app.log")
	}
	mkdir(t, filepath.Dir(vol("u1")))
	want := writeLines(t, vol("u1"), "web-1", 1, 5)
	s.put(t, `[{"type":"kubernetes","topic":"k8s_log","selector":"app=web","start":"beginning"}]`)

	s.kube = client.CoreV1().Pods("")
	a, _ := s.run(t)
	waitLines := func(want []string) []kt.Record {
		t.Helper()
		rs := kt.WaitFor(t, s.kafka.Addr(), "k8s_log", 30*time.Second, func(rs []kt.Record) bool { return countIn(rs, want) == len(want) })
		if n := countIn(rs, want); n != len(want) {
			t.Fatalf("%d of %d lines reached Kafka", n, len(want))
		}
		return rs
	}
	rs := waitLines(want)
	var v struct {
		Kubernetes struct {
			Pod struct {
				Name string `json:"name"`
			} `json:"pod"`
			Container struct {
				Name string `json:"name"`
			} `json:"container"`
			Labels map[string]string `json:"labels"`
		} `json:"kubernetes"`
	}
	if err := json.Unmarshal(rs[0].Value, &v); err != nil || v.Kubernetes.Pod.Name != "web-1" || v.Kubernetes.Container.Name != "app" || v.Kubernetes.Labels["app"] != "web" {
		t.Errorf("record %s: want web-1's metadata", rs[0].Value)
	}

	// A pod created while running (read from the beginning) and one the
	// selector excludes.
	for _, p := range []*corev1.Pod{fakePod("web-2", "u2", map[string]string{"app": "web"}), fakePod("cache-1", "u3", map[string]string{"app": "cache"})} {
		if _, err := client.CoreV1().Pods("web").Create(context.Background(), p, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(s.logs.String(), "kubernetes.io~empty-dir/logs/*.log"); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("no task for the new pod's volume")
		}
	}
	mkdir(t, filepath.Dir(vol("u2")))
	mkdir(t, filepath.Dir(vol("u3")))
	want2 := writeLines(t, vol("u2"), "web-2", 1, 5)
	excluded := writeLines(t, vol("u3"), "cache-1", 1, 5)
	waitLines(want2)

	// Deleted: its last lines still go, then its task stops.
	last := writeLines(t, vol("u2"), "web-2 last", 1, 100)
	if err := client.CoreV1().Pods("web").Delete(context.Background(), "web-2", metav1.DeleteOptions{}); err != nil {
		t.Fatal(err)
	}
	rs = waitLines(last)
	for deadline := time.Now().Add(30 * time.Second); !strings.Contains(s.logs.String(), "pod gone and its files read: stopping"); time.Sleep(20 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatal("the deleted pod's task never stopped")
		}
	}
	if n := countIn(rs, excluded); n > 0 {
		t.Errorf("%d lines of a pod the selector excludes were shipped", n)
	}
	if st := a.status.snapshot(); st.Kubernetes == nil || st.Kubernetes.API != kubemeta.APIOK || st.Kubernetes.Pods != 2 {
		t.Errorf("status kubernetes %+v: want ok and 2 pods", st.Kubernetes)
	}
}

func mkdir(t *testing.T, dir string) {
	t.Helper()
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
}
