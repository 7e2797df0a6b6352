// Package audit compares what each agent says Kafka acknowledged of each
// file (its status document: events counted with the checkpoint) with what
// Elasticsearch holds (documents and dead letters of that file in the same
// offset range), and names the byte ranges of the lines that are missing.
//
// It is the logic of `logagent audit` and of the console's Delivery page:
// callers read the status documents from etcd (DecodeStatus) and pass a
// Searcher for Elasticsearch. See docs/audit.md for what the audit can and
// cannot tell.
package audit

import (
	"context"
	"errors"
	"fmt"
	"time"
)

// Searcher posts a search request body to path ("<targets>/_search?...")
// on Elasticsearch and returns the response body; an answer other than
// 2xx is an error. HTTPSearcher is one over net/http.
type Searcher interface {
	Search(ctx context.Context, path string, body []byte) ([]byte, error)
}

// Options tune an audit; the zero value audits the transfer's default
// indices.
type Options struct {
	// Indices are the data indices ("logcollect-*" by default: the
	// transfer's index_prefix and "-*"); DeadLetterIndex is the transfer's
	// dead_letter_index ("logcollect-dead-letter" by default).
	Indices         string
	DeadLetterIndex string
	// A file short of documents is looked at again every Poll (1s) until
	// its counts stay the same for Settle (5s): then the lines are
	// missing. If they still change after Wait (30s), or Wait is
	// negative (one look: a page refreshed live), they are in flight.
	Poll, Settle, Wait time.Duration
	// MaxDocs bounds the documents read per file to name the missing
	// ranges (100,000); MaxDeadLetters the dead-letter documents read
	// (10,000).
	MaxDocs, MaxDeadLetters int
	// MaxGaps bounds the ranges listed per file (20); the rest are counted.
	MaxGaps int
}

func (o Options) withDefaults() Options {
	if o.Indices == "" {
		o.Indices = "logcollect-*"
	}
	if o.DeadLetterIndex == "" {
		o.DeadLetterIndex = "logcollect-dead-letter"
	}
	if o.Poll <= 0 {
		o.Poll = time.Second
	}
	if o.Settle <= 0 {
		o.Settle = 5 * time.Second
	}
	if o.Wait == 0 {
		o.Wait = 30 * time.Second
	}
	if o.MaxDocs <= 0 {
		o.MaxDocs = 100_000
	}
	if o.MaxDeadLetters <= 0 {
		o.MaxDeadLetters = 10_000
	}
	if o.MaxGaps <= 0 {
		o.MaxGaps = 20
	}
	return o
}

// Verdicts of a row.
const (
	OK        = "ok"
	Missing   = "MISSING"
	InFlight  = "in flight"
	Uncounted = "uncounted" // the agent keeps no counts for this file: nothing to compare
	Inexact   = "inexact"   // more documents than acknowledged lines: see Row.Note
)

// Row is the audit of one file on one host.
type Row struct {
	IP       string `json:"ip"`
	Hostname string `json:"hostname"`
	Path     string `json:"path"`
	Topic    string `json:"topic"`
	FileID   string `json:"file_id"` // the generation's id: log.file.id of its documents
	Device   uint64 `json:"device"`
	Inode    uint64 `json:"inode"`
	// The byte range compared: [Since, Offset). Since is -1 when
	// uncounted.
	Since  int64 `json:"since"`
	Offset int64 `json:"offset"`

	Acked        uint64 `json:"acked"`         // records Kafka acknowledged in the range
	Dropped      uint64 `json:"dropped"`       // lines the processors dropped on purpose (no document expected)
	Indexed      uint64 `json:"indexed"`       // documents in the data indices in the range
	DeadLettered uint64 `json:"dead_lettered"` // dead-letter documents of the range
	InFlight     uint64 `json:"in_flight"`     // acknowledged, not yet indexed, and the count still moves
	Missing      uint64 `json:"missing"`       // acknowledged, not indexed, and the count no longer moves
	MaxOffset    int64  `json:"max_offset"`    // highest log.offset indexed in the range; -1: none

	// Gaps are the byte ranges no document covers, when the file is
	// short of documents (at most Options.MaxGaps; GapsOmitted counts the
	// rest). They hold the missing lines, and the dropped ones too when
	// Dropped > 0.
	Gaps        []Gap  `json:"gaps,omitempty"`
	GapsOmitted int    `json:"gaps_omitted,omitempty"`
	Verdict     string `json:"verdict"`
	Note        string `json:"note,omitempty"`
}

// Gap is the byte range [From, To) of a file that no document covers.
type Gap struct {
	From int64 `json:"from"`
	To   int64 `json:"to"`
}

// Report is an audit's result.
type Report struct {
	At           time.Time `json:"at"`
	Hosts        int       `json:"hosts"`
	Files        int       `json:"files"`
	Acked        uint64    `json:"acked"`
	Dropped      uint64    `json:"dropped"`
	Indexed      uint64    `json:"indexed"`
	DeadLettered uint64    `json:"dead_lettered"`
	InFlight     uint64    `json:"in_flight"`
	Missing      uint64    `json:"missing"`
	Uncounted    int       `json:"uncounted_files"` // files without counts
	Rows         []Row     `json:"rows"`
	// Notes say where the report cannot be exact (files left out of a
	// status document, dead letters not all read).
	Notes   []string `json:"notes,omitempty"`
	Verdict string   `json:"verdict"` // OK, Missing or InFlight
}

