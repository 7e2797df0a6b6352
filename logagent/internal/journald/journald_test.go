package journald

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/logcollect/logcollect/logagent/internal/journaltest"
	"github.com/logcollect/logcollect/pkg/record"
)

func sample() []journaltest.Entry {
	return []journaltest.Entry{
		{Message: "nginx started", Fields: map[string]string{"_SYSTEMD_UNIT": "nginx.service", "PRIORITY": "6", "SYSLOG_IDENTIFIER": "nginx", "_PID": "10", "_HOSTNAME": "web-1"}},
		{Message: "disk failing", Fields: map[string]string{"_TRANSPORT": "kernel", "PRIORITY": "2"}},
		{Message: "upstream timed out", Fields: map[string]string{"_SYSTEMD_UNIT": "nginx.service", "PRIORITY": "3"}},
		{Message: "bin\xff\x00ary", Fields: map[string]string{"_SYSTEMD_UNIT": "app.service", "PRIORITY": "7"}},
		{Message: "from a container", Fields: map[string]string{"CONTAINER_NAME": "web", "CONTAINER_ID": "abc123", "CONTAINER_TAG": "web", "PRIORITY": "6"}},
	}
}

func readAll(t *testing.T, o Options) []Entry {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	r, err := Open(ctx, o)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	var out []Entry
	for {
		e, err := r.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
	}
}

func messages(es []Entry) string {
	var m []string
	for _, e := range es {
		m = append(m, e.Message)
	}
	return strings.Join(m, "|")
}

func TestReadFiltersAndSeek(t *testing.T) {
	dir := t.TempDir()
	file := filepath.Join(dir, "system.journal")
	journaltest.Write(t, file, 1_700_000_000, sample())

	tests := []struct {
		name string
		o    Options
		want string
	}{
		{"head reads everything", Options{File: file, Seek: SeekHead}, "nginx started|disk failing|upstream timed out|bin\xff\x00ary|from a container"},
		{"directory option", Options{Directory: dir, Seek: SeekHead}, "nginx started|disk failing|upstream timed out|bin\xff\x00ary|from a container"},
		{"tail without follow reads nothing old", Options{File: file}, ""},
		{"unit filter", Options{File: file, Seek: SeekHead, Units: []string{"nginx.service"}}, "nginx started|upstream timed out"},
		{"priority err and worse", Options{File: file, Seek: SeekHead, Priority: "err"}, "disk failing|upstream timed out"},
		{"numeric priority", Options{File: file, Seek: SeekHead, Priority: "2"}, "disk failing"},
		{"match", Options{File: file, Seek: SeekHead, Match: []string{"_TRANSPORT=kernel"}}, "disk failing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := messages(readAll(t, tt.o)); got != tt.want {
				t.Errorf("read %q, want %q", got, tt.want)
			}
		})
	}
}

func TestCursorResumeReadsEachEntryOnce(t *testing.T) {
	file := filepath.Join(t.TempDir(), "system.journal")
	journaltest.Write(t, file, 1_700_000_000, sample())
	all := readAll(t, Options{File: file, Seek: SeekHead})
	if len(all) != 5 {
		t.Fatalf("read %d entries, want 5", len(all))
	}
	// As after a crash whose checkpoint holds the second entry's cursor.
	rest := readAll(t, Options{File: file, Seek: SeekHead, Cursor: all[1].Cursor})
	if got, want := messages(rest), messages(all[2:]); got != want {
		t.Errorf("resumed read %q, want %q", got, want)
	}
}

func TestFollowSeesNewEntries(t *testing.T) {
	dir := t.TempDir()
	journaltest.Write(t, filepath.Join(dir, "a.journal"), 1_700_000_000, sample()[:1])
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	r, err := Open(ctx, Options{Directory: dir, Follow: true})
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	got := make(chan Entry, 1)
	go func() {
		if e, err := r.Next(); err == nil {
			got <- e
		}
	}()
	time.Sleep(300 * time.Millisecond) // let journalctl reach the tail before the new file appears
	journaltest.Write(t, filepath.Join(dir, "b.journal"), 1_700_000_100, []journaltest.Entry{{Message: "new entry", Fields: nil}})
	select {
	case e := <-got:
		if e.Message != "new entry" {
			t.Errorf("followed entry %q, want the new one (tail must skip the old)", e.Message)
		}
	case <-ctx.Done():
		t.Fatal("no entry followed within 20s")
	}
}

