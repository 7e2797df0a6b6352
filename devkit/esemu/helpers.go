package esemu

import (
	"encoding/json"
	"fmt"
)

// Count refreshes the indices matching indexPattern (a name, comma list or
// wildcard) and counts their documents. A pattern matching nothing counts 0.
func (s *Server) Count(indexPattern string) (int, error) {
	indices, e := s.cluster.resolve(indexPattern, resolveOptions{allowNoIndices: true, ignoreUnavailable: true})
	if e != nil {
		return 0, fmt.Errorf("count %s: %w", indexPattern, e)
	}
	total := 0
	for _, ix := range indices {
		if _, err := ix.refresh(); err != nil {
			return 0, fmt.Errorf("count %s: %w", indexPattern, err)
		}
		total += int(ix.docCount())
	}
	return total, nil
}

// Get returns a document's source in realtime, as GET <index>/_doc/<id> does.
func (s *Server) Get(index, id string) (map[string]any, bool, error) {
	ix := s.cluster.index(index)
	if ix == nil {
		return nil, false, nil
	}
	d, err := ix.get(id)
	if err != nil {
		return nil, false, fmt.Errorf("get %s/%s: %w", index, id, err)
	}
	if d == nil {
		return nil, false, nil
	}
	var src map[string]any
	if err := json.Unmarshal(d.source, &src); err != nil {
		return nil, false, fmt.Errorf("decode source of %s/%s: %w", index, id, err)
	}
	return src, true, nil
}
