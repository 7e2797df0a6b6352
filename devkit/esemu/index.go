package esemu

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"sync"
	"time"

	"github.com/blevesearch/bleve/v2"
	"github.com/blevesearch/bleve/v2/analysis"
	"github.com/blevesearch/bleve/v2/document"
	"github.com/blevesearch/bleve/v2/index/scorch"
	"github.com/blevesearch/bleve/v2/numeric"
	index "github.com/blevesearch/bleve_index_api"
)

// Stored bleve fields that carry ES metadata alongside the indexed fields.
const (
	sourceField  = "_source"
	versionField = "_version"
	seqNoField   = "_seq_no"
)

// gcDeletes is how long ES remembers the version of a deleted document
// (index.gc_deletes), so that re-creating it continues the version sequence.
const gcDeletes = 60 * time.Second

// docState is a document version that is not yet part of the searchable
// bleve snapshot, or a deletion that is not yet applied to it.
type docState struct {
	deleted bool
	source  []byte
	fields  []document.Field
	version int64
	seqNo   int64
}

type tombstone struct {
	version int64
	at      time.Time
}

// esIndex is one Elasticsearch index: one bleve index plus the ES metadata
// bleve does not know about. Writes go to pending and become searchable
// only when a refresh applies them to bleve in one batch, which is both how
// ES's near-real-time search behaves and what keeps bleve writes batched.
type esIndex struct {
	name     string
	uuid     string
	created  time.Time
	settings map[string]string // flat "index.*" keys, values as ES reports them
	dir      string            // "" for an in-memory index

	mu         sync.Mutex
	mapping    *mappings
	pending    map[string]*docState
	flushing   map[string]*docState // taken out of pending by a refresh in progress
	tombstones map[string]tombstone
	seqNo      int64 // last assigned sequence number; -1 when none
	metaDirty  bool
	lastFlush  time.Time

	refreshMu sync.Mutex // serialises refreshes so batches apply in order
	bi        bleve.Index
}

// indexMeta is what survives a restart next to the bleve files.
type indexMeta struct {
	Name     string            `json:"name"`
	UUID     string            `json:"uuid"`
	Created  time.Time         `json:"created"`
	Settings map[string]string `json:"settings"`
	Mappings *mappings         `json:"mappings"`
	SeqNo    int64             `json:"seq_no"`
}

func openBleve(dir string) (bleve.Index, error) {
	if dir == "" {
		bi, err := bleve.NewUsing("", bleve.NewIndexMapping(), scorch.Name, scorch.Name, nil)
		if err != nil {
			return nil, fmt.Errorf("create in-memory bleve index: %w", err)
		}
		return bi, nil
	}
	path := filepath.Join(dir, "bleve")
	bi, err := bleve.Open(path)
	if err == nil {
		return bi, nil
	}
	if err != bleve.ErrorIndexPathDoesNotExist {
		return nil, fmt.Errorf("open bleve index %s: %w", path, err)
	}
	bi, err = bleve.New(path, bleve.NewIndexMapping())
	if err != nil {
		return nil, fmt.Errorf("create bleve index %s: %w", path, err)
	}
	return bi, nil
}

func newIndex(meta indexMeta, dir string) (*esIndex, error) {
	bi, err := openBleve(dir)
	if err != nil {
		return nil, err
	}
	bi.SetName(meta.Name) // search hits name their index by it
	if meta.Mappings == nil {
		meta.Mappings = &mappings{}
	}
	return &esIndex{
		name: meta.Name, uuid: meta.UUID, created: meta.Created, settings: meta.Settings, dir: dir,
		mapping: meta.Mappings, seqNo: meta.SeqNo, bi: bi, metaDirty: true,
		pending: map[string]*docState{}, tombstones: map[string]tombstone{}, lastFlush: time.Now(),
	}, nil
}

// lookup returns the current state of a document, realtime: unrefreshed
// writes first, then the searchable snapshot. ix.mu must be held.
func (ix *esIndex) lookup(id string) (*docState, error) {
	if d, ok := ix.pending[id]; ok {
		return d, nil
	}
	if d, ok := ix.flushing[id]; ok {
		return d, nil
	}
	doc, err := ix.bi.Document(id)
	if err != nil {
		return nil, fmt.Errorf("read document %s/%s: %w", ix.name, id, err)
	}
	if doc == nil {
		return nil, nil
	}
	d := &docState{}
	doc.VisitFields(func(f index.Field) {
		switch f.Name() {
		case sourceField:
			d.source = append([]byte(nil), f.Value()...)
		case versionField, seqNoField:
			nf, ok := f.(index.NumericField)
			if !ok {
				return
			}
			n, err := nf.Number()
			if err != nil {
				return
			}
			if f.Name() == versionField {
				d.version = int64(n)
			} else {
				d.seqNo = int64(n)
			}
		}
	})
	return d, nil
}

// deletedVersion is the version of a recently deleted document, which a new
// write continues from. ix.mu must be held.
func (ix *esIndex) deletedVersion(id string) int64 {
	t, ok := ix.tombstones[id]
	if !ok {
		return 0
	}
	if time.Since(t.at) > gcDeletes {
		delete(ix.tombstones, id)
		return 0
	}
	return t.version
}