func TestFillRecord(t *testing.T) {
	file := filepath.Join(t.TempDir(), "system.journal")
	journaltest.Write(t, file, 1_700_000_000, sample())
	all := readAll(t, Options{File: file, Seek: SeekHead})
	o := Options{File: file}

	var r record.Record
	r.HostIP, r.HostName = "10.0.0.5", "web-1"
	all[0].Fill(&r, o.Source(), "host-1")
	var doc map[string]any
	if err := json.Unmarshal(r.AppendJSON(nil), &doc); err != nil {
		t.Fatal(err)
	}
	j := doc["journald"].(map[string]any)
	if doc["message"] != "nginx started" || doc["@timestamp"] != "2023-11-14T22:13:20.000Z" ||
		j["unit"] != "nginx.service" || j["priority"] != "6" || j["identifier"] != "nginx" || j["pid"] != "10" {
		t.Errorf("record = %v", doc)
	}
	again := r
	all[0].Fill(&again, o.Source(), "host-1")
	if again.EventID != r.EventID || r.EventID == "" {
		t.Error("event id is not deterministic")
	}

	var bin record.Record
	all[3].Fill(&bin, o.Source(), "host-1")
	if len(bin.Flags) != 1 || bin.Flags[0] != record.FlagInvalidUTF8 || !json.Valid(bin.AppendJSON(nil)) {
		t.Errorf("binary message: flags %v, json %s", bin.Flags, bin.AppendJSON(nil))
	}
	if bin.EventID == r.EventID {
		t.Error("two entries share an event id")
	}

	var c record.Record
	all[4].Fill(&c, o.Source(), "host-1")
	if c.Extra["container_name"] != "web" || c.Extra["container_id"] != "abc123" || c.Extra["container_tag"] != "web" {
		t.Errorf("docker driver fields = %v", c.Extra)
	}
}

func TestErrors(t *testing.T) {
	ctx := context.Background()
	tests := []struct {
		name string
		o    Options
		want string
	}{
		{"bad match", Options{Match: []string{"transport kernel"}}, `"match": "transport kernel" is not FIELD=value`},
		{"match field starting with a digit", Options{Match: []string{"1ABC=x"}}, `"match": "1ABC=x" is not FIELD=value`},
		{"bad priority", Options{Priority: "loud"}, `"priority": "loud" is not a syslog priority`},
		{"bad seek", Options{Seek: "middle"}, `"seek": "middle"`},
		{"cursor seek without cursor", Options{Seek: SeekCursor}, `needs a "cursor"`},
		{"both file and directory", Options{File: "/a", Directory: "/b"}, "exclude each other"},
		{"missing journal", Options{Directory: "/nonexistent/journal"}, "journal /nonexistent/journal"},
		{"no journalctl", Options{Journalctl: "/nonexistent/journalctl"}, "journalctl not found"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Open(ctx, tt.o)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("Open = %v, want an error containing %q", err, tt.want)
			}
		})
	}
}

// Following from the head reads every entry (not the last 10), across
// boots; following after a cursor of an earlier boot reads the rest (plain
// --follow would limit itself to the latest boot and skip them).
func TestFollowHeadAndCursorAcrossBoots(t *testing.T) {
	dir := t.TempDir()
	var es []journaltest.Entry
	for i := range 30 {
		boot := journaltest.DefaultBoot
		if i >= 20 {
			boot = "7fb7b5f5e8a54c43b5a3b7d0d3a0b1a2"
		}
		es = append(es, journaltest.Entry{Message: fmt.Sprintf("m%02d", i), Boot: boot})
	}
	journaltest.Write(t, filepath.Join(dir, "a.journal"), 1_700_000_000, es)
	follow := func(o Options, n int) []Entry {
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		o.Follow = true
		r, err := Open(ctx, o)
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		var out []Entry
		for len(out) < n {
			e, err := r.Next()
			if err != nil {
				t.Fatalf("after %d entries: %v", len(out), err)
			}
			out = append(out, e)
		}
		return out
	}
	all := follow(Options{Directory: dir, Seek: SeekHead}, 30)
	if all[0].Message != "m00" || all[29].Message != "m29" {
		t.Fatalf("head follow read %s .. %s", all[0].Message, all[29].Message)
	}
	rest := follow(Options{Directory: dir, Cursor: all[4].Cursor}, 25)
	if rest[0].Message != "m05" || rest[24].Message != "m29" {
		t.Fatalf("cursor follow read %s .. %s, want m05 .. m29", rest[0].Message, rest[24].Message)
	}

	tail, err := TailCursor(context.Background(), Options{Directory: dir, Units: []string{"x.service"}})
	if err != nil || tail != all[29].Cursor {
		t.Fatalf("TailCursor = %q, %v; want the last entry's cursor", tail, err)
	}
	if c, err := TailCursor(context.Background(), Options{Directory: t.TempDir()}); err != nil || c != "" {
		t.Fatalf("TailCursor of an empty journal = %q, %v; want \"\"", c, err)
	}
}

// An entry's event id follows the agent's host identity and the cursor, not
// the IP, which may change between a send and its re-send.
func TestFillEventIDFollowsHostID(t *testing.T) {
	e := Entry{Cursor: "s=1;i=2;b=3", Message: "m"}
	fill := func(ip, hostID string) string {
		r := record.Record{HostIP: ip}
		e.Fill(&r, "journald", hostID)
		return r.EventID
	}
	id := fill("10.0.0.5", "host-1")
	if id != record.EventID("host-1", "journal|s=1;i=2;b=3", 0) {
		t.Fatalf("event id %s is not record.EventID(host id, journal|cursor, 0)", id)
	}
	if fill("10.9.9.9", "host-1") != id {
		t.Error("the IP changed the event id")
	}
	if fill("10.0.0.5", "host-2") == id {
		t.Error("two hosts share an event id")
	}
}
