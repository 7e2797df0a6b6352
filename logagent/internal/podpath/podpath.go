// Package podpath reads which pod a file belongs to from the paths the
// kubelet and the container runtimes write: the one place that knows their
// layouts. The agent adds what a path says to container log records
// (FromPath); with [kubernetes] enabled, the pod cache (kubemeta) looks the
// Ref up for the rest (labels, node, the container of a volume file).
package podpath

import (
	"path/filepath"
	"strings"

	"github.com/logcollect/logcollect/pkg/record"
)

// Ref is what a path says about its pod; empty fields are unknown.
type Ref struct {
	Namespace     string
	PodName       string
	PodUID        string
	ContainerName string
	ContainerID   string
	// Volume is the pod volume a file lies in
	// (<kubelet>/pods/<uid>/volumes/<plugin>/<volume>/...).
	Volume string
}

// Pod reports whether the path names a pod at all.
func (r Ref) Pod() bool { return r.PodUID != "" || r.PodName != "" || r.ContainerID != "" }

// Parse reads the layouts, wherever their roots are mounted:
//
//	.../pods/<ns>_<pod>_<uid>/<container>/N.log           (kubelet, /var/log/pods)
//	.../containers/<pod>_<ns>_<container>-<id>.log        (kubelet symlinks, /var/log/containers)
//	.../containers/<id>/<id>-json.log                     (docker json-file, /var/lib/docker/containers)
//	.../pods/<uid>/volumes/<plugin>/<volume>/...          (pod volumes, /var/lib/kubelet/pods)
func Parse(p string) Ref {
	segs := strings.Split(filepath.ToSlash(p), "/")
	last := len(segs) - 1
	for i := last; i >= 0; i-- {
		switch segs[i] {
		case "pods":
			if i+3 == last {
				f := strings.SplitN(segs[i+1], "_", 3)
				if len(f) == 3 {
					return Ref{Namespace: f[0], PodName: f[1], PodUID: f[2], ContainerName: segs[i+2]}
				}
			}
			if i+5 <= last && segs[i+2] == "volumes" && segs[i+1] != "" {
				return Ref{PodUID: segs[i+1], Volume: segs[i+4]}
			}
		case "containers":
			if i+1 == last {
				name := strings.TrimSuffix(segs[i+1], ".log")
				f := strings.SplitN(name, "_", 3)
				if len(f) == 3 {
					r := Ref{PodName: f[0], Namespace: f[1], ContainerName: f[2]}
					if j := strings.LastIndexByte(f[2], '-'); j > 0 {
						r.ContainerName, r.ContainerID = f[2][:j], f[2][j+1:]
					}
					return r
				}
			}
			if i+2 == last && segs[i+1] != "" && segs[last] == segs[i+1]+"-json.log" {
				return Ref{ContainerID: segs[i+1]}
			}
		}
	}
	return Ref{}
}

// FromPath is the record metadata a container log path gives by itself
// (nil for other paths).
func FromPath(p string) *record.Kubernetes {
	r := Parse(p)
	if r.PodName == "" {
		return nil
	}
	return &record.Kubernetes{Namespace: r.Namespace, PodName: r.PodName, PodUID: r.PodUID, ContainerName: r.ContainerName, ContainerID: r.ContainerID}
}
