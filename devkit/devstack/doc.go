// Package devstack starts the embedded default environment in-process: a
// real etcd server, a Kafka-protocol broker (franz-go kfake) and the
// Elasticsearch-API emulator (package esemu). Tests in devkit start each
// part alone on random 127.0.0.1 ports; the devstack command starts any of
// the three, and is how tests of the product modules (through
// devkit/testkit) and the chaos suite run them as separate processes.
package devstack
