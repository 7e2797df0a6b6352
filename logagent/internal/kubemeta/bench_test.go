package kubemeta

import (
	"context"
	"fmt"
	"runtime"
	"testing"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	kruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"

	"github.com/logcollect/logcollect/logagent/internal/podpath"
)

// BenchmarkWatch500Pods reports the heap the cache of a node with 500 pods
// holds (heap-MB: live heap after GC with the cache synced, minus before;
// the fake clientset's own copy of the pods is subtracted by measuring it
// alone first), and the cost of one lookup.
//
//	go test -run '^$' -bench Watch500Pods -benchtime 1x ./logagent/internal/kubemeta/
func BenchmarkWatch500Pods(b *testing.B) {
	pods := make([]kruntime.Object, 0, 500)
	for i := range 500 {
		p := testPod(fmt.Sprintf("ns-%d", i%20), fmt.Sprintf("pod-%d", i), fmt.Sprintf("uid-%d", i), "node-1", map[string]string{
			"app": fmt.Sprintf("app-%d", i%50), "app.kubernetes.io/name": "x", "pod-template-hash": "5d8f7c9b6", "tier": "web"})
		p.ManagedFields = []metav1.ManagedFieldsEntry{{Manager: "kubelet", Operation: "Update"}}
		pods = append(pods, p)
	}
	heap := func() uint64 {
		runtime.GC()
		var m runtime.MemStats
		runtime.ReadMemStats(&m)
		return m.HeapAlloc
	}
	base := heap()
	client := fake.NewClientset(pods...)
	withClient := heap()
	c, err := New(client.CoreV1().Pods(""), Options{NodeName: "node-1", IncludeLabels: []string{"app"}})
	if err != nil {
		b.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go c.Run(ctx)
	if !c.WaitSynced(ctx) || len(c.Pods()) != 500 {
		b.Fatalf("synced %d pods", len(c.Pods()))
	}
	cached := heap()
	ref := podpath.Parse("/var/log/pods/ns-7_pod-7_uid-7/app/0.log")
	b.ResetTimer()
	for range b.N {
		if _, ok := c.Lookup(ref); !ok {
			b.Fatal("not found")
		}
	}
	b.StopTimer()
	// After the loop: ResetTimer drops metrics reported before it.
	b.ReportMetric(float64(cached-withClient)/(1<<20), "heap-MB")
	b.ReportMetric(float64(withClient-base)/(1<<20), "fake-client-MB")
}
