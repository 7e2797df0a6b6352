// Package document turns a Kafka record into the Elasticsearch document
// logtransfer indexes: its index, its _id and its body, and builds the
// dead-letter document of a record Elasticsearch rejected.
//
// The agent's record is indexed byte for byte with _id = event.id, so a
// redelivered record overwrites itself. Anything else (the tutorial's plain
// text lines, foreign JSON) is wrapped as a message document whose _id comes
// from its Kafka coordinates, so redelivery of those overwrites too; a
// foreign JSON object can instead keep its fields, under json
// (ForeignJSONObject).
package document

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strconv"
	"time"

	"github.com/logcollect/logcollect/pkg/record"
)

// Message is the part of a Kafka record a document is built from.
type Message struct {
	Topic     string
	Partition int32
	Offset    int64
	Value     []byte
	Timestamp time.Time // the Kafka record's timestamp; zero when the producer set none
}

// Doc is one document to index.
type Doc struct {
	Index string
	ID    string
	Body  []byte
	// Agent is true when Body is the agent's record as is.
	Agent bool
	// Invalid, when set, says why the record cannot be indexed as is (an
	// event.id Elasticsearch refuses as _id): it goes to the dead-letter
	// index under ID, which is then derived from the bad id.
	Invalid *Rejection
}

// Builder builds documents. It caches index names, so each worker owns
// one; it is not safe for concurrent use.
type Builder struct {
	pattern *IndexPattern
	now     func() time.Time
	cache   map[indexKey]string
	foreign ForeignJSON
}

type indexKey struct {
	topic string
	hour  int64
}

// NewBuilder returns a Builder naming indices with pattern.
func NewBuilder(pattern *IndexPattern) *Builder {
	return &Builder{pattern: pattern, now: time.Now, cache: map[indexKey]string{}}
}

// Build returns m's document. Body is m.Value itself for agent records
// (not copied: the caller must not reuse m.Value) and a new slice otherwise.
func (b *Builder) Build(m Message) Doc {
	if meta, ok := record.Peek(m.Value); ok {
		d := Doc{Index: b.index(m.Topic, meta.Timestamp), ID: meta.EventID, Body: m.Value, Agent: true}
		if problem := idProblem(meta.EventID); problem != "" {
			// Sent as is, Elasticsearch refuses the whole _bulk request
			// (the document, then its dead-letter document with the same
			// _id): the partition would never move again. A derived id is
			// deterministic, so a redelivery overwrites, and the record
			// goes straight to the dead-letter index, which says why.
			d.ID = DerivedID(meta.EventID)
			d.Invalid = &Rejection{Status: 400, Type: "invalid_event_id",
				Reason: fmt.Sprintf("event.id %s; written to the dead-letter index with _id %s (%s)", problem, d.ID, derivedIDRule)}
		} else if meta.Depth > MaxDepth {
			// Elasticsearch parses a document recursively; thousands of
			// levels can overflow a node's stack, and it would be sent
			// again after every crash. Kept whole as a string instead.
			d.Invalid = &Rejection{Status: 400, Type: "too_deeply_nested",
				Reason: fmt.Sprintf("the record nests objects and arrays more than %d levels deep; kept in event.original only", MaxDepth)}
		}
		return d
	}
	ts := m.Timestamp
	if ts.IsZero() || ts.Unix() <= 0 {
		// Producers older than Kafka 0.10 send no timestamp; the time we
		// read it is the best we know.
		ts = b.now()
	}
	d := Doc{Index: b.index(m.Topic, ts), ID: KafkaID(m.Topic, m.Partition, m.Offset)}
	if b.foreign == ForeignJSONObject {
		if body, invalid, ok := objectDoc(m, ts); ok {
			d.Body, d.Invalid = body, invalid
			return d
		}
	}
	d.Body = appendMessageDoc(nil, m, ts)
	return d
}

func (b *Builder) index(topic string, ts time.Time) string {
	k := indexKey{topic: topic, hour: ts.Unix() / 3600}
	if ts.Unix() < 0 {
		k.hour = ts.Unix()/3600 - 1
	}
	if name, ok := b.cache[k]; ok {
		return name
	}
	if len(b.cache) > 4096 {
		clear(b.cache) // many topics × hours: start over rather than grow
	}
	name := b.pattern.Format(topic, ts)
	b.cache[k] = name
	return name
}

