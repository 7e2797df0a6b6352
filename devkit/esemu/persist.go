package esemu

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

const (
	metaFile      = "meta.json"
	templatesFile = "templates.json"
)

// writeFileAtomic replaces path with data so that a crash leaves either the
// old or the new file: temp file, fsync, rename, fsync of the directory.
func writeFileAtomic(path string, data []byte) error {
	dir := filepath.Dir(path)
	tmp, err := os.CreateTemp(dir, filepath.Base(path)+".tmp*")
	if err != nil {
		return fmt.Errorf("create temp file for %s: %w", path, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := tmp.Write(data); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", tmp.Name(), err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("sync %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("close %s: %w", tmp.Name(), err)
	}
	if err := os.Rename(tmp.Name(), path); err != nil {
		return fmt.Errorf("rename %s: %w", path, err)
	}
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open dir %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync dir %s: %w", dir, err)
	}
	return nil
}

// saveMeta writes the index's ES metadata when it changed. Documents live in
// bleve; mappings, settings and the sequence number live here.
func (ix *esIndex) saveMeta() error {
	if ix.dir == "" {
		return nil
	}
	ix.mu.Lock()
	if !ix.metaDirty {
		ix.mu.Unlock()
		return nil
	}
	ix.metaDirty = false
	meta := indexMeta{Name: ix.name, UUID: ix.uuid, Created: ix.created, Settings: ix.settings, Mappings: ix.mapping, SeqNo: ix.seqNo}
	data, err := json.MarshalIndent(meta, "", "  ")
	ix.mu.Unlock()
	if err != nil {
		return fmt.Errorf("encode metadata of %s: %w", ix.name, err)
	}
	return writeFileAtomic(filepath.Join(ix.dir, metaFile), data)
}

func (c *cluster) saveTemplates() error {
	if c.dataDir == "" {
		return nil
	}
	data, err := json.MarshalIndent(c.templates, "", "  ")
	if err != nil {
		return fmt.Errorf("encode templates: %w", err)
	}
	return writeFileAtomic(filepath.Join(c.dataDir, templatesFile), data)
}

// load restores templates and indices from the data directory.
func (c *cluster) load() error {
	if err := os.MkdirAll(filepath.Join(c.dataDir, "indices"), 0o755); err != nil {
		return fmt.Errorf("create data dir: %w", err)
	}
	data, err := os.ReadFile(filepath.Join(c.dataDir, templatesFile))
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		return fmt.Errorf("read templates: %w", err)
	default:
		ts := newTemplateStore()
		if err := json.Unmarshal(data, ts); err != nil {
			return fmt.Errorf("decode %s: %w", templatesFile, err)
		}
		c.templates = ts
	}
	entries, err := os.ReadDir(filepath.Join(c.dataDir, "indices"))
	if err != nil {
		return fmt.Errorf("list indices: %w", err)
	}
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		dir := filepath.Join(c.dataDir, "indices", e.Name())
		data, err := os.ReadFile(filepath.Join(dir, metaFile))
		if err != nil {
			return fmt.Errorf("read metadata of index %s: %w", e.Name(), err)
		}
		var meta indexMeta
		if err := json.Unmarshal(data, &meta); err != nil {
			return fmt.Errorf("decode metadata of index %s: %w", e.Name(), err)
		}
		ix, err := newIndex(meta, dir)
		if err != nil {
			return err
		}
		ix.metaDirty = false
		c.indices[meta.Name] = ix
	}
	return nil
}
