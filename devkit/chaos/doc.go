// Package chaos proves the pipeline's promise — no log line is lost and none
// is indexed twice — with real processes: the built logagent and logtransfer
// binaries and the dev stack's parts (etcd, Kafka broker, Elasticsearch-API
// emulator), each its own process so any of them can be killed.
//
// A Writer produces JSON lines carrying a per-file sequence number (with
// rename or copytruncate rotation), a Cluster runs and kills the processes,
// and Check compares every line written with the documents in the emulator:
// written, indexed, lost, duplicated (the same line under more than one
// _id), out of order within a file. The scenarios are the package's tests;
// RELIABILITY.md at the repository root records their commands and figures.
package chaos