// MaxIDBytes is the longest _id Elasticsearch takes: IndexRequest.validate
// refuses longer ids (in UTF-8 bytes) with an action_request_validation_exception
// that fails the whole _bulk request, not just the document.
const MaxIDBytes = 512

// idProblem says why Elasticsearch would refuse id as an _id, or "". An
// empty event.id never gets here: the record is then not an agent record
// and takes its Kafka coordinates as _id. record.Peek has already replaced
// invalid UTF-8 by U+FFFD, so len counts the bytes Elasticsearch receives.
func idProblem(id string) string {
	if len(id) > MaxIDBytes {
		return fmt.Sprintf("is %d bytes long; Elasticsearch takes an _id of at most %d bytes", len(id), MaxIDBytes)
	}
	return ""
}

const derivedIDRule = "sha256- and the SHA-256 of event.id in hex"

// DerivedID is the _id of a record whose event.id Elasticsearch cannot
// take. It depends on the id alone, so the same record sent twice by the
// agent or redelivered by Kafka lands on the same document.
func DerivedID(badID string) string {
	sum := sha256.Sum256([]byte(badID))
	return "sha256-" + hex.EncodeToString(sum[:])
}

// MaxDepth is the deepest nesting of objects and arrays sent to
// Elasticsearch as is. The agent's records nest 3 levels; Elasticsearch
// refuses objects deeper than 20 (index.mapping.depth.limit) anyway.
const MaxDepth = 100

// KafkaID is the _id of a value that carries no event.id: its Kafka
// coordinates, readable so an operator can find the record in Kafka.
func KafkaID(topic string, partition int32, offset int64) string {
	b := make([]byte, 0, len(topic)+24)
	b = append(b, topic...)
	b = append(b, '-')
	b = strconv.AppendInt(b, int64(partition), 10)
	b = append(b, '-')
	b = strconv.AppendInt(b, offset, 10)
	return string(b)
}

// appendMessageDoc wraps a value that is not an agent record. The whole
// value goes into message as a string, foreign JSON included unless
// [transfer] foreign_json = object: its fields are unknown and could clash
// with the template's mappings, and the text stays searchable.
func appendMessageDoc(dst []byte, m Message, ts time.Time) []byte {
	dst = append(dst, `{"@timestamp":"`...)
	dst = ts.UTC().AppendFormat(dst, record.TimeLayout)
	dst = append(dst, `","message":`...)
	dst = record.AppendString(dst, string(m.Value))
	dst = appendKafka(dst, m)
	return append(dst, '}')
}

func appendKafka(dst []byte, m Message) []byte {
	dst = append(dst, `,"kafka":{"topic":`...)
	dst = record.AppendString(dst, m.Topic)
	dst = append(dst, `,"partition":`...)
	dst = strconv.AppendInt(dst, int64(m.Partition), 10)
	dst = append(dst, `,"offset":`...)
	dst = strconv.AppendInt(dst, m.Offset, 10)
	return append(dst, '}')
}

// Rejection is why Elasticsearch refused a document for good.
type Rejection struct {
	Status int
	Type   string
	Reason string
}

// DeadLetter is the body of the dead-letter document for m, whose document
// d was rejected: the original value as one unindexed string
// (event.original), the error, and where the record lives in Kafka.
func DeadLetter(m Message, d Doc, rej Rejection, now time.Time) []byte {
	dst := make([]byte, 0, len(m.Value)+256)
	dst = append(dst, `{"@timestamp":"`...)
	dst = now.UTC().AppendFormat(dst, record.TimeLayout)
	dst = append(dst, `","message":`...)
	dst = record.AppendString(dst, rej.Type+": "+rej.Reason)
	dst = append(dst, `,"error":{"type":`...)
	dst = record.AppendString(dst, rej.Type)
	dst = append(dst, `,"reason":`...)
	dst = record.AppendString(dst, rej.Reason)
	dst = append(dst, `,"status":`...)
	dst = strconv.AppendInt(dst, int64(rej.Status), 10)
	dst = append(dst, `},"original":{"index":`...)
	dst = record.AppendString(dst, d.Index)
	dst = append(dst, `,"id":`...)
	dst = record.AppendString(dst, d.ID)
	dst = append(dst, '}')
	dst = appendKafka(dst, m)
	dst = append(dst, `,"event":{"original":`...)
	dst = record.AppendString(dst, string(m.Value))
	return append(dst, `}}`...)
}
