// Package testkit is what tests beside the product code import to reach the
// dev stack: it starts the stack's servers as a separate process (so the
// product modules link and require none of the tooling), reads metrics and
// JSON endpoints, generates TLS certificates and buffers process output.
//
// It is a module of its own with no requirement beyond Prometheus' text
// parser, so the product modules' go.mod stays free of the emulator, the
// Kafka-protocol broker and the etcd server that the rest of devkit holds.
package testkit
