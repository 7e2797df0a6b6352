package main

// Container logs (issue 16): agent-file stands in for a node's container
// logs. The lines are framed as the container runtime writes them (CRI, or
// docker's json-file) under log/pods/<namespace>_<pod>_<uid>/app/, the
// kubelet's layout, and read with the entry's matching format. With -kubernetes
// the agent also watches the node's pods on a real kube-apiserver (built by
// scripts/build-kube-apiserver.sh, started on the scenario's etcd) and adds
// the pod's metadata to every record; without it the records carry what the
// path says. -kubernetes apiserver runs the same apiserver and pod with the
// agent's metadata off: the apiserver shares the machine's cores in both
// rows of the pair, so their difference is the agent's own metadata work.

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strconv"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"

	"github.com/logcollect/logcollect/devkit/testkit"
	"github.com/logcollect/logcollect/pkg/backoff"
)

// containerLogs is how agent-file writes and collects its lines; the zero
// value is plain files.
type containerLogs struct {
	format string // "cri" or "docker"; "" plain lines
	api    bool   // a kube-apiserver runs with the bench's pod
	kube   bool   // the agent adds pod metadata from it
}

const (
	benchNode      = "bench-host" // the agent's [agent] hostname and the pod's node
	benchNamespace = "shop"
	benchPod       = "web-7c9f8d6b5-x2k4q"
)

// benchLabels are a Deployment pod's usual labels; the agent copies the
// included ones into every record.
var benchLabels = map[string]string{"app": "web", "app.kubernetes.io/name": "web", "team": "checkout", "version": "1.24.3", "pod-template-hash": "7c9f8d6b5"}

const benchIncludeLabels = "app, app.kubernetes.io/name, team, version"

func containerFlag(format, kube string) (containerLogs, error) {
	c := containerLogs{format: format}
	switch kube {
	case "off":
	case "apiserver":
		c.api = true
	case "metadata":
		c.api, c.kube = true, true
	default:
		return c, fmt.Errorf("-kubernetes %q: want off, apiserver or metadata", kube)
	}
	switch {
	case format != "" && format != "cri" && format != "docker":
		return c, fmt.Errorf("-container %q: want cri or docker", format)
	case c.api && format == "":
		return c, errors.New("-kubernetes needs -container cri or docker: pod metadata is added to container logs")
	}
	return c, nil
}

func (c containerLogs) label() string {
	switch {
	case c.format == "":
		return ""
	case c.kube:
		return ", container log (" + c.format + ") + pod metadata"
	case c.api:
		return ", container log (" + c.format + ") + apiserver, metadata off"
	}
	return ", container log (" + c.format + ")"
}

// podDir is where the kubelet keeps the pod's container logs, under the
// scenario's files directory (the agent's [kubernetes] log_dir).
func (e *env) podDir(uid string) string {
	return e.path("files", "pods", fmt.Sprintf("%s_%s_%s", benchNamespace, benchPod, uid), "app")
}

// startPod starts a kube-apiserver on etcd, creates the bench's pod on
// the agent's node, and returns its uid and the kubeconfig the agent uses.
func (e *env) startPod(ctx context.Context, etcd string) (uid, kubeconfig string, err error) {
	bin, err := testkit.KubeAPIServerBinary()
	if err != nil {
		return "", "", fmt.Errorf("-kubernetes needs a kube-apiserver (scripts/build-kube-apiserver.sh): %w", err)
	}
	dir := e.path("kube")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", "", err
	}
	api, err := testkit.LaunchKubeAPIServer(bin, etcd, dir)
	if api != nil {
		e.stops = append(e.stops, api.Stop)
	}
	if err != nil {
		return "", "", err
	}
	if kubeconfig, err = api.Kubeconfig(); err != nil {
		return "", "", err
	}
	rc, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return "", "", err
	}
	kube, err := kubernetes.NewForConfig(rc)
	if err != nil {
		return "", "", err
	}
	if _, err := kube.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: benchNamespace}}, metav1.CreateOptions{}); err != nil {
		return "", "", fmt.Errorf("create namespace: %w", err)
	}
	p, err := kube.CoreV1().Pods(benchNamespace).Create(ctx, &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: benchPod, Labels: benchLabels, Annotations: map[string]string{"owner": "team-checkout"}},
		Spec:       corev1.PodSpec{NodeName: benchNode, Containers: []corev1.Container{{Name: "app", Image: "nginx:1.27"}}},
	}, metav1.CreateOptions{})
	if err != nil {
		return "", "", fmt.Errorf("create pod: %w", err)
	}
	// The apiserver's own start-up work (bootstrap controllers, caches)
	// goes on for seconds after it is ready; let it pass before measuring.
	return string(p.UID), kubeconfig, backoff.Sleep(ctx, 5*time.Second)
}

