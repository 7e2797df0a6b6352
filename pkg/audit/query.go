package audit

import (
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"sort"
)

// The documents of one file generation are those with its id in
// log.file.id (whatever the file was named, whichever inode held the line:
// a copytruncate copy goes on under its original's id; the host's IP may
// have changed) and log.offset in the range the agent counted.

type obj = map[string]any

func term(field string, v any) obj { return obj{"term": obj{field: v}} }

// fileQuery matches the documents of row r in its counted range.
func fileQuery(r *Row) obj {
	return obj{"bool": obj{"filter": []any{
		term("log.file.id", r.FileID),
		obj{"range": obj{"log.offset": obj{"gte": r.Since, "lt": r.Offset}}},
	}}}
}

// dataPath is the search path over the data indices, without the
// dead-letter index (which <prefix>-* matches too).
func (a *auditor) dataPath() string {
	return url.PathEscape(a.o.Indices+",-"+a.o.DeadLetterIndex) + "/_search?ignore_unavailable=true&allow_no_indices=true"
}

// count sets Indexed and MaxOffset of the counted rows of the host ip with
// one aggregation: the documents in any of its files' ranges, by file id.
func (a *auditor) count(ctx context.Context, ip string, rows []Row) error {
	var should []any
	for i := range rows {
		if rows[i].Verdict != Uncounted {
			should = append(should, fileQuery(&rows[i]))
		}
	}
	if len(should) == 0 {
		return nil
	}
	body := obj{
		"size":  0,
		"query": obj{"bool": obj{"should": should, "minimum_should_match": 1}},
		"aggs": obj{"file": obj{
			"terms": obj{"field": "log.file.id", "size": len(should)},
			"aggs":  obj{"max_offset": obj{"max": obj{"field": "log.offset"}}},
		}},
	}
	var resp struct {
		Aggregations struct {
			File struct {
				Buckets []struct {
					Key       string `json:"key"`
					DocCount  uint64 `json:"doc_count"`
					MaxOffset struct {
						Value *float64 `json:"value"`
					} `json:"max_offset"`
				} `json:"buckets"`
			} `json:"file"`
		} `json:"aggregations"`
	}
	if err := a.search(ctx, a.dataPath(), body, &resp); err != nil {
		return fmt.Errorf("count the documents of %s: %w", ip, err)
	}
	type found struct {
		count uint64
		max   int64
	}
	byID := map[string]found{}
	for _, b := range resp.Aggregations.File.Buckets {
		f := found{count: b.DocCount, max: -1}
		if v := b.MaxOffset.Value; v != nil {
			f.max = int64(*v)
		}
		byID[b.Key] = f
	}
	for i := range rows {
		r := &rows[i]
		if r.Verdict == Uncounted {
			continue
		}
		f, ok := byID[r.FileID]
		if !ok {
			f.max = -1
		}
		r.Indexed, r.MaxOffset = f.count, f.max
	}
	return nil
}

// span is a document's byte range [from, to); to is 0 when the document
// has no log.end_offset (sent by an agent older than the audit).
type span struct{ from, to int64 }

func countIn(spans []span, from, to int64) uint64 {
	var n uint64
	for _, s := range spans {
		if s.from >= from && s.from < to {
			n++
		}
	}
	return n
}

// agentRecord is what the audit reads of an agent's record.
type agentRecord struct {
	Log struct {
		File struct {
			ID string `json:"id"`
		} `json:"file"`
		Offset    int64 `json:"offset"`
		EndOffset int64 `json:"end_offset"`
	} `json:"log"`
}

// deadLetters reads the dead-letter index: each document keeps the
// original record as one string (event.original), so the file and offset
// of a dead-lettered line are read from it. At most MaxDeadLetters are
// read (they should be rare); notes say when there were more.
func (a *auditor) deadLetters(ctx context.Context) (map[string][]span, []string, error) {
	body := obj{
		"size":             a.o.MaxDeadLetters,
		"track_total_hits": true,
		"_source":          []string{"event.original"},
		"query":            obj{"match_all": obj{}},
		"sort":             []any{"_doc"},
	}
	var resp struct {
		Hits struct {
			Total struct {
				Value uint64 `json:"value"`
			} `json:"total"`
			Hits []struct {
				Source struct {
					Event struct {
						Original string `json:"original"`
					} `json:"event"`
				} `json:"_source"`
			} `json:"hits"`
		} `json:"hits"`
	}
	path := url.PathEscape(a.o.DeadLetterIndex) + "/_search?ignore_unavailable=true&allow_no_indices=true"
	if err := a.search(ctx, path, body, &resp); err != nil {
		return nil, nil, fmt.Errorf("read the dead-letter index %s: %w", a.o.DeadLetterIndex, err)
	}
	out := map[string][]span{}
	for _, h := range resp.Hits.Hits {
		var rec agentRecord
		if json.Unmarshal([]byte(h.Source.Event.Original), &rec) != nil || rec.Log.File.ID == "" {
			continue // not a file record of an agent (a plain value, foreign JSON, a journal entry)
		}
		id := rec.Log.File.ID
		out[id] = append(out[id], span{rec.Log.Offset, rec.Log.EndOffset})
	}
	var notes []string
	if n := resp.Hits.Total.Value; n > uint64(len(resp.Hits.Hits)) {
		notes = append(notes, fmt.Sprintf("the dead-letter index %s holds %d documents; the audit read %d, so dead-lettered counts may be low (and missing ones high)", a.o.DeadLetterIndex, n, len(resp.Hits.Hits)))
	}
	return out, notes, nil
}

