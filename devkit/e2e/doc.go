// Package e2e holds end-to-end tests of features that cross the whole
// pipeline (file → logagent → Kafka → logtransfer → Elasticsearch), run as
// real processes on the dev stack with devkit/chaos's cluster helpers: the
// broker, etcd and the emulator from bin/devstack, and the logagent and
// logtransfer binaries built for the test. `make test` runs them.
package e2e
