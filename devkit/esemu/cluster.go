package esemu

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

// cluster is the node's state: its indices and templates.
type cluster struct {
	mu        sync.RWMutex
	indices   map[string]*esIndex
	templates *templateStore
	dataDir   string
	uuid      string
	log       *slog.Logger
}

// builtinTemplates are the composable templates a default ES 7.17
// distribution installs, all with priority 100 and data streams. The emulator
// does not apply them (it has no data streams) but checks new templates
// against them, as ES does, and warns when an index would get one of them.
var builtinTemplates = map[string]string{"logs": "logs-*-*", "metrics": "metrics-*-*", "synthetics": "synthetics-*-*"}

const builtinPriority = 100

func randomUUID() string {
	var b [16]byte
	_, _ = rand.Read(b[:])
	return base64.RawURLEncoding.EncodeToString(b[:])[:22]
}

func (c *cluster) index(name string) *esIndex {
	c.mu.RLock()
	defer c.mu.RUnlock()
	return c.indices[name]
}

// createRequest is the body of PUT /<index>.
type createRequest struct {
	Settings map[string]any  `json:"settings"`
	Mappings json.RawMessage `json:"mappings"`
	Aliases  map[string]any  `json:"aliases"`
}

// create makes a new index from the matching templates and the request body.
// With auto set (a write to a missing index) an existing index is returned
// instead of an error, since a concurrent write may have created it.
func (c *cluster) create(name string, req *createRequest, auto bool) (*esIndex, *esError) {
	if e := validateIndexName(name); e != nil {
		return nil, e
	}
	if ix := c.index(name); ix != nil && auto {
		return ix, nil
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if ix := c.indices[name]; ix != nil {
		if auto {
			return ix, nil
		}
		return nil, newError(http.StatusBadRequest, "resource_already_exists_exception", "index [%s/%s] already exists", name, ix.uuid).forIndex(name, ix.uuid)
	}
	r, e := c.templates.forIndex(name)
	if e != nil {
		return nil, e
	}
	if req != nil {
		m, e := parseMappings(req.Mappings)
		if e != nil {
			return nil, e
		}
		if e := r.mappings.merge(m, false); e != nil {
			return nil, e
		}
		s, e := normalizeSettings(req.Settings)
		if e != nil {
			return nil, e
		}
		for k, v := range s {
			r.settings[k] = v
		}
	}
	c.warnBuiltinTemplates(name)
	now := time.Now().UTC()
	meta := indexMeta{Name: name, UUID: randomUUID(), Created: now, Settings: r.settings, Mappings: r.mappings, SeqNo: -1}
	defaults := map[string]string{
		"index.number_of_shards": "1", "index.number_of_replicas": "1",
		"index.uuid": meta.UUID, "index.provided_name": name,
		"index.creation_date": strconv.FormatInt(now.UnixMilli(), 10), "index.version.created": "7170099",
	}
	for k, v := range defaults {
		if _, ok := meta.Settings[k]; !ok {
			meta.Settings[k] = v
		}
	}
	dir := ""
	if c.dataDir != "" {
		dir = filepath.Join(c.dataDir, "indices", name)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return nil, newError(http.StatusInternalServerError, "exception", "create index directory: %v", err)
		}
	}
	ix, err := newIndex(meta, dir)
	if err != nil {
		return nil, newError(http.StatusInternalServerError, "exception", "create index [%s]: %v", name, err)
	}
	if err := ix.saveMeta(); err != nil {
		c.log.Error("save index metadata", "index", name, "err", err)
	}
	c.indices[name] = ix
	c.log.Info("created index", "index", name, "templates", r.names)
	return ix, nil
}

func (c *cluster) warnBuiltinTemplates(name string) {
	var builtin []string
	for _, p := range builtinTemplates {
		if matchPattern(p, name) {
			builtin = append(builtin, p)
		}
	}
	if len(builtin) == 0 {
		return
	}
	for _, t := range c.templates.Composable {
		if t.priority() > builtinPriority && anyMatch(t.IndexPatterns, name) {
			return
		}
	}
	c.log.Warn("index name matches a built-in data stream template of Elasticsearch 7.17; "+
		"real Elasticsearch would create a data stream here unless a template with priority > 100 matches",
		"index", name, "builtin_patterns", builtin)
}

// writeIndex returns the index a write goes to, creating it as ES's
// auto-create does.
func (c *cluster) writeIndex(name string) (*esIndex, *esError) {
	if ix := c.index(name); ix != nil {
		return ix, nil
	}
	return c.create(name, nil, true)
}

func (c *cluster) remove(names []string) error {
	c.mu.Lock()
	removed := make([]*esIndex, 0, len(names))
	for _, n := range names {
		if ix := c.indices[n]; ix != nil {
			removed = append(removed, ix)
			delete(c.indices, n)
		}
	}
	c.mu.Unlock()
	var errs []error
	for _, ix := range removed {
		if err := ix.bi.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close index %s: %w", ix.name, err))
		}
		if ix.dir != "" {
			if err := os.RemoveAll(ix.dir); err != nil {
				errs = append(errs, fmt.Errorf("remove index %s: %w", ix.name, err))
			}
		}
	}
	return errors.Join(errs...)
}

// resolveOptions are the index-expression URL parameters of ES.
type resolveOptions struct {
	ignoreUnavailable bool
	allowNoIndices    bool
}

// resolve expands an index expression (comma list, wildcards, _all, "-"
// exclusions) into existing indices, sorted by name.
func (c *cluster) resolve(expr string, opts resolveOptions) ([]*esIndex, *esError) {
	c.mu.RLock()
	defer c.mu.RUnlock()
	if expr == "" {
		expr = "_all"
	}
	chosen := map[string]bool{}
	wildcard := false
	for _, part := range strings.Split(expr, ",") {
		part = strings.TrimSpace(part)
		switch {
		case part == "":
		case strings.HasPrefix(part, "-") && wildcard:
			for n := range chosen {
				if matchPattern(part[1:], n) {
					delete(chosen, n)
				}
			}
		case isPattern(part):
			wildcard = true
			pattern := part
			if pattern == "_all" {
				pattern = "*"
			}
			for n := range c.indices {
				// Hidden-by-convention dot indices need an explicit dot.
				if matchPattern(pattern, n) && (!strings.HasPrefix(n, ".") || strings.HasPrefix(pattern, ".")) {
					chosen[n] = true
				}
			}
		default:
			if c.indices[part] == nil {
				if opts.ignoreUnavailable {
					continue
				}
				return nil, errIndexNotFound(part)
			}
			chosen[part] = true
		}
	}
	if len(chosen) == 0 && !opts.allowNoIndices {
		return nil, errIndexNotFound(expr)
	}
	names := make([]string, 0, len(chosen))
	for n := range chosen {
		names = append(names, n)
	}
	sort.Strings(names)
	out := make([]*esIndex, len(names))
	for i, n := range names {
		out[i] = c.indices[n]
	}
	return out, nil
}

func (c *cluster) all() []*esIndex {
	out, _ := c.resolve("_all", resolveOptions{allowNoIndices: true})
	return out
}
