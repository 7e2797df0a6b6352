package harvester

import (
	"time"

	"github.com/logcollect/logcollect/logagent/internal/podpath"
	"github.com/logcollect/logcollect/pkg/record"
)

// Pods is the agent's pod metadata cache ([kubernetes] enabled:
// kubemeta.Cache); without it records carry what the path says.
type Pods interface {
	// Lookup gives the metadata of the pod ref names; ok is false while
	// the pod is not in the cache (k is then what is known).
	Lookup(ref podpath.Ref) (k *record.Kubernetes, ok bool)
	// Wait is how long a file of a pod not yet in the cache waits for it.
	Wait() time.Duration
}

// podMetaPoll is how often a waiting harvester looks at the cache again.
const podMetaPoll = 50 * time.Millisecond

// openPodMeta sets the metadata of a file being opened. A file of a pod
// the cache does not know yet is held (awaitPod) up to Pods.Wait.
func (h *harvester) openPodMeta(path string) {
	ref := podpath.Parse(path)
	pods := h.o.Pods
	if pods == nil || !ref.Pod() {
		if e := h.o.Entry.Format; e == "docker" || e == "cri" {
			h.k8s = podpath.FromPath(path)
		}
		return
	}
	h.podRef = ref
	var ok bool
	if h.k8s, ok = pods.Lookup(ref); !ok {
		h.podWaitUntil = time.Now().Add(pods.Wait())
	}
}

// awaitPod holds the first read of a file whose pod is not in the cache
// yet, so its first records are not sent without the pod's labels; it
// never holds longer than Pods.Wait: then the records go with what is
// known (never blocking the file). held says to step again after wait.
func (h *harvester) awaitPod() (wait time.Duration, held bool) {
	if h.podWaitUntil.IsZero() {
		return 0, false
	}
	k, ok := h.o.Pods.Lookup(h.podRef)
	left := time.Until(h.podWaitUntil)
	if ok || left <= 0 {
		h.k8s, h.podWaitUntil = k, time.Time{}
		return 0, false
	}
	return min(left, podMetaPoll), true
}