// kubernetesIni is the agent's [kubernetes] section for the scenario.
func (e *env) kubernetesIni(kubeconfig string) string {
	return fmt.Sprintf(`[kubernetes]
enabled = true
node_name = %s
kubeconfig = %s
include_labels = %s
log_dir = %s
kubelet_dir = %s
docker_dir = %s
`, benchNode, kubeconfig, benchIncludeLabels, e.path("files"), e.path("kubelet"), e.path("docker"))
}

// frame returns how the runtime frames a line in a container's log (for
// writeFiles): CRI's "<time> stdout F <line>", or docker's json-file
// object. The framing makes a line about 20 % (CRI) or 35 % (docker) longer.
func (c containerLogs) frame() func(dst, line []byte, seq int64) []byte {
	at := time.Date(2026, 12, 2, 10, 0, 0, 0, time.UTC)
	switch c.format {
	case "cri":
		return func(dst, line []byte, seq int64) []byte {
			dst = at.Add(time.Duration(seq)*time.Microsecond).AppendFormat(dst, time.RFC3339Nano)
			dst = append(dst, " stdout F "...)
			return append(dst, line...)
		}
	case "docker":
		return func(dst, line []byte, seq int64) []byte {
			dst = append(dst, `{"log":`...)
			dst = strconv.AppendQuote(dst, string(line)+"\n")
			dst = append(dst, `,"stream":"stdout","time":"`...)
			dst = at.Add(time.Duration(seq)*time.Microsecond).AppendFormat(dst, time.RFC3339Nano)
			return append(dst, `"}`...)
		}
	}
	return nil
}

// verifyContainer checks a record of the container log: the message
// without its framing, the pod from the path, and with kube the node and
// the included labels from the apiserver.
func verifyContainer(c containerLogs, uid string) func([]byte) error {
	return func(v []byte) error {
		var rec struct {
			Message    string `json:"message"`
			Kubernetes struct {
				Namespace string `json:"namespace"`
				Pod       struct {
					Name string `json:"name"`
					UID  string `json:"uid"`
				} `json:"pod"`
				Node struct {
					Name string `json:"name"`
				} `json:"node"`
				Labels map[string]string `json:"labels"`
			} `json:"kubernetes"`
		}
		if err := json.Unmarshal(v, &rec); err != nil {
			return err
		}
		k := rec.Kubernetes
		switch {
		case len(rec.Message) == 0 || rec.Message[0] == '{' || rec.Message[len(rec.Message)-1] != '"':
			return fmt.Errorf("message %q: want the nginx line without the %s framing", rec.Message, c.format)
		case k.Namespace != benchNamespace || k.Pod.Name != benchPod || k.Pod.UID != uid:
			return fmt.Errorf("kubernetes %+v: want the pod %s/%s (%s) from the path", k, benchNamespace, benchPod, uid)
		case c.kube && (k.Node.Name != benchNode || k.Labels["app"] != "web" || k.Labels["team"] != "checkout" || len(k.Labels) != 4):
			return fmt.Errorf("kubernetes %+v: want node %s and the 4 included labels from the apiserver", k, benchNode)
		case !c.kube && len(k.Labels) > 0:
			return fmt.Errorf("kubernetes %+v: labels without -kubernetes", k)
		}
		return nil
	}
}
