package kubemeta

import (
	"fmt"
	"path/filepath"
	"strings"

	corev1 "k8s.io/api/core/v1"

	"github.com/logcollect/logcollect/logagent/internal/collect"
	"github.com/logcollect/logcollect/pkg/settings"
)

// Pod annotations the agent reads.
const (
	// AnnotationPaths lists files inside the pod's volumes to collect, as
	// the containers see them: "/data/logs/*.log, /var/app/audit.log".
	AnnotationPaths = AnnotationPrefix + "paths"
	// AnnotationFormat is the format of those files (default raw).
	AnnotationFormat = AnnotationPrefix + "format"
)

// Dirs are the host directories as the agent sees them
// (config.Kubernetes).
type Dirs struct {
	Kubelet string // /var/lib/kubelet
	Log     string // /var/log
}

// Derived is a file entry a kubernetes entry derived from a pod.
type Derived struct {
	Entry  collect.Entry
	PodUID string
}

// Derive turns a "kubernetes" entry into file entries for the pods it
// selects: each container's log files (<log>/pods/<ns>_<pod>_<uid>/<container>/*.log,
// in the entry's format) and each file the pod's logcollect.io/paths
// annotation names, resolved to the host directory of the volume mounted
// there (emptyDir under <kubelet>/pods/<uid>/volumes/kubernetes.io~empty-dir,
// hostPath at its path). fresh says whether a pod appeared after the
// agent's first look at the node: its files are read from the beginning
// whatever start says (they were written after the agent started). Problems
// of one pod's annotation are returned as warnings, the rest goes on.
func Derive(e collect.Entry, pods []*corev1.Pod, dirs Dirs, fresh func(*corev1.Pod) bool) (out []Derived, warnings []string) {
	for _, p := range pods {
		if !e.SelectsPod(p.Namespace, p.Labels) {
			continue
		}
		base := e
		base.Type, base.Namespaces, base.Selector, base.LabelSelector = collect.TypeFile, nil, "", nil
		if fresh(p) {
			base.Start = "beginning"
		}
		podDir := filepath.Join(dirs.Log, "pods", fmt.Sprintf("%s_%s_%s", p.Namespace, p.Name, p.UID))
		for _, c := range p.Spec.Containers {
			d := base
			d.Path = filepath.Join(podDir, c.Name, "*.log")
			out = append(out, Derived{Entry: d, PodUID: string(p.UID)})
		}
		paths := settings.SplitList(p.Annotations[AnnotationPaths])
		if len(paths) == 0 {
			continue
		}
		format := p.Annotations[AnnotationFormat]
		switch format {
		case "":
			format = "raw"
		case "raw", "json", "docker", "cri":
		default:
			warnings = append(warnings, fmt.Sprintf("pod %s/%s: annotation %s %q: want raw, json, docker or cri; reading as raw", p.Namespace, p.Name, AnnotationFormat, format))
			format = "raw"
		}
		for _, cp := range paths {
			host, err := hostPath(p, cp, dirs)
			if err != nil {
				warnings = append(warnings, fmt.Sprintf("pod %s/%s: annotation %s: %v", p.Namespace, p.Name, AnnotationPaths, err))
				continue
			}
			d := base
			d.Path, d.Format, d.Multiline = host, format, base.Multiline
			out = append(out, Derived{Entry: d, PodUID: string(p.UID)})
		}
	}
	return out, warnings
}

// hostPath resolves a path as p's containers see it to the host path of
// the volume mounted there (the deepest mount holding it).
func hostPath(p *corev1.Pod, path string, dirs Dirs) (string, error) {
	if !filepath.IsAbs(path) || filepath.Clean(path) != path {
		return "", fmt.Errorf("%q is not an absolute, clean path inside a volume (like /data/logs/*.log)", path)
	}
	var best *corev1.VolumeMount
	for i := range p.Spec.Containers {
		for j := range p.Spec.Containers[i].VolumeMounts {
			m := &p.Spec.Containers[i].VolumeMounts[j]
			if within(path, m.MountPath) && (best == nil || len(m.MountPath) > len(best.MountPath)) {
				best = m
			}
		}
	}
	if best == nil {
		return "", fmt.Errorf("%q is in no volume of the pod: only files in emptyDir or hostPath volumes are on the node's disk", path)
	}
	rel := strings.TrimPrefix(strings.TrimPrefix(path, best.MountPath), "/")
	for _, v := range p.Spec.Volumes {
		if v.Name != best.Name {
			continue
		}
		var root string
		switch {
		case v.EmptyDir != nil:
			root = filepath.Join(dirs.Kubelet, "pods", string(p.UID), "volumes", "kubernetes.io~empty-dir", v.Name)
		case v.HostPath != nil:
			root = v.HostPath.Path
		default:
			return "", fmt.Errorf("%q is in volume %s, which is neither emptyDir nor hostPath", path, v.Name)
		}
		return filepath.Join(root, best.SubPath, rel), nil
	}
	return "", fmt.Errorf("%q: volume %s of mount %s is not in the pod's volumes", path, best.Name, best.MountPath)
}

func within(path, dir string) bool {
	dir = strings.TrimSuffix(dir, "/")
	return path == dir || strings.HasPrefix(path, dir+"/") || dir == ""
}
