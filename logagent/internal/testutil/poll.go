package testutil

import (
	"testing"
	"time"
)

// Poll calls cond every 20 ms until it holds, failing the test after
// timeout: the bounded wait of tests that watch another process or etcd.
func Poll(t testing.TB, what string, timeout time.Duration, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}
