package chaos

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// otherFiles is the load of scenarios 3-8: 8 files at 1,000 lines/s, one
// rotating by rename every 10 MB (short: 2 files at 500 lines/s, one
// rotating every 100 KB).
func otherFiles() []FileSpec {
	if !full {
		return []FileSpec{{Rename, 100 << 10}, {}}
	}
	return []FileSpec{{Rename, 10 << 20}, {}, {}, {}, {}, {}, {}, {}}
}

func otherRate() int { return pick(1000, 500) }

// Scenario 3: the emulator down for 30 s (listener closed), then answering
// 429 and 503 to every bulk for 30 s.
func TestElasticsearchOutage(t *testing.T) {
	e := newEnv(t, "3 elasticsearch down, then 429/503", envOptions{files: otherFiles(), rate: otherRate()})
	e.write()
	e.sleep(pick(5*time.Second, 2*time.Second))
	down := pick(30*time.Second, 4*time.Second)
	if err := e.c.Fault(e.ctx, fmt.Sprintf(`{"down_for":%q}`, down)); err != nil {
		t.Fatal(err)
	}
	e.report.Faults++
	e.sleep(down)
	e.recoverIndexing()
	half := pick(15*time.Second, 2*time.Second)
	for _, status := range []int{429, 503} {
		if err := e.c.Fault(e.ctx, fmt.Sprintf(`{"fail_bulks_for":%q,"status":%d}`, half, status)); err != nil {
			t.Fatal(err)
		}
		e.report.Faults++
		e.sleep(half)
	}
	e.recoverIndexing()
	e.sleep(time.Second)
	e.finish(pick(60*time.Second, 20*time.Second))
}

// recoverIndexing records the time until the emulator indexes again.
func (e *env) recoverIndexing() {
	base, _ := e.indexedProbe()()
	if d, ok := e.progress(e.indexedProbe(), base, 60*time.Second); ok {
		e.report.Recoveries = append(e.report.Recoveries, d)
	} else {
		e.report.NotRecovered++
	}
}

// Scenario 4: the broker SIGKILLed mid-stream and restarted on the same
// port and data directory (fsync on every produce, so acknowledged records
// survive the kill).
func TestBrokerKill(t *testing.T) {
	e := newEnv(t, "4 broker SIGKILL and restart", envOptions{files: otherFiles(), rate: otherRate(), kafkaSync: true})
	e.write()
	e.sleep(pick(5*time.Second, 2*time.Second))
	e.c.Kafka.Kill()
	e.report.Faults++
	e.sleep(pick(10*time.Second, 3*time.Second))
	if err := e.c.Kafka.Start(e.ctx); err != nil {
		t.Fatal(err)
	}
	e.recoverIndexing()
	e.sleep(pick(10*time.Second, 2*time.Second))
	e.finish(pick(90*time.Second, 30*time.Second))
}

// Scenario 5: etcd SIGKILLed for 30 s while a config change (add one file,
// remove another) waits; the change is written as soon as etcd is back.
func TestEtcdOutageWithConfigChange(t *testing.T) {
	files := otherFiles()
	e := newEnv(t, "5 etcd down with a pending config change", envOptions{files: files, rate: otherRate()})
	added, removed := len(files), 0
	if err := e.w.Add(added, FileSpec{}); err != nil { // written, not collected yet
		t.Fatal(err)
	}
	e.report.Files++
	e.write()
	e.sleep(pick(5*time.Second, 2*time.Second))
	e.c.Etcd.Kill()
	e.report.Faults++
	// The removed file's writer stops now: everything written to it must be
	// indexed; the agent keeps collecting without etcd.
	e.w.StopFile(removed)
	e.sleep(pick(30*time.Second, 3*time.Second))
	if err := e.c.Etcd.Start(e.ctx); err != nil {
		t.Fatal(err)
	}
	back := time.Now()
	delete(e.entries, removed)
	e.entries[added] = fmt.Sprintf(`{"path":%q,"topic":"chaos","format":"json","start":"beginning"}`, e.w.Glob(added))
	if err := e.c.PutConfig(e.ctx, e.config()); err != nil {
		t.Fatal(err)
	}
	ok := false
	for time.Since(back) < 60*time.Second && e.ctx.Err() == nil {
		if n, err := e.c.Count(e.ctx, e.c.Index(), fmt.Sprintf(`{"term":{"json.f":%d}}`, added)); err == nil && n > 0 {
			e.report.Recoveries = append(e.report.Recoveries, time.Since(back))
			ok = true
			break
		}
		e.sleep(200 * time.Millisecond)
	}
	if !ok {
		t.Errorf("the added file was not collected within 60s of etcd's return")
	}
	e.sleep(pick(5*time.Second, 2*time.Second))
	e.finish(pick(60*time.Second, 20*time.Second))
	if out := readLog(t, e.c, e.agent.Name); !strings.Contains(out, "task stopped") && !strings.Contains(out, "stopped") {
		t.Logf("agent log has no task stop line for the removed entry")
	}
}

