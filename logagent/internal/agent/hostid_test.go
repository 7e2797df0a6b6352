package agent

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/logcollect/logcollect/devkit/testkit"
	"github.com/logcollect/logcollect/logagent/internal/checkpoint"
	kt "github.com/logcollect/logcollect/logagent/internal/testutil"
	"github.com/logcollect/logcollect/pkg/logging"
)

// The host id: made once and kept in data_dir across restarts; the IP of
// an older agent when its checkpoints exist; an override; a corrupt file
// replaced (and kept aside), an unreadable one refused; a data_dir from
// another machine gets a new id.
func TestHostID(t *testing.T) {
	const ip, mid, otherMid = "10.0.0.5", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa", "bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb"
	random := regexp.MustCompile(`^[0-9a-f]{32}$`)
	tests := []struct {
		name     string
		setup    func(t *testing.T, data string) // prepares data_dir before the first start
		override string
		mid      string // the host's machine id; "" none
		want     func(id string) bool
		why      string // in the reason
		errWant  string // the first start fails with this
		logWant  string
		aside    bool // a .corrupt- file is left
	}{
		{name: "new", mid: mid, want: random.MatchString, why: "created"},
		{name: "new without machine id", want: random.MatchString, why: "created"},
		{name: "upgrade keeps the IP", setup: func(t *testing.T, data string) { write(t, data, checkpoint.FileName, `{"version":1,"files":{}}`) },
			mid: mid, want: func(id string) bool { return id == ip }, why: "an agent version before host ids"},
		{name: "override", override: "web-1.example", mid: mid, want: func(id string) bool { return id == "web-1.example" }, why: "[agent] host_id"},
		{name: "corrupt", setup: func(t *testing.T, data string) { write(t, data, HostIDFile, `{"host_id":`) },
			mid: mid, want: random.MatchString, why: "corrupt host_id replaced", logWant: "host id file is corrupt", aside: true},
		{name: "bad id", setup: func(t *testing.T, data string) { write(t, data, HostIDFile, `{"host_id":"a b"}`) },
			mid: mid, want: random.MatchString, logWant: "not printable ASCII without spaces", aside: true},
		{name: "corrupt after upgrade", setup: func(t *testing.T, data string) {
			write(t, data, checkpoint.FileName, `{"version":1,"files":{}}`)
			write(t, data, HostIDFile, "\x00\x00")
		}, mid: mid, want: func(id string) bool { return id == ip }, aside: true},
		{name: "unreadable", setup: func(t *testing.T, data string) { os.MkdirAll(filepath.Join(data, HostIDFile), 0o755) },
			errWant: "read host id: read ", mid: mid}, // then the path and "is a directory"
		{name: "kept", setup: func(t *testing.T, data string) {
			write(t, data, HostIDFile, `{"host_id":"kept-id","machine_id":"`+mid+`","created":"x","origin":"generated"}`)
		}, mid: mid, want: func(id string) bool { return id == "kept-id" }, why: "kept in"},
		{name: "kept, machine id unknown now", setup: func(t *testing.T, data string) {
			write(t, data, HostIDFile, `{"host_id":"kept-id","machine_id":"`+otherMid+`","created":"x","origin":"generated"}`)
		}, want: func(id string) bool { return id == "kept-id" }},
		{name: "data_dir from another machine", setup: func(t *testing.T, data string) {
			write(t, data, checkpoint.FileName, `{"version":1,"files":{}}`)
			write(t, data, HostIDFile, `{"host_id":"kept-id","machine_id":"`+otherMid+`","created":"x","origin":"generated"}`)
		}, mid: mid, want: random.MatchString, why: "data_dir from another machine", logWant: "data_dir was made on another machine"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			data := filepath.Join(dir, "data")
			os.MkdirAll(data, 0o750)
			midPath := filepath.Join(dir, "machine-id")
			if tt.mid != "" {
				write(t, dir, "machine-id", tt.mid+"\n")
			}
			if tt.setup != nil {
				tt.setup(t, data)
			}
			var logs testkit.Buffer
			log, _ := logging.New(&logs, "debug", "text")
			id, why, err := hostID(data, ip, tt.override, midPath, log)
			if tt.errWant != "" {
				if err == nil || !strings.Contains(err.Error(), tt.errWant) || !strings.Contains(err.Error(), "make it readable") {
					t.Fatalf("err = %v, want %q and the fix", err, tt.errWant)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if !tt.want(id) || !strings.Contains(why, tt.why) {
				t.Fatalf("id %q (%s), want another; reason should say %q", id, why, tt.why)
			}
			if !strings.Contains(logs.String(), tt.logWant) {
				t.Errorf("log lacks %q:\n%s", tt.logWant, logs.String())
			}
			if asides, _ := filepath.Glob(filepath.Join(data, HostIDFile+".corrupt-*")); (len(asides) == 1) != tt.aside {
				t.Errorf("corrupt copies kept: %v, want %v", asides, tt.aside)
			}
			// A restart (another IP, same machine) keeps the id; the file
			// records it with the machine id.
			again, _, err := hostID(data, "10.0.0.99", tt.override, midPath, log)
			if err != nil || again != id {
				t.Fatalf("after a restart with another IP: %q, %v; want %q", again, err, id)
			}
			if tt.override != "" {
				if _, err := os.Stat(filepath.Join(data, HostIDFile)); err == nil {
					t.Error("an overridden id was written to data_dir")
				}
				return
			}
			var st hostIDState
			raw, _ := os.ReadFile(filepath.Join(data, HostIDFile))
			if err := json.Unmarshal(raw, &st); err != nil || st.HostID != id || st.MachineID != tt.mid && tt.name != "kept, machine id unknown now" {
				t.Errorf("host_id file %s (%v), want id %s and machine id %q", raw, err, id, tt.mid)
			}
		})
	}
}

func write(t *testing.T, dir, name, data string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, name), []byte(data), 0o644); err != nil {
		t.Fatal(err)
	}
}

