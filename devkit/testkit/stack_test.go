package testkit

import (
	"net"
	"net/http"
	"slices"
	"strings"
	"testing"
	"time"
)

// The emulator in its child process: documents written through the ES API
// are counted and read back, injected faults and the down switch reach it.
func TestESProcess(t *testing.T) {
	es := StartES(t, ESOptions{Username: "elastic", Password: "pw", RefreshInterval: time.Hour})
	if n, err := es.Count("logs-*"); err != nil || n != 0 {
		t.Fatalf("Count of nothing = %d, %v; want 0", n, err)
	}
	if err := es.call(http.MethodPut, es.URL()+"/logs-1/_doc/a", map[string]string{"msg": "hi"}, nil); err != nil {
		t.Fatal(err)
	}
	if n, err := es.Count("logs-*"); err != nil || n != 1 {
		t.Errorf("Count before the hourly refresh = %d, %v; want 1 (Count refreshes)", n, err)
	}
	if doc, found, err := es.Get("logs-1", "a"); err != nil || !found || doc["msg"] != "hi" {
		t.Errorf("Get = %v, %v, %v", doc, found, err)
	}
	if _, found, err := es.Get("nope", "a"); err != nil || found {
		t.Errorf("Get of a missing index = %v, %v; want not found, no error", found, err)
	}
	es.FailBulksFor(time.Minute, http.StatusServiceUnavailable)
	err := es.call(http.MethodPost, es.URL()+"/_bulk", nil, nil)
	if err == nil || !strings.Contains(err.Error(), "503") {
		t.Errorf("bulk while failing: %v, want 503", err)
	}
	es.ClearFaults()
	es.SetLatency(300 * time.Millisecond)
	start := time.Now()
	if _, _, err := es.Get("logs-1", "a"); err != nil || time.Since(start) < 300*time.Millisecond {
		t.Errorf("Get with 300ms latency took %s, %v", time.Since(start), err)
	}
	es.SetLatency(0)
	es.SetDown(true)
	if _, err := es.Count("logs-*"); err == nil {
		t.Error("Count while down succeeded")
	}
	es.SetDown(false)
	if n, err := es.Count("logs-*"); err != nil || n != 1 {
		t.Errorf("Count after coming back = %d, %v", n, err)
	}
	es.Close()
	es.Close()
}

// Two brokers: the control endpoints move a leader; a restart on the same
// port serves the same address again.
func TestKafkaProcess(t *testing.T) {
	k := StartKafka(t, KafkaOptions{Brokers: 2, Topics: map[string]int32{"mv": 1}})
	if n := len(strings.Split(k.Addrs(), ",")); n != 2 {
		t.Fatalf("Addrs = %q, want 2 brokers", k.Addrs())
	}
	old := k.Leaders("mv")
	if len(old) != 1 {
		t.Fatalf("Leaders = %v, want one partition", old)
	}
	if err := k.MoveLeader("mv", 0, 1-old[0]); err != nil {
		t.Fatal(err)
	}
	if got := k.Leaders("mv"); !slices.Equal(got, []int32{1 - old[0]}) {
		t.Errorf("Leaders after the move = %v, want [%d]", got, 1-old[0])
	}
	if err := k.MoveLeader("nope", 0, 0); err == nil {
		t.Error("moving the leader of a missing topic succeeded")
	}
	if count := k.CountProduce(); count() != 0 {
		t.Errorf("produce count without producers = %d", count())
	}
	hold := k.HoldProduce(0)
	if hold.Held() != 0 {
		t.Error("held requests without producers")
	}
	hold.Release()

	port, err := RestartablePort()
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	one := StartKafka(t, KafkaOptions{Port: port, DataDir: dir})
	addr := one.Addr()
	one.Close()
	again := StartKafka(t, KafkaOptions{Port: port, DataDir: dir})
	if again.Addr() != addr {
		t.Errorf("restarted on %s, want %s", again.Addr(), addr)
	}
}

func TestEtcdProcess(t *testing.T) {
	certs, err := GenerateCerts(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	e := StartEtcd(t, EtcdOptions{TLS: &certs, ClientCertAuth: true})
	if !strings.HasPrefix(e.Endpoint(), "https://127.0.0.1:") {
		t.Fatalf("Endpoint = %q, want https", e.Endpoint())
	}
	c, err := net.DialTimeout("tcp", strings.TrimPrefix(e.Endpoint(), "https://"), 2*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	c.Close()
	e.Close()
	if _, err := net.DialTimeout("tcp", strings.TrimPrefix(e.Endpoint(), "https://"), 2*time.Second); err == nil {
		t.Error("etcd still serves after Close")
	}
}
