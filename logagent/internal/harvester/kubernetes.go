package harvester

import (
	"path/filepath"
	"strings"

	"github.com/logcollect/logcollect/pkg/record"
)

// kubernetesFromPath reads pod metadata from the kubelet's log paths:
// .../pods/<ns>_<pod>_<uid>/<container>/N.log and
// .../containers/<pod>_<ns>_<container>-<id>.log.
func kubernetesFromPath(p string) *record.Kubernetes {
	segs := strings.Split(filepath.ToSlash(p), "/")
	for i := len(segs) - 1; i >= 0; i-- {
		switch segs[i] {
		case "pods":
			if i+3 == len(segs)-1 {
				f := strings.SplitN(segs[i+1], "_", 3)
				if len(f) == 3 {
					return &record.Kubernetes{Namespace: f[0], PodName: f[1], PodUID: f[2], ContainerName: segs[i+2]}
				}
			}
		case "containers":
			if i+1 == len(segs)-1 {
				name := strings.TrimSuffix(segs[i+1], ".log")
				f := strings.SplitN(name, "_", 3)
				if len(f) == 3 {
					k := &record.Kubernetes{PodName: f[0], Namespace: f[1], ContainerName: f[2]}
					if j := strings.LastIndexByte(f[2], '-'); j > 0 {
						k.ContainerName, k.ContainerID = f[2][:j], f[2][j+1:]
					}
					return k
				}
			}
		}
	}
	return nil
}