// Scenario 6: two transfers in one group; one is SIGKILLed and the other
// takes its partitions over when the group drops it.
func TestTransferRebalance(t *testing.T) {
	e := newEnv(t, "6 two transfers, one SIGKILLed", envOptions{files: otherFiles(), rate: otherRate()})
	second := e.newTransfer()
	e.write()
	// Both members own partitions once the second one's join completes.
	deadline := time.Now().Add(60 * time.Second)
	for time.Now().Before(deadline) {
		m, err := second.Metrics(e.ctx)
		if err == nil && m["logtransfer_documents_indexed_total"] > 0 {
			break
		}
		e.sleep(200 * time.Millisecond)
	}
	e.sleep(pick(5*time.Second, time.Second))
	second.Kill()
	e.report.Faults++
	d, ok := e.caughtUp(90 * time.Second)
	if ok {
		e.report.Recoveries = append(e.report.Recoveries, d)
		e.report.Note("recovery: until every line written before the kill was indexed by the survivor")
	} else {
		e.report.NotRecovered++
	}
	e.sleep(pick(5*time.Second, time.Second))
	e.finish(90 * time.Second) // a rebalance may wait out one unanswered JoinGroup (see TestTransferKills)
}

func readLog(t *testing.T, c *Cluster, name string) string {
	b, err := os.ReadFile(filepath.Join(c.cfg.Dir, "service-logs", name+".log"))
	if err != nil {
		t.Logf("read %s log: %v", name, err)
	}
	return string(b)
}

