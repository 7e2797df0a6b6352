package configsource

import clientv3 "go.etcd.io/etcd/client/v3"

// nopClient stands in for etcd where a test drives the watcher's state by
// hand.
type nopClient struct {
	clientv3.KV
	clientv3.Watcher
}
