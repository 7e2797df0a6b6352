package dirwatch

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// events reads w in the background until want events arrived or a second
// passed.
func events(t *testing.T, w *Watch, want int) []Event {
	t.Helper()
	ch := make(chan []Event, 1)
	go func() {
		var got []Event
		for len(got) < want {
			if err := w.Read(func(ev Event) { got = append(got, ev) }); err != nil {
				break
			}
		}
		ch <- got
	}()
	select {
	case got := <-ch:
		return got
	case <-time.After(time.Second):
		w.Close() // wakes the read
		got := <-ch
		t.Fatalf("%d events after a second, want %d: %+v", len(got), want, got)
		return nil
	}
}

// TestEvents: created, renamed away and renamed in, with the cookie that
// pairs a rename's halves; writes raise nothing.
func TestEvents(t *testing.T) {
	dir := t.TempDir()
	w, err := New()
	if err != nil {
		t.Skipf("no inotify here: %v", err)
	}
	defer w.Close()
	if err := w.Add(dir); err != nil {
		t.Fatal(err)
	}
	a, b, sub := filepath.Join(dir, "a.log"), filepath.Join(dir, "b.log"), filepath.Join(dir, "sub")
	if err := os.WriteFile(a, []byte("line\n"), 0o600); err != nil { // created, then written: one event
		t.Fatal(err)
	}
	if err := os.Rename(a, b); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(sub, 0o700); err != nil {
		t.Fatal(err)
	}
	got := events(t, w, 4)
	type seen struct {
		name                               string
		arrived, movedIn, movedAway, isDir bool
	}
	want := []seen{{a, true, false, false, false}, {a, false, false, true, false}, {b, true, true, false, false}, {sub, true, false, false, true}}
	for i, ev := range got {
		if s := (seen{ev.Name, ev.Arrived(), ev.MovedIn(), ev.MovedAway(), ev.IsDir()}); s != want[i] {
			t.Errorf("event %d = %+v, want %+v", i, s, want[i])
		}
	}
	if got[1].Cookie == 0 || got[1].Cookie != got[2].Cookie {
		t.Errorf("rename halves not paired: cookies %d and %d", got[1].Cookie, got[2].Cookie)
	}
}

// TestDirectoryGoneAndClose: the kernel drops the watch of a deleted
// directory (Watching says so), and Close wakes a waiting Read.
func TestDirectoryGoneAndClose(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "d")
	if err := os.Mkdir(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	w, err := New()
	if err != nil {
		t.Skipf("no inotify here: %v", err)
	}
	if err := w.Add(dir); err != nil {
		t.Fatal(err)
	}
	if !w.Watching(dir) {
		t.Fatal("not watching after Add")
	}
	if err := os.Remove(dir); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Second)
	for w.Watching(dir) && time.Now().Before(deadline) {
		if err := w.Read(func(Event) {}); err != nil {
			t.Fatal(err)
		}
	}
	if w.Watching(dir) {
		t.Fatal("still watching a deleted directory")
	}
	done := make(chan error, 1)
	go func() { done <- w.Read(func(Event) {}) }()
	time.Sleep(20 * time.Millisecond)
	w.Close()
	select {
	case err := <-done:
		if !errors.Is(err, os.ErrClosed) {
			t.Fatalf("Read after Close = %v, want os.ErrClosed", err)
		}
	case <-time.After(time.Second):
		t.Fatal("Close did not wake Read")
	}
	if err := w.Add(t.TempDir()); !errors.Is(err, os.ErrClosed) {
		t.Fatalf("Add after Close = %v", err)
	}
}