// Scenario 7: the agent's data directory (checkpoints) full, then
// read-only; the agent is SIGKILLed while it cannot save. A tmpfs is
// mounted on the data directory (tests run as root, where chmod stops
// nothing); without the right to mount, RLIMIT_FSIZE on the agent stands
// in for "full" and the read-only phase is skipped with a note.
func TestCheckpointDirFullAndReadOnly(t *testing.T) {
	dataDir := filepath.Join(t.TempDir(), "agent-data")
	if err := os.MkdirAll(dataDir, 0o755); err != nil {
		t.Fatal(err)
	}
	mounted := exec.Command("mount", "-t", "tmpfs", "-o", "size=512k", "tmpfs", dataDir).Run() == nil
	if mounted {
		t.Cleanup(func() {
			if out, err := exec.Command("umount", dataDir).CombinedOutput(); err != nil {
				t.Errorf("umount %s: %v %s", dataDir, err, out)
			}
		})
	}
	// Files rotate (rename and copytruncate) several times per phase, so new
	// files and truncated generations need ids that cannot be saved.
	files := otherFiles()
	files[0] = FileSpec{Rename, pick(int64(512<<10), 100<<10)}
	files = append(files, FileSpec{CopyTruncate, pick(int64(512<<10), 100<<10)})
	e := newEnv(t, "7 checkpoint dir full, then read-only", envOptions{files: files, rate: otherRate(), agentData: dataDir})
	e.write()
	e.sleep(pick(5*time.Second, 2*time.Second))
	cpFile := filepath.Join(dataDir, "checkpoints.json")
	phase := pick(10*time.Second, 3*time.Second)
	// The agent is SIGKILLed and restarted during each phase (it cannot
	// save then): no line may be lost or sent again under another id.
	killDuring := func() {
		kills := pick(3, 1)
		for i := 0; i < kills; i++ {
			e.sleep(phase / time.Duration(kills+1))
			e.agent.Kill()
			e.report.Faults++
			if err := e.agent.Start(); err != nil {
				t.Fatal(err)
			}
		}
		e.sleep(phase / time.Duration(kills+1))
	}

	// Full.
	var undo func()
	if mounted {
		filler := filepath.Join(dataDir, "filler")
		f, err := os.Create(filler)
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 4096)
		for i := 0; i < 1024; i++ {
			if _, err := f.Write(buf); err != nil {
				break // ENOSPC: full
			}
		}
		f.Close()
		undo = func() { os.Remove(filler) }
		e.report.Note("full: tmpfs of 512 KiB on data_dir filled with a file (ENOSPC)")
	} else {
		pid := fmt.Sprint(e.agent.Process().Pid())
		if out, err := exec.Command("prlimit", "--pid", pid, "--fsize=64").CombinedOutput(); err != nil {
			t.Fatalf("prlimit: %v %s", err, out)
		}
		undo = func() {
			_ = exec.Command("prlimit", "--pid", fmt.Sprint(e.agent.Process().Pid()), "--fsize=unlimited").Run()
		}
		e.report.Note("full: no mount permission; RLIMIT_FSIZE=64 on the agent (EFBIG)")
	}
	e.report.Faults++
	if mounted {
		killDuring()
	} else {
		e.sleep(phase) // RLIMIT_FSIZE is on the process: a restart would lift it
	}
	undo()
	e.recoverCheckpoint(cpFile)

	// Read-only.
	if mounted {
		if out, err := exec.Command("mount", "-o", "remount,ro", dataDir).CombinedOutput(); err != nil {
			t.Fatalf("remount ro: %v %s", err, out)
		}
		e.report.Faults++
		killDuring()
		if err := e.agent.Running(); err != nil {
			e.report.Note("agent restarted on a read-only data_dir exited: %s", lastLine(err.Error()))
		}
		if out, err := exec.Command("mount", "-o", "remount,rw", dataDir).CombinedOutput(); err != nil {
			t.Fatalf("remount rw: %v %s", err, out)
		}
		if e.agent.Running() != nil {
			if err := e.agent.Start(); err != nil {
				t.Fatal(err)
			}
		}
		e.recoverCheckpoint(cpFile)
	} else {
		e.report.Note("read-only phase skipped: no permission to mount a tmpfs")
	}
	e.sleep(time.Second)
	log := readLog(t, e.c, e.agent.Name)
	if !strings.Contains(log, "save checkpoints") {
		t.Errorf("agent log has no %q error while the data dir was unusable", "save checkpoints")
	}
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, "level=ERROR") && strings.Contains(l, "checkpoint") {
			e.report.Note("agent error line: %s", trimLog(l))
			break
		}
	}
	for _, l := range strings.Split(log, "\n") {
		if strings.Contains(l, "cannot save the checkpoint of a new file") {
			e.report.Note("agent log: %s", trimLog(l))
			break
		}
	}
	if res := e.finish(pick(60*time.Second, 20*time.Second)); res.Foreign != 0 {
		t.Errorf("%d documents are not sequenced lines (cut or merged lines?)", res.Foreign)
	}
}

// recoverCheckpoint records the time until checkpoints.json is written again.
func (e *env) recoverCheckpoint(path string) {
	fixed := time.Now()
	for time.Since(fixed) < 30*time.Second && e.ctx.Err() == nil {
		if fi, err := os.Stat(path); err == nil && fi.ModTime().After(fixed) {
			e.report.Recoveries = append(e.report.Recoveries, time.Since(fixed))
			return
		}
		e.sleep(100 * time.Millisecond)
	}
	e.report.NotRecovered++
	e.t.Errorf("checkpoints not saved within 30s of the data dir being usable again")
}

func lastLine(s string) string {
	s = strings.TrimSpace(s)
	if i := strings.LastIndexByte(s, '\n'); i >= 0 {
		return s[i+1:]
	}
	return s
}

func trimLog(l string) string {
	if len(l) > 240 {
		return l[:240] + "..."
	}
	return l
}
