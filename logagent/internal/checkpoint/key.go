package checkpoint

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Key names one stream of the store: a file read into a topic, a retired
// generation of one (a truncated file's former content, kept so that a
// copy of it is recognised), or a journal read into a topic. Keys are
// built only by FileKey, RetiredKey and JournalKey, and read back from
// checkpoints.json by ParseKey; String is their form in that file. The
// zero Key names nothing.
type Key struct {
	kind     keyKind
	dev, ino uint64 // file
	name     string // retired: the generation's file id; journal: the journal read; opaque: the whole key
	topic    string
	filters  string // journal: the hash of its filters
}

type keyKind uint8

const (
	kindNone keyKind = iota
	kindFile
	kindRetired
	kindJournal
	// kindOpaque is a key of a form this agent does not know, read from
	// checkpoints.json: it is kept and written back as it was.
	kindOpaque
)

// The forms of the keys in checkpoints.json (topics never hold '|'):
//
//	file      <device>:<inode>|<topic>
//	retired   retired:<file id>|<topic>
//	journal   journald:<journal>|<topic>|<filters hash>
const (
	retiredPrefix = "retired:"
	journalPrefix = "journald:"
	sep           = "|"
)

// FileKey is the key of the file with this identity read into topic. The
// same file read into two topics is two streams, with two positions.
func FileKey(dev, ino uint64, topic string) Key {
	return Key{kind: kindFile, dev: dev, ino: ino, topic: topic}
}

// RetiredKey is the key of a retired generation of a file read into topic:
// id is the generation's file id.
func RetiredKey(id, topic string) Key {
	return Key{kind: kindRetired, name: id, topic: topic}
}

// JournalKey is the key of a journal stream: the journal read ("system",
// or its directory or file), the topic, and a hash of its filters, so a
// changed filter starts a new stream.
func JournalKey(journal, topic, filters string) Key {
	return Key{kind: kindJournal, name: journal, topic: topic, filters: filters}
}

// Topic is the topic of the stream ("" for an opaque key).
func (k Key) Topic() string { return k.topic }

// IsFile reports whether k is the key of a file being read (not a retired
// generation, a journal, or an unknown form).
func (k Key) IsFile() bool { return k.kind == kindFile }

// IsRetired reports whether k is the key of a retired generation of a file.
func (k Key) IsRetired() bool { return k.kind == kindRetired }

// String is the key as checkpoints.json holds it.
func (k Key) String() string { return string(k.appendTo(nil)) }

func (k Key) appendTo(b []byte) []byte {
	switch k.kind {
	case kindFile:
		b = strconv.AppendUint(b, k.dev, 10)
		b = append(b, ':')
		b = strconv.AppendUint(b, k.ino, 10)
		return append(append(b, sep...), k.topic...)
	case kindRetired:
		return append(append(append(append(b, retiredPrefix...), k.name...), sep...), k.topic...)
	case kindJournal:
		b = append(append(b, journalPrefix...), k.name...)
		return append(append(append(append(b, sep...), k.topic...), sep...), k.filters...)
	case kindOpaque:
		return append(b, k.name...)
	}
	return b
}

// MarshalText and UnmarshalText let encoding/json read the store's maps
// with Key keys. A key of an unknown form is kept as it is (never an error:
// that would have the whole file moved aside as corrupt).
func (k Key) MarshalText() ([]byte, error) { return k.appendTo(nil), nil }

func (k *Key) UnmarshalText(b []byte) error {
	parsed, err := ParseKey(string(b))
	if err != nil {
		parsed = Key{kind: kindOpaque, name: string(b)}
	}
	*k = parsed
	return nil
}

var errKeyForm = errors.New("not a file, retired or journal key")

// ParseKey reads a key in the form String writes. Only that very form is
// accepted (no leading zeros, no extra separators), so a parsed key is
// written back byte for byte.
func ParseKey(s string) (Key, error) {
	k, ok := parseKey(s)
	if !ok || k.String() != s {
		return Key{}, fmt.Errorf("checkpoint key %q: %w", s, errKeyForm)
	}
	return k, nil
}

func parseKey(s string) (Key, bool) {
	if rest, ok := strings.CutPrefix(s, journalPrefix); ok {
		rest, filters, ok := cutLast(rest)
		if !ok {
			return Key{}, false
		}
		journal, topic, ok := cutLast(rest)
		return JournalKey(journal, topic, filters), ok && journal != ""
	}
	rest, topic, ok := cutLast(s)
	if !ok {
		return Key{}, false
	}
	if id, ok := strings.CutPrefix(rest, retiredPrefix); ok {
		return RetiredKey(id, topic), id != ""
	}
	devs, inos, ok := strings.Cut(rest, ":")
	if !ok {
		return Key{}, false
	}
	dev, err1 := strconv.ParseUint(devs, 10, 64)
	ino, err2 := strconv.ParseUint(inos, 10, 64)
	return FileKey(dev, ino, topic), err1 == nil && err2 == nil
}

// cutLast cuts s around its last separator.
func cutLast(s string) (before, after string, ok bool) {
	i := strings.LastIndex(s, sep)
	if i < 0 {
		return s, "", false
	}
	return s[:i], s[i+len(sep):], true
}

// seenKey is the key of the Seen set: a collect entry's path and topic.
func seenKey(entryPath, topic string) string { return entryPath + sep + topic }
