// Package esemu is an in-process emulator of the Elasticsearch 7.17 HTTP API,
// backed by the bleve search library.
//
// It exists so that the log pipeline can be tested and demonstrated without a
// JVM: logtransfer bulk-indexes into it with an unmodified Elasticsearch client,
// and people query it with curl the way they would query Elasticsearch.
//
// What it is: a single-node, single-shard-per-index server that implements the
// document write path (_bulk, _doc, _create, _update, delete) with Elasticsearch's
// per-item results, versions, sequence numbers and error shapes; index and
// template management with Elasticsearch mapping semantics (dynamic mapping,
// date detection, type coercion and rejection); near-real-time refresh; and
// search and count with the commonly used query DSL translated into bleve
// queries. It also offers fault injection (rejected bulks, latency, dropped
// connections, a closed listener) and a blackhole mode for throughput tests.
//
// What it is not: a cluster, a replacement for Elasticsearch in production,
// or a complete implementation. Scores differ from Lucene's BM25, only the
// standard and keyword analyzers exist, only a few aggregations are computed,
// acknowledged writes are not durable until the next refresh (no translog),
// and the full list of differences is in docs/es-emulator.md.
package esemu