// refresh makes every write accepted so far searchable. It reports whether
// there was anything to apply.
func (ix *esIndex) refresh() (bool, error) {
	ix.refreshMu.Lock()
	defer ix.refreshMu.Unlock()
	ix.mu.Lock()
	ix.lastFlush = time.Now()
	if len(ix.pending) == 0 {
		ix.mu.Unlock()
		return false, nil
	}
	batchDocs := ix.pending
	ix.flushing = batchDocs
	ix.pending = make(map[string]*docState, len(batchDocs))
	ix.metaDirty = true
	ix.mu.Unlock()

	// flushing is read-only from here on: writers only touch pending.
	b := ix.bi.NewBatch()
	for id, d := range batchDocs {
		if d.deleted {
			b.Delete(id)
			continue
		}
		doc := document.NewDocument(id)
		for _, f := range d.fields {
			doc.AddField(f)
		}
		doc.AddField(document.NewTextFieldWithIndexingOptions(sourceField, nil, d.source, index.StoreField))
		doc.AddField(document.NewNumericFieldWithIndexingOptions(versionField, nil, float64(d.version), index.StoreField))
		doc.AddField(newSortKeyField(seqNoField, d.seqNo))
		if err := b.IndexAdvanced(doc); err != nil {
			return false, fmt.Errorf("batch document %s/%s: %w", ix.name, id, err)
		}
	}
	err := ix.bi.Batch(b)
	ix.mu.Lock()
	ix.flushing = nil
	ix.mu.Unlock()
	if err != nil {
		return false, fmt.Errorf("apply batch to %s: %w", ix.name, err)
	}
	return true, nil
}

// sortKeyField is a stored number indexed with its full-precision term only.
// _seq_no is sorted on (bleve's sort reads only the shift-0 term of a
// number's doc values) and never range-queried, so the 15 coarser prefix
// terms a NumericField adds for range queries, most of them unique per
// document, were pure indexing cost.
type sortKeyField struct {
	*document.NumericField
	v     int64
	freqs index.TokenFrequencies
}

func newSortKeyField(name string, v int64) *sortKeyField {
	return &sortKeyField{NumericField: document.NewNumericFieldWithIndexingOptions(name, nil, float64(v), index.StoreField|exactOptions), v: v}
}

func (f *sortKeyField) Analyze() {
	term := numeric.MustNewPrefixCodedInt64(numeric.Float64ToInt64(float64(f.v)), 0)
	tokens := analysis.TokenStream{{Term: term, Start: 0, End: len(term), Position: 1, Type: analysis.Numeric}}
	f.freqs = analysis.TokenFrequency(tokens, nil, f.Options())
}

func (f *sortKeyField) AnalyzedLength() int { return 1 }

func (f *sortKeyField) AnalyzedTokenFrequencies() index.TokenFrequencies { return f.freqs }

func (ix *esIndex) pendingCount() int {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	return len(ix.pending)
}

// docCount is the number of searchable documents.
func (ix *esIndex) docCount() uint64 {
	n, err := ix.bi.DocCount()
	if err != nil {
		return 0
	}
	return n
}

// currentMapping returns the mapping to read; it is replaced, never mutated.
func (ix *esIndex) currentMapping() *mappings {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	return ix.mapping
}

func (ix *esIndex) replicas() int {
	var n int
	if _, err := fmt.Sscan(ix.settings["index.number_of_replicas"], &n); err != nil {
		return 1
	}
	return n
}

// refreshInterval is index.refresh_interval, falling back to the server's;
// a negative result disables periodic refresh ("-1" in ES).
func (ix *esIndex) refreshInterval(def time.Duration) time.Duration {
	v, ok := ix.settings["index.refresh_interval"]
	if !ok {
		return def
	}
	if v == "-1" {
		return -1
	}
	d, err := parseTimeValue(v)
	if err != nil {
		return def
	}
	return d
}

func (ix *esIndex) close() error {
	if _, err := ix.refresh(); err != nil {
		return err
	}
	if err := ix.bi.Close(); err != nil {
		return fmt.Errorf("close bleve index %s: %w", ix.name, err)
	}
	return nil
}

// marshalMapping renders the mapping as GET _mapping shows it.
func marshalMapping(m *mappings) json.RawMessage {
	b, err := json.Marshal(m)
	if err != nil {
		return json.RawMessage(`{}`)
	}
	return b
}

func (ix *esIndex) lastRefresh() time.Time {
	ix.mu.Lock()
	defer ix.mu.Unlock()
	return ix.lastFlush
}

// storeSize estimates the index size from bleve's statistics.
func (ix *esIndex) storeSize() int64 {
	stats, ok := ix.bi.StatsMap()["index"].(map[string]interface{})
	if !ok {
		return 0
	}
	for _, k := range []string{"CurOnDiskBytes", "num_bytes_used_disk"} {
		if v, ok := stats[k].(uint64); ok {
			return int64(v)
		}
	}
	return 0
}
