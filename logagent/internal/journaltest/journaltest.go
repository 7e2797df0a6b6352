// Package journaltest builds real systemd journal files for tests, from
// export-format text through systemd-journal-remote.
package journaltest

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// DefaultBoot is the boot id of entries that name none.
const DefaultBoot = "6fb7b5f5e8a54c43b5a3b7d0d3a0b1a1"

// Remote returns the path of systemd-journal-remote. Without it (or
// without journalctl) the test is skipped, or fails when $CI is set: CI
// installs both (scripts/install-deps.sh).
func Remote(t testing.TB) string {
	t.Helper()
	for _, p := range []string{"/lib/systemd/systemd-journal-remote", "/usr/lib/systemd/systemd-journal-remote"} {
		if _, err := os.Stat(p); err == nil {
			if _, err := exec.LookPath("journalctl"); err == nil {
				return p
			}
		}
	}
	if os.Getenv("CI") != "" {
		t.Fatal("systemd-journal-remote/journalctl missing: scripts/install-deps.sh installs them")
	}
	t.Skip("systemd-journal-remote or journalctl not installed (apt-get install systemd-journal-remote)")
	return ""
}

// Entry is one journal entry to write.
type Entry struct {
	Message string
	Fields  map[string]string
	Boot    string // _BOOT_ID; DefaultBoot when empty
}

// Write writes entries as a journal file at path; entry i gets realtime
// base+i seconds. The file appears whole (written aside, then renamed), so
// a following journalctl never sees it half-written.
func Write(t testing.TB, path string, base int64, entries []Entry) {
	t.Helper()
	remote := Remote(t)
	var b bytes.Buffer
	for i, e := range entries {
		boot := e.Boot
		if boot == "" {
			boot = DefaultBoot
		}
		fmt.Fprintf(&b, "__REALTIME_TIMESTAMP=%d\n__MONOTONIC_TIMESTAMP=%d\n_BOOT_ID=%s\n", (base+int64(i))*1_000_000, 1000+base+int64(i), boot)
		for k, v := range e.Fields {
			fmt.Fprintf(&b, "%s=%s\n", k, v)
		}
		// Binary-safe form: name, newline, little-endian length, data.
		b.WriteString("MESSAGE\n")
		binary.Write(&b, binary.LittleEndian, uint64(len(e.Message)))
		b.WriteString(e.Message)
		b.WriteString("\n\n")
	}
	tmp := t.TempDir()
	in := filepath.Join(tmp, "export.txt")
	if err := os.WriteFile(in, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(tmp, filepath.Base(path))
	if msg, err := exec.Command(remote, "-o", out, in).CombinedOutput(); err != nil {
		t.Fatalf("systemd-journal-remote: %v\n%s", err, msg)
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(out, path); err != nil {
		// Another file system (t.TempDir of another test): copy.
		data, rerr := os.ReadFile(out)
		if rerr != nil {
			t.Fatal(rerr)
		}
		if err := os.WriteFile(path+".tmp", data, 0o644); err != nil {
			t.Fatal(err)
		}
		if err := os.Rename(path+".tmp", path); err != nil {
			t.Fatal(err)
		}
	}
}

// Numbered returns n entries with messages "<prefix> 00001"..., all with
// fields.
func Numbered(prefix string, from, n int, fields map[string]string) []Entry {
	out := make([]Entry, n)
	for i := range out {
		out[i] = Entry{Message: fmt.Sprintf("%s %05d", prefix, from+i), Fields: fields}
	}
	return out
}
