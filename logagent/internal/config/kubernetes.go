package config

import (
	"errors"
	"path/filepath"
	"time"

	"github.com/logcollect/logcollect/pkg/settings"
)

// Kubernetes configures the pod metadata of records and the "kubernetes"
// collect entries ([kubernetes], docs/kubernetes.md).
type Kubernetes struct {
	Enabled bool
	// NodeName is the node whose pods are watched; "" is the host name (the
	// DaemonSet sets it from spec.nodeName).
	NodeName string
	// Kubeconfig is a kubeconfig file; "" uses the pod's service account
	// (in-cluster).
	Kubeconfig         string
	IncludeLabels      []string // labels copied into records; none by default (label sets can be large)
	IncludeAnnotations []string
	// WaitForMetadata is how long the first read of a file of a pod not yet
	// in the cache waits for it; then its records go with what is known.
	WaitForMetadata time.Duration
	// The host directories as the agent sees them (tests point them
	// elsewhere): the kubelet's (pods/<uid>/volumes/...), the log root
	// (pods/, containers/) and docker's (containers/<id>/<id>-json.log).
	KubeletDir string
	LogDir     string
	DockerDir  string
}

func defaultKubernetes() Kubernetes {
	return Kubernetes{WaitForMetadata: 2 * time.Second, KubeletDir: "/var/lib/kubelet", LogDir: "/var/log", DockerDir: "/var/lib/docker"}
}

func readKubernetes(f *settings.File) Kubernetes {
	k := defaultKubernetes()
	const s = "kubernetes"
	k.Enabled = f.Bool(s, "enabled", false)
	k.NodeName = f.String(s, "node_name", "")
	k.Kubeconfig = f.String(s, "kubeconfig", "")
	k.IncludeLabels = f.Strings(s, "include_labels", nil)
	k.IncludeAnnotations = f.Strings(s, "include_annotations", nil)
	k.WaitForMetadata = f.Duration(s, "wait_for_metadata", k.WaitForMetadata, time.Second, 0, time.Minute)
	k.KubeletDir = f.String(s, "kubelet_dir", k.KubeletDir)
	k.LogDir = f.String(s, "log_dir", k.LogDir)
	k.DockerDir = f.String(s, "docker_dir", k.DockerDir)
	for key, dir := range map[string]string{"kubelet_dir": k.KubeletDir, "log_dir": k.LogDir, "docker_dir": k.DockerDir} {
		if !filepath.IsAbs(dir) || filepath.Clean(dir) != dir {
			f.Check(s, key, dir, errors.New("an absolute, clean directory such as /var/lib/kubelet"))
		}
	}
	return k
}
