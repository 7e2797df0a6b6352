// Package devstack starts the embedded default environment in-process: a
// real etcd server, a Kafka-protocol broker (franz-go kfake) and the
// Elasticsearch-API emulator (package esemu). Tests start each part alone on
// random 127.0.0.1 ports; the devstack command starts all three.
package devstack