// An agent restarted under another IP (DHCP, a moved VM) re-sends the lines
// whose acks its checkpoint had not yet recorded under their first event
// ids, so Elasticsearch overwrites instead of duplicating; host.ip shows the
// new IP; the host id file is the same.
func TestEventIDsSurviveIPChange(t *testing.T) {
	s := newStack(t)
	rs := resendAfterRestart(t, s, func() {
		if _, err := os.Stat(filepath.Join(s.cfg.Agent.DataDir, HostIDFile)); err != nil {
			t.Fatalf("no host id file after the first run: %v", err)
		}
		s.cfg.Agent.IP = "127.0.0.2"
	})
	if !strings.Contains(string(rs[9].Value), `"ip":"127.0.0.2"`) {
		t.Errorf("host.ip of a record after the restart: %s", rs[9].Value)
	}
}

// Upgrading from a version that hashed the IP (and, as this one, the line
// head: see record.EventIDs.AppendLineID): the first run stands for it
// ([agent] host_id = the IP gives exactly its ids, and writes no host_id
// file); the upgraded agent finds its checkpoints, adopts the IP as host id,
// and the lines in flight at the upgrade are re-sent under their old ids.
func TestUpgradeKeepsEventIDsOfLinesInFlight(t *testing.T) {
	s := newStack(t)
	s.cfg.Agent.HostID = s.cfg.Agent.IP
	resendAfterRestart(t, s, func() {
		if _, err := os.Stat(filepath.Join(s.cfg.Agent.DataDir, HostIDFile)); err == nil {
			t.Fatal("the stand-in for the old version wrote a host_id file")
		}
		s.cfg.Agent.HostID = ""
	})
	st, err := os.ReadFile(filepath.Join(s.cfg.Agent.DataDir, HostIDFile))
	if err != nil || !strings.Contains(string(st), `"host_id":"127.0.0.1"`) {
		t.Fatalf("host_id file after the upgrade: %s (%v)", st, err)
	}
}

