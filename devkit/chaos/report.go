package chaos

import (
	"fmt"
	"sort"
	"strings"
	"time"
)

// Report is a scenario's figures.
type Report struct {
	Scenario string
	Mode     string // "short" or "full"
	Files    int
	Rate     int     // target lines/s per file
	Achieved float64 // lines/s per file actually written (mean over files)
	Writing  time.Duration
	Faults   int // kills or outages
	// Recoveries: per fault, the time from its end (restart, service back)
	// until the pipeline made progress again; NotRecovered counts faults
	// followed by the next one before any progress.
	Recoveries   []time.Duration
	NotRecovered int
	CatchUp      time.Duration // from the writers' stop until every line was indexed
	Result       Result
	Kafka        *KafkaResult // scenarios that read the topic back
	Notes        []string
}

// Note adds a line to the report.
func (r *Report) Note(format string, args ...any) {
	r.Notes = append(r.Notes, fmt.Sprintf(format, args...))
}

func fmtDur(d time.Duration) string {
	if d == 0 {
		return "-"
	}
	return d.Round(10 * time.Millisecond).String()
}

// Table renders the figures.
func (r *Report) Table() string {
	var b strings.Builder
	res := r.Result
	fmt.Fprintf(&b, "\n=== chaos %s (%s) %s\n", r.Scenario, r.Mode, time.Now().UTC().Format("2006-01-02 15:04 UTC"))
	row := func(k string, v any) { fmt.Fprintf(&b, "  %-26s %v\n", k, v) }
	row("files x rate (target)", fmt.Sprintf("%d x %d lines/s", r.Files, r.Rate))
	row("rate achieved per file", fmt.Sprintf("%.0f lines/s over %s", r.Achieved, fmtDur(r.Writing)))
	row("written", res.Written)
	row("indexed (distinct lines)", res.Indexed)
	row("lost", res.Lost)
	row("duplicated", res.Duplicated)
	row("out of order", res.OutOfOrder)
	row("documents / other docs", fmt.Sprintf("%d / %d", res.Docs, res.Foreign))
	row("dead letters (transfer)", res.DeadLetters)
	row("faults (kills/outages)", r.Faults)
	if len(r.Recoveries) > 0 || r.NotRecovered > 0 {
		rs := append([]time.Duration(nil), r.Recoveries...)
		sort.Slice(rs, func(i, j int) bool { return rs[i] < rs[j] })
		var med, max time.Duration
		if len(rs) > 0 {
			med, max = rs[len(rs)/2], rs[len(rs)-1]
		}
		row("recovery median / max", fmt.Sprintf("%s / %s (%d measured, %d cut by the next fault)", fmtDur(med), fmtDur(max), len(rs), r.NotRecovered))
	}
	row("catch-up after writers stop", fmtDur(r.CatchUp))
	if k := r.Kafka; k != nil {
		row("kafka records / resent", fmt.Sprintf("%d / %d", k.Records, k.Resent))
		row("kafka out of order", k.OutOfOrder)
		row("kafka lines missing", k.Missing)
		row("kafka records per partition", fmt.Sprint(k.PerPartition))
		for _, x := range k.FirstOOO {
			fmt.Fprintf(&b, "  kafka out of order: %s\n", x)
		}
	}
	for _, f := range res.Files {
		if f.Lost > 0 || f.Duplicated > 0 || f.OutOfOrder > 0 {
			fmt.Fprintf(&b, "  file %d: written %d lost %d (first %v) dup %d (first %v) out-of-order %d\n", f.File, f.Written, f.Lost, f.FirstLost, f.Duplicated, f.FirstDup, f.OutOfOrder)
		}
	}
	for _, d := range res.ForeignSample {
		if len(d) > 600 {
			d = d[:600] + "..."
		}
		fmt.Fprintf(&b, "  other doc: %s\n", d)
	}
	for _, n := range r.Notes {
		fmt.Fprintf(&b, "  note: %s\n", n)
	}
	return b.String()
}
