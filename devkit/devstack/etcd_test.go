package devstack

import (
	"context"
	"testing"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
)

func TestEtcdPutGetWatch(t *testing.T) {
	srv, err := StartEtcd(EtcdConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{srv.Endpoint()}, DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()

	const key = "/logagent/10.0.0.5/collect_config"
	wch := cli.Watch(ctx, key)
	val := `[{"path":"/var/log/nginx/access.log","topic":"web_log"}]`
	if _, err := cli.Put(ctx, key, val); err != nil {
		t.Fatalf("put: %v", err)
	}
	resp, err := cli.Get(ctx, key)
	if err != nil {
		t.Fatalf("get: %v", err)
	}
	if len(resp.Kvs) != 1 || string(resp.Kvs[0].Value) != val {
		t.Fatalf("get = %v, want %s", resp.Kvs, val)
	}
	select {
	case w := <-wch:
		if len(w.Events) != 1 || string(w.Events[0].Kv.Value) != val {
			t.Fatalf("watch event = %+v", w.Events)
		}
	case <-ctx.Done():
		t.Fatal("no watch event")
	}
}

func TestEtcdDataSurvivesRestart(t *testing.T) {
	dir := t.TempDir()
	srv, err := StartEtcd(EtcdConfig{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{srv.Endpoint()}, DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if _, err := cli.Put(ctx, "k", "v"); err != nil {
		t.Fatal(err)
	}
	cli.Close()
	srv.Close()
	srv.Close() // safe twice

	srv, err = StartEtcd(EtcdConfig{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	cli, err = clientv3.New(clientv3.Config{Endpoints: []string{srv.Endpoint()}, DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer cli.Close()
	resp, err := cli.Get(ctx, "k")
	if err != nil || len(resp.Kvs) != 1 || string(resp.Kvs[0].Value) != "v" {
		t.Fatalf("after restart get = %v, %v", resp, err)
	}
}
