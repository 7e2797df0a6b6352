// Package processor is the engine of a collect entry's "processors" list
// (issue 15): an ordered chain of drop/keep filters, masks, parsers,
// timestamp extraction and a rate limit, compiled once from the entry's
// JSON by Parse and applied to every line by Chain.Apply before the line
// becomes a record and leaves the host.
//
// Guarantees:
//   - Deterministic: the same Line gives the same result (message, parsed
//     fields in a fixed order, flags, time), so a re-read line becomes the
//     same document. rate_limit is the one processor that depends on time.
//   - Nothing is lost silently: a parser that does not match, or a time that
//     does not parse, leaves the line as it was plus a flag (record.Flag*);
//     a processor that fails (a bug, a panic) leaves the line unprocessed,
//     flagged processor_error. Only drop/keep and rate_limit drop lines, and
//     the chain counts them (Stats); the caller acknowledges a dropped line
//     so its checkpoint still advances.
//   - Validation: every config error is a *ConfigError naming the
//     processor's index, its type, the field, the bad value and what to
//     write instead; unknown fields are rejected.
//
// Cost (BenchmarkProcessors reports wall and CPU time per line; figures in
// docs/logagent.md):
//   - cheap, hand-written scanners without allocations on a plain line:
//     parse nginx/apache, syslog and logfmt; the mask built-ins (email,
//     credit_card, secrets, ipv4; they allocate only the masked copy);
//     timestamp with the named layouts nginx, rfc3339, unix*; rate_limit.
//   - not cheap: everything built on a regular expression (drop, keep,
//     mask with a pattern, parse with a pattern): Go's regexp costs roughly
//     0.1 to 1 µs per line and more on long lines. It is RE2, so its time is
//     linear in the line; a pattern that would backtrack catastrophically
//     elsewhere is merely slow here, never exponential. Timestamps with a
//     free Go layout go through time.Parse (a few hundred ns). Fields read
//     from format=json ("json.x") walk the JSON object per line (no
//     decoding, but the whole object up to the key).
package processor

import (
	"slices"
	"sync/atomic"
	"time"

	"github.com/logcollect/logcollect/pkg/record"
)

// MaxParsedFields bounds the parsed fields of one line, so a hostile line
// (a logfmt line of a million keys) cannot grow a record without bound;
// fields past it are left out and the line is flagged fields_capped.
const MaxParsedFields = 100

// Line is what the processors read and change: the parts of a record that
// come from the line itself. The harvester fills it per line (reusing
// Parsed and Flags across lines keeps the chain free of allocations) and
// maps it onto record.Record.
type Line struct {
	Message string
	// Time is @timestamp: the read time until a timestamp processor finds
	// the time the line states.
	Time time.Time
	// Created is the read time once a timestamp processor ran
	// (event.created).
	Created time.Time
	Parsed  []record.Field
	Flags   []string
	// JSON is the line's object when the entry's format is json; "json.x"
	// field references read its top-level key x.
	JSON []byte
	// Source names the file the line came from; a per-file rate limit keys
	// on it.
	Source string

	// appendOnly says set need not look for the key: a scanner whose keys
	// are distinct runs on a line without parsed fields.
	appendOnly bool
}

// Flag adds flag once.
func (l *Line) Flag(flag string) {
	if !slices.Contains(l.Flags, flag) {
		l.Flags = append(l.Flags, flag)
	}
}

// Field returns the parsed field named key, or nil.
func (l *Line) Field(key string) *record.Field {
	for i := range l.Parsed {
		if l.Parsed[i].Key == key {
			return &l.Parsed[i]
		}
	}
	return nil
}

// set replaces the parsed field of f's key, or appends f; keys stay unique
// so the record's "parsed" object has no duplicates.
func (l *Line) set(f record.Field) {
	if !l.appendOnly {
		if old := l.Field(f.Key); old != nil {
			*old = f
			return
		}
	}
	if len(l.Parsed) >= MaxParsedFields {
		l.Flag(record.FlagFieldsCapped)
		return
	}
	// Field by field: appending f whole copied it through 16-byte loads
	// of the 8-byte halves it had just been stored as, which stall.
	l.Parsed = append(l.Parsed, record.Field{})
	p := &l.Parsed[len(l.Parsed)-1]
	p.Key, p.Kind, p.Str, p.Int, p.Float = f.Key, f.Kind, f.Str, f.Int, f.Float
}

// setAll sets each of fs, appended at once where set would append each.
func (l *Line) setAll(fs []record.Field) {
	if l.appendOnly && len(l.Parsed)+len(fs) <= MaxParsedFields {
		l.Parsed = append(l.Parsed, fs...)
		return
	}
	for _, f := range fs {
		l.set(f)
	}
}

// Verdict is what becomes of a line.
type Verdict uint8

const (
	Keep Verdict = iota // send the line on
	Drop                // acknowledge the line without sending it
)

func (v Verdict) String() string {
	if v == Drop {
		return "drop"
	}
	return "keep"
}

// step is one compiled processor.
type step interface {
	apply(l *Line) Verdict
}

// Chain is an entry's compiled processors. Apply is safe for concurrent
// use: the files of one entry share its chain (and its rate limit).
type Chain struct {
	steps []step
	types []string // the processor type of each step, for the counts

	filtered, rateLimited, failed atomic.Uint64
}

// Stats counts what a chain did since it was compiled.
type Stats struct {
	Filtered    uint64 // lines dropped by drop or keep
	RateLimited uint64 // lines dropped by rate_limit
	Failed      uint64 // lines a processor failed on (sent on unprocessed)
}

// Stats returns the chain's counts.
func (c *Chain) Stats() Stats {
	return Stats{Filtered: c.filtered.Load(), RateLimited: c.rateLimited.Load(), Failed: c.failed.Load()}
}

// Len is the number of processors; a chain of none leaves lines as read.
func (c *Chain) Len() int { return len(c.steps) }

// Apply runs the processors in order on l until one drops it.
func (c *Chain) Apply(l *Line) (v Verdict) {
	if len(c.steps) == 0 {
		return Keep
	}
	// A failing processor must not lose the line (nor crash the agent on
	// a hostile one): it goes on as it was read, flagged.
	msg, t, created, parsed, flags := l.Message, l.Time, l.Created, l.Parsed, l.Flags
	defer func() {
		if recover() != nil {
			l.Message, l.Time, l.Created, l.Parsed, l.Flags = msg, t, created, parsed, flags
			l.appendOnly = false
			l.Flag(record.FlagProcessorError)
			c.failed.Add(1)
			v = Keep
		}
	}()
	for i, s := range c.steps {
		if s.apply(l) == Drop {
			if c.types[i] == typeRateLimit {
				c.rateLimited.Add(1)
			} else {
				c.filtered.Add(1)
			}
			return Drop
		}
	}
	return Keep
}
