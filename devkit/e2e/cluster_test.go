package e2e

import (
	"context"
	"os"
	"testing"

	"github.com/logcollect/logcollect/devkit/chaos"
)

// startCluster builds the binaries and starts etcd, the broker (topic
// "web", two partitions) and the emulator for one test; they stop when it
// ends, and their logs are shown when it failed (CHAOS_LOGS keeps them).
func startCluster(ctx context.Context, t *testing.T) *chaos.Cluster {
	t.Helper()
	bins, err := chaos.Build(ctx, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	c, err := chaos.StartCluster(ctx, chaos.Config{Bin: bins, Dir: dir, Topic: topic, Partitions: 2, Logf: t.Logf})
	t.Cleanup(func() {
		c.Close()
		if t.Failed() {
			chaos.DumpLogs(t.Logf, dir, os.Getenv("CHAOS_LOGS"), t.Name())
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	return c
}
