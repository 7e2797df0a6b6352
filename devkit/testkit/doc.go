// Package testkit is what tests beside the product code import to reach the
// dev stack: it starts etcd, the Kafka-protocol broker and the
// Elasticsearch-API emulator as devstack child processes (StartEtcd,
// StartKafka, StartES; so the product modules link and require none of the
// tooling) and drives their fault controls over HTTP. It also reads
// metrics and JSON endpoints, generates TLS certificates, reads
// docker-compose.yml, finds the repository root and buffers process output.
//
// It is a module of its own whose only requirement is Prometheus' text
// parser (and the YAML parser that one already requires), so the product
// modules' go.mod stays free of the emulator, the Kafka-protocol broker and
// the etcd server that the rest of devkit holds.
package testkit
