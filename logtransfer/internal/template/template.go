// Package template installs logtransfer's index templates at start, so the
// daily indices get proper mappings (Kibana can use a data view on
// <prefix>-* at once) and the dead-letter index keeps rejected records as
// unindexed text that can never be rejected again.
package template

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"github.com/olivere/elastic/v7"
)

// Spec says what to install.
type Spec struct {
	Name            string // template name, e.g. the index prefix
	IndexPattern    string // e.g. "logcollect-*"
	DeadLetterIndex string
}

// Templates of one Spec, composable form.
func (s Spec) composable() map[string]map[string]any {
	return map[string]map[string]any{
		s.Name: {
			"index_patterns": []string{s.IndexPattern},
			"priority":       100,
			"template":       map[string]any{"mappings": Mappings()},
			"_meta":          map[string]any{"managed_by": "logtransfer"},
		},
		s.Name + "-dead-letter": {
			"index_patterns": []string{s.DeadLetterIndex},
			// Above the data template: the dead-letter index usually
			// matches <prefix>-* too and must get its own mapping.
			"priority": 200,
			"template": map[string]any{"mappings": DeadLetterMappings()},
			"_meta":    map[string]any{"managed_by": "logtransfer"},
		},
	}
}

func (s Spec) legacy() map[string]map[string]any {
	return map[string]map[string]any{
		s.Name:                  {"index_patterns": []string{s.IndexPattern}, "order": 100, "mappings": Mappings()},
		s.Name + "-dead-letter": {"index_patterns": []string{s.DeadLetterIndex}, "order": 200, "mappings": DeadLetterMappings()},
	}
}

func keyword() map[string]any { return map[string]any{"type": "keyword", "ignore_above": 1024} }
func long() map[string]any    { return map[string]any{"type": "long"} }
func props(p map[string]any) map[string]any {
	return map[string]any{"properties": p}
}

func date() map[string]any { return map[string]any{"type": "date"} }

// dynamic maps the fields under path whose first value has the JSON type
// matchType (as Elasticsearch names it: string, date, long, double, ...).
func dynamic(name, path, matchType string, mapping map[string]any) map[string]any {
	return map[string]any{name: map[string]any{"path_match": path, "match_mapping_type": matchType, "mapping": mapping}}
}

// Mappings are those of the data indices: the agent's record fields
// (@timestamp, message, host.*, log.*, event.*), the kafka.* coordinates of
// foreign values, fields.* as dynamic keywords, and parsed.* (what the
// agent's parse processors extract) typed by its JSON values: strings are
// keywords (searched whole, like parsed.request:"GET / HTTP/1.1"), integers
// longs and fractions doubles, so parsed.status:500 and ranges work.
//
// Every topic has indices of its own (the index pattern requires {topic}),
// so parsed.status a number in one topic and a word in another is no
// conflict; within one index, a later value of another shape (a word where
// a number was first seen) is a mapping conflict, which the transfer sends
// to the dead-letter index. Records without parsed.* or event.created, as
// older agents send them, map exactly as before.
func Mappings() map[string]any {
	return map[string]any{
		"dynamic_templates": []any{
			dynamic("fields_as_keywords", "fields.*", "string", keyword()),
			dynamic("parsed_strings_as_keywords", "parsed.*", "string", keyword()),
			// A string that looks like a date (a syslog 5424 timestamp) is
			// matched as "date", not "string": kept a keyword too, so the
			// next line's non-date word does not conflict with it.
			dynamic("parsed_dates_as_keywords", "parsed.*", "date", keyword()),
			dynamic("parsed_integers_as_longs", "parsed.*", "long", long()),
			// Elasticsearch would pick float: double keeps every digit.
			dynamic("parsed_fractions_as_doubles", "parsed.*", "double", map[string]any{"type": "double"}),
		},
		"properties": map[string]any{
			"@timestamp": date(),
			"message":    map[string]any{"type": "text"},
			"host":       props(map[string]any{"name": keyword(), "ip": keyword()}),
			"log": props(map[string]any{
				"file":       props(map[string]any{"path": keyword(), "inode": long(), "device": long(), "id": keyword()}),
				"offset":     long(),
				"end_offset": long(),
				"flags":      keyword(),
			}),
			// created: when the agent read the line, kept when a timestamp
			// processor set @timestamp to the time the line states.
			"event":  props(map[string]any{"id": keyword(), "ingested": date(), "created": date()}),
			"kafka":  props(map[string]any{"topic": keyword(), "partition": long(), "offset": long()}),
			"fields": map[string]any{"type": "object", "dynamic": true},
			"parsed": map[string]any{"type": "object", "dynamic": true},
			"stream": keyword(),
		},
	}
}

// DeadLetterMappings accept any dead-letter document: nothing is mapped
// dynamically and the original record (event.original) is kept only in
// _source, so it cannot conflict with anything.
func DeadLetterMappings() map[string]any {
	return map[string]any{
		"dynamic": false,
		"properties": map[string]any{
			"@timestamp": map[string]any{"type": "date"},
			"message":    map[string]any{"type": "text"},
			"error":      props(map[string]any{"type": keyword(), "reason": map[string]any{"type": "text"}, "status": long()}),
			"original":   props(map[string]any{"index": keyword(), "id": keyword()}),
			"kafka":      props(map[string]any{"topic": keyword(), "partition": long(), "offset": long()}),
			"event":      map[string]any{"type": "object", "enabled": false},
		},
	}
}

// ErrUnreachable wraps failures worth retrying (connection, 429, 5xx).
var ErrUnreachable = errors.New("elasticsearch unreachable")

// Install puts the templates, composable first; a server without
// composable templates (before 7.8) gets legacy ones. It is idempotent:
// PUT replaces a template with the same content.
func Install(ctx context.Context, c *elastic.Client, s Spec) (kind string, err error) {
	for name, body := range s.composable() {
		_, err = c.IndexPutIndexTemplate(name).BodyJson(body).Do(ctx)
		if err != nil {
			break
		}
	}
	if err == nil {
		return "composable", nil
	}
	if retryable(err) {
		return "", fmt.Errorf("put index template: %w: %w", ErrUnreachable, err)
	}
	if !noComposable(err) {
		return "", fmt.Errorf("put index template %s: %w", s.Name, err)
	}
	for name, body := range s.legacy() {
		if _, err := c.IndexPutTemplate(name).BodyJson(body).Do(ctx); err != nil {
			if retryable(err) {
				return "", fmt.Errorf("put legacy template: %w: %w", ErrUnreachable, err)
			}
			return "", fmt.Errorf("put legacy template %s: %w", name, err)
		}
	}
	return "legacy", nil
}

func retryable(err error) bool {
	var e *elastic.Error
	if errors.As(err, &e) {
		return e.Status == http.StatusTooManyRequests || e.Status >= 500
	}
	return true // transport errors
}

// noComposable tells "this server has no _index_template API" (404, 405,
// or a 400 complaining about the method/endpoint) from a bad template.
func noComposable(err error) bool {
	var e *elastic.Error
	if !errors.As(err, &e) {
		return false
	}
	switch e.Status {
	case http.StatusNotFound, http.StatusMethodNotAllowed:
		return true
	case http.StatusBadRequest:
		if e.Details == nil {
			return true
		}
		t := e.Details.Type
		return t == "" || t == "illegal_argument_exception" && !jsonMentions(e.Details, "mapper")
	}
	return false
}

func jsonMentions(d *elastic.ErrorDetails, word string) bool {
	b, _ := json.Marshal(d)
	return strings.Contains(strings.ToLower(string(b)), word)
}