// resendAfterRestart runs the agent on five lines, rewinds the checkpoint
// to 0 as a crash before the acks were saved would leave it (the file's id
// and fingerprint stay), applies change, runs the agent again, and returns
// the ten records, having checked each line kept its event id and the
// host_id file (if any) is unchanged.
func resendAfterRestart(t *testing.T, s *stack, change func()) []kt.Record {
	t.Helper()
	cfgJSON := strings.ReplaceAll(`[{"path":"DIR/a.log","topic":"ids","start":"beginning"}]`, "DIR", s.dir)
	for _, ip := range []string{"127.0.0.1", "127.0.0.2"} {
		if _, err := s.cli.Put(context.Background(), s.cfg.CollectKey(ip), cfgJSON); err != nil {
			t.Fatal(err)
		}
	}
	want := writeLines(t, filepath.Join(s.dir, "a.log"), "a", 1, 5)
	_, stop := s.run(t)
	rs := kt.WaitFor(t, s.kafka.Addr(), "ids", 15*time.Second, func(rs []kt.Record) bool { return contains(rs, want) })
	if !contains(rs, want) {
		t.Fatalf("first run sent %q", kt.Messages(rs))
	}
	stop()
	idFile, _ := os.ReadFile(filepath.Join(s.cfg.Agent.DataDir, HostIDFile))

	editCheckpoint(t, s, func(f map[string]any) { f["offset"] = 0 })

	change()
	s.run(t)
	rs = kt.WaitFor(t, s.kafka.Addr(), "ids", 15*time.Second, func(rs []kt.Record) bool { return len(rs) >= 10 })
	if len(rs) != 10 {
		t.Fatalf("after the restart %d records, want the 5 lines twice: %q", len(rs), kt.Messages(rs))
	}
	if n := kt.RepeatsKeepTheirIDs(t, rs); n != 5 {
		t.Fatalf("%d lines re-sent, want 5", n)
	}
	if again, _ := os.ReadFile(filepath.Join(s.cfg.Agent.DataDir, HostIDFile)); len(idFile) > 0 && string(again) != string(idFile) {
		t.Errorf("host_id file %q before the restart, %q after", idFile, again)
	}
	return rs
}

// editCheckpoint applies edit to the one file entry of the stopped agent's
// checkpoint file, as a crash at another moment would have left it.
func editCheckpoint(t *testing.T, s *stack, edit func(entry map[string]any)) {
	t.Helper()
	raw, err := os.ReadFile(filepath.Join(s.cfg.Agent.DataDir, checkpoint.FileName))
	if err != nil {
		t.Fatal(err)
	}
	var cp map[string]any
	if err := json.Unmarshal(raw, &cp); err != nil {
		t.Fatal(err)
	}
	files, _ := cp["files"].(map[string]any)
	if len(files) != 1 {
		t.Fatalf("checkpoints: %s", raw)
	}
	for _, f := range files {
		edit(f.(map[string]any))
	}
	raw, _ = json.Marshal(cp)
	write(t, s.cfg.Agent.DataDir, checkpoint.FileName, string(raw))
}

// The host goes down with its application: lines sent, their checkpoint
// not yet saved; the application, back first, writes its log again behind
// the same start-up banner (longer than the fingerprint). The agent resumes
// the file's generation where the checkpoint says; the new lines start at
// the offsets the lines sent before had, and must not take their event ids
// (Elasticsearch would replace those lines: RELIABILITY.md bug 31). The
// real agent, broker and etcd.
func TestRewriteWhileDownKeepsBothGenerations(t *testing.T) {
	s := newStack(t)
	s.put(t, strings.ReplaceAll(`[{"path":"DIR/app.log","topic":"rw","start":"beginning"}]`, "DIR", s.dir))
	p := filepath.Join(s.dir, "app.log")
	var banner strings.Builder
	for i := 1; i <= 20; i++ {
		fmt.Fprintf(&banner, "banner %02d %s\n", i, strings.Repeat("=", 60)) // 1,400 bytes
	}
	write(t, s.dir, "app.log", banner.String())
	before := writeLines(t, p, "before", 1, 5)
	_, stop := s.run(t)
	rs := kt.WaitFor(t, s.kafka.Addr(), "rw", 15*time.Second, func(rs []kt.Record) bool { return contains(rs, before) })
	if !contains(rs, before) {
		t.Fatalf("first run sent %q", kt.Messages(rs))
	}
	stop()
	// The checkpoint as it was when the file's id was new: nothing proven
	// shipped (a crash before the first save that followed the sends).
	editCheckpoint(t, s, func(f map[string]any) {
		f["offset"] = 0
		delete(f, "tail_off")
		delete(f, "tail")
	})
	write(t, s.dir, "app.log", banner.String())
	after := writeLines(t, p, "after_", 1, 5) // "after_ line 1" is as long as "before line 1"
	s.run(t)
	rs = kt.WaitFor(t, s.kafka.Addr(), "rw", 15*time.Second, func(rs []kt.Record) bool { return contains(rs, after) })
	if !contains(rs, append(before, after...)) {
		t.Fatalf("after the restart: %q", kt.Messages(rs))
	}
	kt.RepeatsKeepTheirIDs(t, rs) // the banner, sent twice, keeps its ids
	byID := map[string]string{}
	for _, r := range rs {
		if m, ok := byID[r.EventID]; ok && m != r.Message {
			t.Fatalf("%q and %q under one event id %s (offset %d): Elasticsearch would keep one", m, r.Message, r.EventID, r.Offset)
		}
		byID[r.EventID] = r.Message
	}
}
