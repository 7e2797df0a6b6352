package fleet

import "time"

// Status is the document an agent publishes at its status key ([etcd]
// status_key, default /logagent/<ip>/status), attached to a lease it keeps
// alive. The agent writes it when something in it changes (config, groups,
// health, errors, the set of files), refreshes lag on a slow timer, and
// more often while it runs a rollout's candidate; liveness is the lease.
// Keep it small: a fleet of 10,000 agents writes it.
type Status struct {
	Version   string `json:"version"`
	Revision  string `json:"revision"` // VCS commit of the binary
	GoVersion string `json:"go_version"`
	Hostname  string `json:"hostname"`
	IP        string `json:"ip"`
	// HostID is the agent's stable identity ([agent] host_id or the one
	// kept in data_dir): what rollout waves hash (WaveHash).
	HostID    string       `json:"host_id"`
	PID       int          `json:"pid"`
	StartedAt time.Time    `json:"started_at"`
	UpdatedAt time.Time    `json:"updated_at"`
	Config    ConfigStatus `json:"config"`
	// Groups are the agent's [agent] groups, in their order (precedence),
	// with the version of each group's config it runs.
	Groups []GroupState `json:"groups,omitempty"`
	// Sources say where each running entry came from (host key or group,
	// revision, rollout), in precedence order.
	Sources []EntrySource `json:"sources,omitempty"`
	Health  Health        `json:"health"`
	// Files are the files of the running collect entries that the agent
	// follows or holds a checkpoint for, largest lag first (at most
	// MaxStatusFiles; FilesOmitted counts the rest).
	Files        []FileStatus `json:"files"`
	FilesOmitted int          `json:"files_omitted,omitempty"`
	TotalLag     int64        `json:"total_lag"` // bytes written and not yet acknowledged, over all files
	// Processors are the counts of the running entries that have
	// processors, since each entry's task (re)started.
	Processors []ProcessorStatus `json:"processors,omitempty"`
	LastError  *ErrorStatus      `json:"last_error,omitempty"`
}

// Health is what a rollout's gate judges (and `logagent agents` flags):
// counts since the running config was applied, so a candidate is judged by
// what happened under it alone.
type Health struct {
	// ReadErrors counts files that failed to open or read (other than
	// permission) since the running config was applied; each file counts
	// once until it reads again.
	ReadErrors int64 `json:"read_errors"`
	// PermissionErrors counts files the agent was not permitted to read
	// since the running config was applied, counted like ReadErrors.
	PermissionErrors int64 `json:"permission_errors"`
	// FilesMatched is how many files the running entries' globs match now
	// (excludes applied, each file once; journal entries match none).
	FilesMatched int `json:"files_matched"`
	// FilesMatchedBefore is FilesMatched under the config that ran before
	// the switch to the running one (-1: none ran before), so "fell to
	// zero where the stable config matched some" is FilesMatched == 0 &&
	// FilesMatchedBefore > 0.
	FilesMatchedBefore int `json:"files_matched_before"`
	// Lag is the bytes written to the followed files and not yet
	// acknowledged by Kafka (TotalLag); growing between two reads of the
	// status means the agent falls behind.
	Lag int64 `json:"lag"`
}

// Config states.
const (
	ConfigNone     = "none"     // nothing applied yet (etcd not read, nothing cached)
	ConfigApplied  = "applied"  // the latest config runs
	ConfigRejected = "rejected" // the latest config was rejected; Revision still runs
)

// ConfigStatus tells which collect config runs. With groups, Revision is
// the host key's revision and Entries the merged entries of every source;
// Groups and Sources in Status say the rest.
type ConfigStatus struct {
	State     string    `json:"state"`
	Source    string    `json:"source,omitempty"`    // etcd, or cache <path> before etcd answered
	Revision  int64     `json:"revision"`            // etcd mod revision of the host key's config that runs (0: none, or an old cache)
	Entries   int       `json:"entries"`             // entries of the running config
	AppliedAt time.Time `json:"applied_at,omitzero"` // when the running config was applied
	Rejected  *Rejected `json:"rejected,omitempty"`  // the latest rejected config, when newer than the running one
}

// Rejected is a collect config the agent refused.
type Rejected struct {
	Source   string    `json:"source,omitempty"` // "host" or "group:<name>" (a candidate: GroupState.Rejected too)
	Revision int64     `json:"revision"`
	Reason   string    `json:"reason"`
	At       time.Time `json:"at"`
}

// FileStatus is the delivery position of one file.
type FileStatus struct {
	Path    string `json:"path"`
	Topic   string `json:"topic"`
	Offset  int64  `json:"offset"`            // acknowledged by Kafka
	Size    int64  `json:"size"`              // current size; -1 when the file was rotated away while still being read
	Lag     int64  `json:"lag"`               // size - offset
	Open    bool   `json:"open"`              // a harvester follows it now
	Entry   string `json:"entry,omitempty"`   // the collect entry (its path) whose harvester follows it, when open
	Rotated bool   `json:"rotated,omitempty"` // the path holds another file now
	// ID is the file generation's id: its documents carry it as
	// log.file.id, whatever inode or name the file had when each line was
	// read. Events and Dropped count its lines from
	// CountedSince up to Offset: records Kafka acknowledged, and lines the
	// processors dropped on purpose. CountedSince is absent when the
	// agent keeps no counts for the file (see docs/audit.md).
	ID           string `json:"id"`
	Device       uint64 `json:"device"`
	Inode        uint64 `json:"inode"`
	Events       uint64 `json:"events"`
	Dropped      uint64 `json:"dropped"`
	CountedSince *int64 `json:"counted_since,omitempty"`
}

// ProcessorStatus is what one collect entry's processors did.
type ProcessorStatus struct {
	Entry       string `json:"entry"` // the entry's path
	Topic       string `json:"topic"`
	Filtered    uint64 `json:"dropped_filtered"`     // lines dropped by drop or keep
	RateLimited uint64 `json:"dropped_rate_limited"` // lines dropped by rate_limit
	Failed      uint64 `json:"processor_errors"`     // lines sent on unprocessed, flagged processor_error
}

// ErrorStatus is the agent's latest warning or error log.
type ErrorStatus struct {
	Level   string    `json:"level"`
	Message string    `json:"message"`
	At      time.Time `json:"at"`
}

// MaxStatusFiles bounds the files listed in a status document, so a glob
// over thousands of files cannot outgrow etcd's value limit.
const MaxStatusFiles = 500
