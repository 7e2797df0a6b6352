package testutil

import (
	"context"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/logcollect/logcollect/devkit/testkit"
)

// Stack is what the agent's tests against the dev stack share: etcd and a
// broker that creates topics on first use, each a devstack child process,
// and a client of that etcd. Everything stops at the end of the test.
type Stack struct {
	Etcd  *testkit.Etcd
	Kafka *testkit.Kafka
	Cli   *clientv3.Client
}

// StartStack starts etcd, the broker and the etcd client.
func StartStack(t testing.TB) *Stack {
	t.Helper()
	e := testkit.StartEtcd(t, testkit.EtcdOptions{})
	k := testkit.StartKafka(t, testkit.KafkaOptions{AutoCreateTopics: true})
	return &Stack{Etcd: e, Kafka: k, Cli: EtcdClient(t, clientv3.Config{Endpoints: []string{e.Endpoint()}})}
}

// EtcdClient connects with cfg (a 5 s dial timeout unless set) and closes
// the client at the end of the test.
func EtcdClient(t testing.TB, cfg clientv3.Config) *clientv3.Client {
	t.Helper()
	if cfg.DialTimeout == 0 {
		cfg.DialTimeout = 5 * time.Second
	}
	cli, err := clientv3.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cli.Close() })
	return cli
}

// PutCollect stores value as the collect config of the agent at
// 127.0.0.1 under the default key.
func (s *Stack) PutCollect(t testing.TB, value string) {
	t.Helper()
	if _, err := s.Cli.Put(context.Background(), "/logagent/127.0.0.1/collect_config", value); err != nil {
		t.Fatal(err)
	}
}