// pageSize is the documents read per request when naming gaps: ES's
// default index.max_result_window.
const pageSize = 10_000

// gaps names the byte ranges of row r that no document (indexed or
// dead-lettered) covers, reading the documents' offsets in pages ordered
// by offset, at most MaxDocs.
func (a *auditor) gaps(ctx context.Context, r *Row, dead map[string][]span) error {
	var spans []span
	for _, s := range dead[r.FileID] {
		if s.from >= r.Since && s.from < r.Offset {
			spans = append(spans, s)
		}
	}
	from, read, limited := r.Since, 0, false
	for {
		q := fileQuery(&Row{FileID: r.FileID, Since: from, Offset: r.Offset})
		size := min(pageSize, a.o.MaxDocs-read)
		body := obj{"size": size, "query": q, "sort": []any{obj{"log.offset": obj{"order": "asc", "unmapped_type": "long"}}},
			"_source": []string{"log.offset", "log.end_offset"}, "track_total_hits": false}
		var resp struct {
			Hits struct {
				Hits []struct {
					Source agentRecord `json:"_source"`
				} `json:"hits"`
			} `json:"hits"`
		}
		if err := a.search(ctx, a.dataPath(), body, &resp); err != nil {
			return fmt.Errorf("read the offsets of %s on %s: %w", r.Path, r.IP, err)
		}
		for _, h := range resp.Hits.Hits {
			spans = append(spans, span{h.Source.Log.Offset, h.Source.Log.EndOffset})
		}
		read += len(resp.Hits.Hits)
		if len(resp.Hits.Hits) < size {
			break
		}
		if read >= a.o.MaxDocs {
			limited = true
			break
		}
		from = resp.Hits.Hits[len(resp.Hits.Hits)-1].Source.Log.Offset + 1
	}
	sort.Slice(spans, func(i, j int) bool { return spans[i].from < spans[j].from })
	gaps, unknownEnds := holes(spans, r.Since, r.Offset)
	if limited {
		// Past the documents read, nothing is known: no trailing gap.
		last := spans[len(spans)-1]
		gaps, _ = holes(spans, r.Since, max(last.to, last.from))
		r.Note = fmt.Sprintf("gaps named up to offset %d only (the first %d documents were read)", last.from, read)
	}
	if unknownEnds {
		r.Note = "some documents have no log.end_offset (sent by an older agent): the ranges after them are not named"
	}
	if len(gaps) > a.o.MaxGaps {
		r.GapsOmitted = len(gaps) - a.o.MaxGaps
		gaps = gaps[:a.o.MaxGaps]
	}
	r.Gaps = gaps
	return nil
}

// holes are the ranges of [from, to) that no span covers; spans are sorted
// by start. After a span without an end nothing is said until the next
// span starts.
func holes(spans []span, from, to int64) (gaps []Gap, unknownEnds bool) {
	at := from
	for i, s := range spans {
		if s.from > at {
			gaps = append(gaps, Gap{at, s.from})
		}
		switch {
		case s.to > s.from:
			at = max(at, s.to)
		case i+1 < len(spans):
			unknownEnds = true
			at = max(at, spans[i+1].from)
		default:
			unknownEnds = true
			at = max(at, to)
		}
	}
	if at < to {
		gaps = append(gaps, Gap{at, to})
	}
	return gaps, unknownEnds
}

func (a *auditor) search(ctx context.Context, path string, body obj, into any) error {
	data, err := json.Marshal(body)
	if err != nil {
		return err
	}
	resp, err := a.es.Search(ctx, path, data)
	if err != nil {
		return err
	}
	// A shard that failed (log.file.id mapped as text in an index created
	// before the transfer's template had it) would make counts low.
	var shards struct {
		Shards struct {
			Failed   int `json:"failed"`
			Failures []struct {
				Index  string `json:"index"`
				Reason struct {
					Reason string `json:"reason"`
				} `json:"reason"`
			} `json:"failures"`
		} `json:"_shards"`
	}
	if err := json.Unmarshal(resp, &shards); err != nil {
		return fmt.Errorf("decode the answer: %w", err)
	}
	if f := shards.Shards; f.Failed > 0 {
		msg := ""
		if len(f.Failures) > 0 {
			msg = fmt.Sprintf(": %s: %s", f.Failures[0].Index, f.Failures[0].Reason.Reason)
		}
		return fmt.Errorf("%d shards failed%s", f.Failed, msg)
	}
	if err := json.Unmarshal(resp, into); err != nil {
		return fmt.Errorf("decode the answer: %w", err)
	}
	return nil
}
