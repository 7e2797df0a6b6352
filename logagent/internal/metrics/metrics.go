// Package metrics defines the agent's Prometheus metrics in one place so
// every component reports under the documented names.
package metrics

import "github.com/prometheus/client_golang/prometheus"

// Metrics are the agent's counters and gauges.
type Metrics struct {
	LinesRead      prometheus.Counter
	BytesRead      prometheus.Counter
	RecordsAcked   prometheus.Counter
	DeadLettered   prometheus.Counter
	ProducerErrors *prometheus.CounterVec // by class: retryable, permanent
	QueueDepth     prometheus.Gauge
	FilesOpen      prometheus.Gauge
	CheckpointLag  *prometheus.GaugeVec // bytes between file size and acked offset, by path
	ConfigReloads  *prometheus.CounterVec
	// CheckpointSaved is when checkpoints were last known to be on disk;
	// time() minus it is the checkpoint age an alert can watch.
	CheckpointSaved      prometheus.Gauge
	CheckpointSaveErrors prometheus.Counter
	StatusWrites         prometheus.Counter // fleet status documents written to etcd

	// QueueBytes is what QueueDepth's records hold (max_inflight_bytes).
	QueueBytes prometheus.Gauge
	// DeadLetterDropped counts records Kafka rejected permanently that are
	// not in the dead-letter files, by reason: write_failed, rotated.
	DeadLetterDropped *prometheus.CounterVec

	// ProcessorDropped counts the lines an entry's processors dropped (and
	// acknowledged unsent), by entry (its path) and reason: filtered (drop,
	// keep) or rate_limited. ProcessorErrors counts the lines a processor
	// failed on, sent on unprocessed and flagged processor_error.
	ProcessorDropped *prometheus.CounterVec
	ProcessorErrors  *prometheus.CounterVec
}

// New registers the metrics in reg (a fresh registry per agent, so tests
// can run several agents in one process).
func New(reg prometheus.Registerer) *Metrics {
	m := &Metrics{
		LinesRead:      prometheus.NewCounter(prometheus.CounterOpts{Name: "logagent_lines_read_total", Help: "Lines (events) read from files."}),
		BytesRead:      prometheus.NewCounter(prometheus.CounterOpts{Name: "logagent_bytes_read_total", Help: "Bytes read from files."}),
		RecordsAcked:   prometheus.NewCounter(prometheus.CounterOpts{Name: "logagent_records_acked_total", Help: "Records Kafka acknowledged."}),
		DeadLettered:   prometheus.NewCounter(prometheus.CounterOpts{Name: "logagent_records_dead_lettered_total", Help: "Records Kafka rejected permanently, written to the dead-letter file."}),
		ProducerErrors: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "logagent_producer_errors_total", Help: "Producer errors by class (retryable records are resent)."}, []string{"class"}),
		QueueDepth:     prometheus.NewGauge(prometheus.GaugeOpts{Name: "logagent_queue_depth", Help: "Records read and not yet acknowledged (bounded by chan_max_size)."}),
		FilesOpen:      prometheus.NewGauge(prometheus.GaugeOpts{Name: "logagent_files_open", Help: "Files the agent holds open."}),
		CheckpointLag:  prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "logagent_checkpoint_lag_bytes", Help: "File size minus the acknowledged checkpoint offset."}, []string{"path"}),
		ConfigReloads:  prometheus.NewCounterVec(prometheus.CounterOpts{Name: "logagent_config_reloads_total", Help: "Collect config reloads by result (applied, rejected)."}, []string{"result"}),
		CheckpointSaved: prometheus.NewGauge(prometheus.GaugeOpts{Name: "logagent_checkpoint_last_save_timestamp_seconds",
			Help: "Unix time when every acknowledged offset was last known to be on disk."}),
		CheckpointSaveErrors: prometheus.NewCounter(prometheus.CounterOpts{Name: "logagent_checkpoint_save_errors_total",
			Help: "Failed checkpoint writes (full or read-only data_dir); lines are resent after a restart until one succeeds."}),
	}
	m.StatusWrites = prometheus.NewCounter(prometheus.CounterOpts{Name: "logagent_status_writes_total",
		Help: "Fleet status documents written to etcd (on change, and lag every status_refresh)."})
	m.QueueBytes = prometheus.NewGauge(prometheus.GaugeOpts{Name: "logagent_queue_bytes",
		Help: "Bytes of the records read and not yet acknowledged (bounded by max_inflight_bytes)."})
	m.DeadLetterDropped = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "logagent_dead_letter_dropped_total",
		Help: "Records Kafka rejected permanently that are not in the dead-letter files: write_failed (full or read-only data_dir) or rotated (removed by the size cap)."}, []string{"reason"})
	m.ProcessorDropped = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "logagent_processor_dropped_total",
		Help: "Lines a collect entry's processors dropped (acknowledged without being sent), by entry and reason: filtered (drop, keep) or rate_limited."}, []string{"entry", "reason"})
	m.ProcessorErrors = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "logagent_processor_errors_total",
		Help: "Lines a processor failed on; they were sent unprocessed, flagged processor_error."}, []string{"entry"})
	if reg != nil {
		reg.MustRegister(m.QueueBytes, m.DeadLetterDropped, m.ProcessorDropped, m.ProcessorErrors)
		reg.MustRegister(m.LinesRead, m.BytesRead, m.RecordsAcked, m.DeadLettered, m.ProducerErrors, m.QueueDepth, m.FilesOpen, m.CheckpointLag, m.ConfigReloads, m.CheckpointSaved, m.CheckpointSaveErrors, m.StatusWrites)
	}
	return m
}
