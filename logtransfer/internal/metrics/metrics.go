// Package metrics defines logtransfer's Prometheus metrics in one place so
// the consumer and the indexer count the same things under the same names.
package metrics

import "github.com/prometheus/client_golang/prometheus"

// Metrics are logtransfer's own metrics.
type Metrics struct {
	Consumed        prometheus.Counter
	Indexed         prometheus.Counter
	Retried         prometheus.Counter
	DeadLettered    prometheus.Counter
	Abandoned       prometheus.Counter
	BulkDuration    *prometheus.HistogramVec
	RequestErrors   *prometheus.CounterVec
	ConsumerLag     *prometheus.GaugeVec
	InflightBatches prometheus.Gauge
	InflightBytes   prometheus.Gauge
}

// New registers the metrics in reg; a nil reg gives unregistered metrics
// (tests, benchmarks).
func New(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		Consumed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "logtransfer_messages_consumed_total", Help: "Kafka records read from claimed partitions."}),
		Indexed: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "logtransfer_documents_indexed_total", Help: "Documents Elasticsearch accepted (2xx item results)."}),
		Retried: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "logtransfer_documents_retried_total", Help: "Document sends that failed with a retryable error (connection, 429, 5xx) and were retried."}),
		DeadLettered: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "logtransfer_documents_dead_lettered_total", Help: "Documents permanently rejected (4xx item) and written to the dead-letter index."}),
		Abandoned: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "logtransfer_documents_abandoned_total", Help: "Documents dropped unmarked because their partition was revoked or the service stopped; Kafka redelivers them."}),
		BulkDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "logtransfer_bulk_duration_seconds", Help: "Duration of _bulk requests by outcome (ok, item_errors, error).",
			Buckets: prometheus.ExponentialBuckets(0.005, 2, 12)}, []string{"outcome"}),
		RequestErrors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "logtransfer_bulk_request_errors_total", Help: "_bulk requests that failed as a whole, by HTTP status (0: no response: connection error, timeout)."}, []string{"status"}),
		ConsumerLag: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "logtransfer_consumer_lag", Help: "Records between the last one read and the partition's high watermark."}, []string{"topic", "partition"}),
		InflightBatches: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "logtransfer_inflight_batches", Help: "Batches being sent or retried by the workers."}),
		InflightBytes: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "logtransfer_inflight_bytes", Help: "Bytes of records read from Kafka and not yet indexed, dead-lettered or dropped; at most [transfer] max_inflight_bytes (one larger record passes alone)."}),
	}
	if reg != nil {
		reg.MustRegister(m.Consumed, m.Indexed, m.Retried, m.DeadLettered, m.Abandoned, m.BulkDuration, m.RequestErrors, m.ConsumerLag, m.InflightBatches, m.InflightBytes)
	}
	return m
}
