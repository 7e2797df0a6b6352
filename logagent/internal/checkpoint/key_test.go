package checkpoint

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/logcollect/logcollect/pkg/logging"
)

// TestKeyForms: every constructor writes the form checkpoints.json has
// always held, and ParseKey reads exactly that form back.
func TestKeyForms(t *testing.T) {
	for _, c := range []struct {
		key    Key
		s      string
		topic  string
		isFile bool
	}{
		{FileKey(2049, 131077, "app_log"), "2049:131077|app_log", "app_log", true},
		{FileKey(0, 18446744073709551615, "a.b-c_d"), "0:18446744073709551615|a.b-c_d", "a.b-c_d", true},
		{RetiredKey("0123456789abcdef01234567", "app_log"), "retired:0123456789abcdef01234567|app_log", "app_log", false},
		{JournalKey("system", "sys_log", "5c1f0e9a3b7d2c4e"), "journald:system|sys_log|5c1f0e9a3b7d2c4e", "sys_log", false},
		{JournalKey("/var/log/a|b", "sys_log", "00"), "journald:/var/log/a|b|sys_log|00", "sys_log", false},
	} {
		if got := c.key.String(); got != c.s {
			t.Errorf("%#v.String() = %q, want %q", c.key, got, c.s)
		}
		k, err := ParseKey(c.s)
		if err != nil || k != c.key {
			t.Errorf("ParseKey(%q) = %#v, %v; want %#v", c.s, k, err, c.key)
		}
		if k.Topic() != c.topic || k.IsFile() != c.isFile {
			t.Errorf("%q: topic %q file %v, want %q %v", c.s, k.Topic(), k.IsFile(), c.topic, c.isFile)
		}
	}
}

// TestParseKeyRejects: forms no agent writes are errors for ParseKey, and
// kept as they are when read from the file.
func TestParseKeyRejects(t *testing.T) {
	for _, s := range []string{"", "2049:7", "2049|t", "x:7|t", "2049:-7|t", "02049:7|t", "+1:7|t", "retired:|t", "retired:abc",
		"journald:system|sys_log", "journald:|t|f", "journald:"} {
		if k, err := ParseKey(s); err == nil {
			t.Errorf("ParseKey(%q) = %#v, want an error", s, k)
		}
		var k Key
		if err := k.UnmarshalText([]byte(s)); err != nil || k.String() != s || k.IsFile() || k.Topic() != "" {
			t.Errorf("UnmarshalText(%q) = %#v, %v: want it kept as it is", s, k, err)
		}
	}
}

// TestReadsTodaysFile: testdata/checkpoints-v1.json was written by the
// store before keys had a type (commit 8d91704). It loads with the same
// entries under typed keys, and is written back byte for byte, an unknown
// key form included.
func TestReadsTodaysFile(t *testing.T) {
	want, err := os.ReadFile("testdata/checkpoints-v1.json")
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, FileName), want, 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := Open(dir, logging.Discard())
	if err != nil {
		t.Fatal(err)
	}
	if e, ok := s.Get(FileKey(2049, 131077, "app_log")); !ok || e.Offset != 88120 || e.Tail != "c0ffee00c0ffee00c0ffee00c0ffee00" {
		t.Errorf("file entry %+v %v", e, ok)
	}
	if e, ok := s.Get(RetiredKey("0123456789abcdef01234567", "app_log")); !ok || e.Offset != 4096 || e.Path != "" {
		t.Errorf("retired entry %+v %v", e, ok)
	}
	if e, ok := s.Get(FileKey(2049, 131078, "web.log-v2_x")); !ok || e.Path != `/var/log/nginx/access "quoted" <a&b>.log` {
		t.Errorf("file entry %+v %v", e, ok)
	}
	if c, ok := s.GetCursor(JournalKey("system", "sys_log", "5c1f0e9a3b7d2c4e")); !ok || c.Cursor != "s=1;i=2;b=3" {
		t.Errorf("cursor %+v %v", c, ok)
	}
	if !s.Seen("/var/log/app/*.log", "app_log") || !s.Seen("/var/log/nginx/*.log", "web.log-v2_x") || s.Seen("/var/log/app/*.log", "web.log-v2_x") {
		t.Error("seen marks")
	}
	if got := s.EntryTopic("/var/log/nginx/*.log"); got != "web.log-v2_x" {
		t.Errorf("EntryTopic from the seen marks = %q", got)
	}
	if n := len(s.Entries()); n != 4 {
		t.Errorf("%d entries, want 4 (the unknown key form kept)", n)
	}
	s.mu.Lock()
	s.dirty = true // written again unchanged
	s.mu.Unlock()
	if err := s.Save(); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(dir, FileName))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("written back differently:\ngot  %s\nwant %s", got, want)
	}
}