// Run audits the files of hosts against Elasticsearch.
func Run(ctx context.Context, hosts []Host, es Searcher, opts Options) (Report, error) {
	if es == nil {
		return Report{}, errors.New("audit: no Elasticsearch searcher")
	}
	o := opts.withDefaults()
	a := &auditor{es: es, o: o}
	rep := Report{At: time.Now().UTC(), Hosts: len(hosts)}
	dead, notes, err := a.deadLetters(ctx)
	if err != nil {
		return Report{}, err
	}
	rep.Notes = append(rep.Notes, notes...)
	for _, h := range hosts {
		if h.FilesOmitted > 0 {
			rep.Notes = append(rep.Notes, fmt.Sprintf("%s: the status document lists %d files and leaves out %d (it holds at most 500): those are not audited", h.IP, len(h.Files), h.FilesOmitted))
		}
		rows := a.rows(h, dead)
		if err := a.count(ctx, h.IP, rows); err != nil {
			return Report{}, err
		}
		rep.Rows = append(rep.Rows, rows...)
	}
	if err := a.settle(ctx, rep.Rows); err != nil {
		return Report{}, err
	}
	for i := range rep.Rows {
		r := &rep.Rows[i]
		if r.Missing > 0 {
			if err := a.gaps(ctx, r, dead); err != nil {
				return Report{}, err
			}
		}
		rep.Files++
		rep.Acked += r.Acked
		rep.Dropped += r.Dropped
		rep.Indexed += r.Indexed
		rep.DeadLettered += r.DeadLettered
		rep.InFlight += r.InFlight
		rep.Missing += r.Missing
		if r.Verdict == Uncounted {
			rep.Uncounted++
		}
	}
	switch {
	case rep.Missing > 0:
		rep.Verdict = Missing
	case rep.InFlight > 0:
		rep.Verdict = InFlight
	default:
		rep.Verdict = OK
	}
	return rep, nil
}

type auditor struct {
	es Searcher
	o  Options
}

// rows are the host's files to audit, before counting.
func (a *auditor) rows(h Host, dead map[string][]span) []Row {
	rows := make([]Row, 0, len(h.Files))
	for _, f := range h.Files {
		r := Row{IP: h.IP, Hostname: h.Hostname, Path: f.Path, Topic: f.Topic, FileID: f.ID, Device: f.Device, Inode: f.Inode,
			Since: -1, Offset: f.Offset, Dropped: f.Dropped, MaxOffset: -1}
		if f.CountedSince == nil || f.ID == "" {
			r.Verdict = Uncounted
			r.Note = "the agent keeps no counts for this file (an agent or checkpoint older than the audit): nothing to compare"
		} else {
			r.Since, r.Acked = *f.CountedSince, f.Events
			r.DeadLettered = countIn(dead[f.ID], r.Since, r.Offset)
		}
		rows = append(rows, r)
	}
	return rows
}

// verdict sets a counted row's figures from its indexed count; settled
// tells whether the count stopped moving.
func (r *Row) verdict(settled bool) {
	if r.Verdict == Uncounted {
		return
	}
	r.InFlight, r.Missing, r.Note = 0, 0, ""
	have := r.Indexed + r.DeadLettered
	switch {
	case have == r.Acked:
		r.Verdict = OK
	case have > r.Acked:
		r.Verdict = Inexact
		r.Note = fmt.Sprintf("%d documents more than acknowledged lines: lines both indexed and dead-lettered, or documents written by hand", have-r.Acked)
	case settled:
		r.Missing, r.Verdict = r.Acked-have, Missing
	default:
		r.InFlight, r.Verdict = r.Acked-have, InFlight
	}
}

// settle looks again at the hosts with files short of documents until
// their counts stop moving (Options.Settle) or Options.Wait is over.
func (a *auditor) settle(ctx context.Context, rows []Row) error {
	short := func() map[string]bool {
		ips := map[string]bool{}
		for i := range rows {
			r := &rows[i]
			if r.Verdict != Uncounted && r.Indexed+r.DeadLettered < r.Acked {
				ips[r.IP] = true
			}
		}
		return ips
	}
	ips := short()
	if a.o.Wait < 0 || len(ips) == 0 {
		for i := range rows {
			rows[i].verdict(false)
		}
		return nil
	}
	start := time.Now()
	lastChange := start
	for {
		done := time.Since(lastChange) >= a.o.Settle
		if done || time.Since(start) >= a.o.Wait {
			for i := range rows {
				rows[i].verdict(done)
			}
			return nil
		}
		t := time.NewTimer(a.o.Poll)
		select {
		case <-ctx.Done():
			t.Stop()
			return ctx.Err()
		case <-t.C:
		}
		for ip := range ips {
			var hostRows []Row
			var at []int
			for i := range rows {
				if rows[i].IP == ip {
					hostRows = append(hostRows, rows[i])
					at = append(at, i)
				}
			}
			if err := a.count(ctx, ip, hostRows); err != nil {
				return err
			}
			for j, i := range at {
				if hostRows[j].Indexed != rows[i].Indexed {
					lastChange = time.Now()
				}
				rows[i] = hostRows[j]
			}
		}
		if ips = short(); len(ips) == 0 {
			lastChange = time.Now().Add(-a.o.Settle) // nothing short: settled
		}
	}
}
