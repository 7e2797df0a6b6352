package harvester

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/logcollect/logcollect/logagent/internal/checkpoint"
)

// TestRotatedFileSurvivesRetention: logrotate renames app.log to app.log.1,
// which then rests for longer than checkpoint_retention. Its checkpoint
// must not expire while the file exists, or the next scan reads it again
// from 0 under a new id (every line twice). At b566241 the stored path was
// written only when the file was first seen, and expiry looked only there.
// Retention is shrunk to nothing instead of waiting 7 days.
func TestRotatedFileSurvivesRetention(t *testing.T) {
	for _, tc := range []struct {
		name string
		glob string // the rotated name matches it or not
	}{
		{"rotated_name_matches_glob", "DIR/app.log*"},
		{"rotated_name_outside_glob", "DIR/app.log"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t)
			p := filepath.Join(e.dir, "app.log")
			appendTo(t, p, nl("a", 1, 20)...)
			entry := `{"path":"` + tc.glob + `","topic":"t","start":"beginning"}`
			e.start(t, entry)
			waitFor(t, "20 lines", func() bool { return len(e.snd.all()) == 20 })
			fi, err := statFile(p)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.Rename(p, p+".1"); err != nil {
				t.Fatal(err)
			}
			appendTo(t, p, nl("b", 1, 3)...)
			want := append(trimmed(nl("a", 1, 20)), trimmed(nl("b", 1, 3))...)
			waitFor(t, "the new app.log", func() bool { return hasAll(t, e.snd.all(), want) })
			key := checkpoint.FileKey(fi.dev, fi.ino, "t")
			if tc.glob == "DIR/app.log*" {
				waitFor(t, "the stored path to follow the rename", func() bool {
					cp, _ := e.store.Get(key)
					return cp.Path == p+".1"
				})
			}
			e.task.Stop()
			time.Sleep(5 * time.Millisecond)
			e.store.Expire(time.Nanosecond, nil) // everything is older than that
			if _, ok := e.store.Get(key); !ok {
				t.Errorf("the checkpoint of the rotated file expired while the file exists")
			}
			// With the rotated name in the glob, the file is scanned again:
			// it must resume at its checkpoint, not be re-read.
			sent := len(e.snd.all())
			e.start(t, `{"path":"DIR/app.log*","topic":"t","start":"beginning"}`)
			appendTo(t, p, nl("b", 4, 4)...)
			waitFor(t, "a line after the restart", func() bool { return hasAll(t, e.snd.all(), trimmed(nl("b", 4, 4))) })
			time.Sleep(300 * time.Millisecond) // several scans
			if n := len(e.snd.all()); n != sent+1 {
				t.Fatalf("%d records after the restart, want %d (the rotated file re-read)", n, sent+1)
			}
		})
	}
}
