package chaos

import (
	"testing"
	"time"
)

// loadFiles is the load: 8 files, rename rotation every 10 MB on
// three of them and copytruncate on one (short: 3 files, rotating every
// 200 KB).
func loadFiles() []FileSpec {
	if !full {
		return []FileSpec{{Rename, 200 << 10}, {CopyTruncate, 200 << 10}, {}}
	}
	return []FileSpec{{Rename, 10 << 20}, {Rename, 10 << 20}, {Rename, 10 << 20}, {CopyTruncate, 10 << 20}, {}, {}, {}, {}}
}

// Scenario 1: SIGKILL the agent every 2–5 s, 20 times, under load.
func TestAgentKills(t *testing.T) {
	e := newEnv(t, "1 agent SIGKILL", envOptions{files: loadFiles(), rate: pick(5000, 1000), lean: true})
	e.write()
	e.sleep(pick(3*time.Second, time.Second))
	e.killLoop(e.agent, pick(20, 4), pick(2*time.Second, time.Second), pick(5*time.Second, 2*time.Second), "logagent_records_acked_total", false)
	e.sleep(time.Second)
	e.finish(pick(60*time.Second, 20*time.Second))
}

// Scenario 2: SIGKILL the transfer every 2–5 s, 20 times, under load.
func TestTransferKills(t *testing.T) {
	e := newEnv(t, "2 transfer SIGKILL", envOptions{files: loadFiles(), rate: pick(5000, 1000), lean: true})
	e.write()
	e.sleep(pick(3*time.Second, time.Second))
	// Short: each restarted transfer indexes before the next kill. Killing
	// members while they wait in JoinGroup (what the full version does, 19
	// times in 20) sometimes leaves the in-process broker's group stuck
	// with dead members holding partitions, for minutes (kfake, not Kafka:
	// see RELIABILITY.md bug 3); make test must not depend on that.
	e.killLoop(e.transfer, pick(20, 4), pick(2*time.Second, time.Second), pick(5*time.Second, 2*time.Second), "logtransfer_documents_indexed_total", !full)
	// The group needs the dead members' sessions to expire before the last
	// transfer gets every partition: recovery after the last kill.
	d, ok := e.progress(metricProbe(e.ctx, e.transfer, "logtransfer_documents_indexed_total"), 0, 60*time.Second)
	if ok {
		e.report.Note("after the last kill the transfer indexed again within %s", fmtDur(d))
	}
	// 90 s in both sizes: after the kills the survivor may wait out one
	// unanswered JoinGroup of the in-process broker (sarama's 30 s read
	// timeout, see RELIABILITY.md bug 3) before its final rebalance; 45 s
	// was too short once in CI under the race detector.
	e.finish(90 * time.Second)
}
