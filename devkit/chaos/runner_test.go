package chaos

import (
	"context"
	"fmt"
	"math/rand/v2"
	"os"
	"strings"
	"testing"
	"time"
)

// full is set by CHAOS_FULL=1 (make chaos): the sizes. Otherwise
// each scenario runs a short version sized for make test.
var full = os.Getenv("CHAOS_FULL") == "1"

var bins Binaries

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "chaos-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	bins, err = Build(ctx, dir)
	cancel()
	if err != nil {
		os.RemoveAll(dir)
		fmt.Fprintln(os.Stderr, "chaos: build binaries:", err)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

func mode() string {
	if full {
		return "full"
	}
	return "short"
}

// pick returns the full or the short value.
func pick[T any](fullV, shortV T) T {
	if full {
		return fullV
	}
	return shortV
}

// env is one scenario's cluster, writer, agent and transfer.
type env struct {
	t        *testing.T
	ctx      context.Context
	c        *Cluster
	w        *Writer
	agent    *Service
	transfer *Service
	report   *Report
	entries  map[int]string // file → collect entry JSON
	start    time.Time
	// tableLater: the test adds notes after finish and prints the table
	// itself.
	tableLater bool
	kafkaCheck bool
}

// printTable logs the figures and appends them to $CHAOS_REPORT if set.
func (e *env) printTable() {
	table := e.report.Table()
	e.t.Log(table)
	if p := os.Getenv("CHAOS_REPORT"); p != "" {
		if f, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644); err == nil {
			fmt.Fprint(f, table)
			f.Close()
		}
	}
}

type envOptions struct {
	files      []FileSpec
	rate       int
	kafkaSync  bool
	agentIni   map[string]string
	xferIni    map[string]string
	agentData  string
	lean       bool // Config.LeanIndex
	noServices bool // the test starts the agent and transfer itself
	extraFiles []int
	brokers    int  // Config.KafkaBrokers
	partitions int  // Config.Partitions
	kafkaCheck bool // finish also reads the topic back (CheckKafka)
}

func newEnv(t *testing.T, name string, o envOptions) *env {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	dir := t.TempDir()
	c, err := StartCluster(ctx, Config{Bin: bins, Dir: dir, KafkaSyncWrites: o.kafkaSync, KafkaBrokers: o.brokers, Partitions: o.partitions, AgentIni: o.agentIni, TransferIni: o.xferIni,
		AgentDataDir: o.agentData, LeanIndex: o.lean, BulkTimeout: pick(2*time.Minute, 10*time.Second), Logf: t.Logf})
	t.Cleanup(func() {
		c.Close()
		if t.Failed() {
			dumpLogs(t, dir)
		}
	})
	if err != nil {
		t.Fatal(err)
	}
	e := &env{t: t, ctx: ctx, c: c, w: &Writer{Dir: c.LogDir, Rate: o.rate}, entries: map[int]string{}, kafkaCheck: o.kafkaCheck,
		report: &Report{Scenario: name, Mode: mode(), Files: len(o.files), Rate: o.rate}}
	t.Cleanup(func() { _ = e.w.Stop() })
	for i, spec := range o.files {
		if err := e.w.Add(i, spec); err != nil {
			t.Fatal(err)
		}
		e.entries[i] = fmt.Sprintf(`{"path":%q,"topic":"chaos","format":"json","start":"beginning"}`, e.w.Glob(i))
	}
	if err := c.PutConfig(ctx, e.config()); err != nil {
		t.Fatal(err)
	}
	if !o.noServices {
		e.transfer = e.newTransfer()
		e.agent = e.newAgent()
		if err := e.agent.Ready(ctx, 60*time.Second); err != nil {
			t.Fatal(err)
		}
	}
	return e
}

// dumpLogs prints the tail of every service's log; with CHAOS_LOGS=DIR the
// whole logs are also copied to DIR/<test>/.
func dumpLogs(t *testing.T, dir string) {
	DumpLogs(t.Logf, dir, os.Getenv("CHAOS_LOGS"), t.Name())
}

func (e *env) config() string {
	var parts []string
	for f := 0; f < 64; f++ {
		if s, ok := e.entries[f]; ok {
			parts = append(parts, s)
		}
	}
	return "[" + strings.Join(parts, ",") + "]"
}

func (e *env) newAgent() *Service {
	s, err := e.c.NewAgent()
	if err != nil {
		e.t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		e.t.Fatal(err)
	}
	return s
}

func (e *env) newTransfer() *Service {
	s, err := e.c.NewTransfer()
	if err != nil {
		e.t.Fatal(err)
	}
	if err := s.Start(); err != nil {
		e.t.Fatal(err)
	}
	return s
}

// write starts the writers.
func (e *env) write() {
	e.start = time.Now()
	e.w.StartAll(e.ctx)
}

// sleep waits d unless the test's context ends.
func (e *env) sleep(d time.Duration) {
	select {
	case <-e.ctx.Done():
	case <-time.After(d):
	}
}

// between is a random duration in [lo, hi].
func between(lo, hi time.Duration) time.Duration {
	return lo + time.Duration(rand.Int64N(int64(hi-lo)+1))
}

// progress waits until probe reports a value above base, up to limit; it
// returns the time it took and whether it happened.
func (e *env) progress(probe func() (float64, error), base float64, limit time.Duration) (time.Duration, bool) {
	start := time.Now()
	for time.Since(start) < limit {
		if v, err := probe(); err == nil && v > base {
			return time.Since(start), true
		}
		e.sleep(100 * time.Millisecond)
	}
	return time.Since(start), false
}

func metricProbe(ctx context.Context, s *Service, name string) func() (float64, error) {
	return func() (float64, error) {
		m, err := s.Metrics(ctx)
		if err != nil {
			return 0, err
		}
		return m[name], nil
	}
}

// indexedProbe is the emulator's count of indexed documents.
func (e *env) indexedProbe() func() (float64, error) {
	return func() (float64, error) {
		st, err := e.c.EmulatorStats(e.ctx)
		return float64(st["indexed"]), err
	}
}

// caughtUp is the time until every line written so far is searchable.
func (e *env) caughtUp(limit time.Duration) (time.Duration, bool) {
	want := e.w.Written()
	start := time.Now()
	d, n, err := e.c.WaitIndexed(e.ctx, want, limit, limit)
	_ = d
	return time.Since(start), err == nil && n >= want
}

// killLoop SIGKILLs s n times at random intervals in [lo, hi], restarting
// it at once, and records per kill the time until probe (on the new
// process) shows progress.
//
// With settle, each restart is given up to 30 s to make progress before the
// next kill (which then comes lo..hi after it), so no member is killed in
// the middle of joining the consumer group.
func (e *env) killLoop(s *Service, n int, lo, hi time.Duration, metric string, settle bool) {
	for i := 0; i < n && e.ctx.Err() == nil; i++ {
		next := time.Now().Add(between(lo, hi))
		s.Kill()
		e.report.Faults++
		if err := s.Start(); err != nil {
			e.t.Fatal(err)
		}
		wait := time.Until(next)
		if settle {
			wait = 30 * time.Second
		}
		d, ok := e.progress(metricProbe(e.ctx, s, metric), 0, wait)
		if settle && ok {
			next = time.Now().Add(between(lo, hi))
		}
		if ok {
			e.report.Recoveries = append(e.report.Recoveries, d)
		} else {
			e.report.NotRecovered++
		}
		e.sleep(time.Until(next))
		if err := s.Running(); err != nil {
			e.t.Fatal(err)
		}
	}
}

// finish stops the writers, waits until the pipeline has indexed every
// line (or stalls), checks, prints the table and asserts 0 lost and 0
// duplicated.
func (e *env) finish(stall time.Duration) Result {
	t := e.t
	t.Helper()
	if err := e.w.Stop(); err != nil {
		t.Fatalf("writer: %v", err)
	}
	e.report.Writing = time.Since(e.start)
	stats := e.w.Stats()
	var rate float64
	for _, s := range stats {
		rate += s.Rate
	}
	if len(stats) > 0 {
		e.report.Achieved = rate / float64(len(stats))
	}
	var written int64
	for _, s := range stats {
		written += s.Written
	}
	// Full size: ~2.7 million lines in scenarios 1 and 2 into an emulator
	// that indexes 2,000-5,000 documents/s once it holds a few hundred
	// thousand (shared 2-core machine): catching up takes 10-20 minutes.
	d, n, err := e.c.WaitIndexed(e.ctx, written, stall, pick(30*time.Minute, 3*time.Minute))
	if err != nil {
		t.Fatalf("wait for indexing: %v", err)
	}
	if n >= written {
		e.report.CatchUp = d
	} else {
		e.report.Note("indexing stalled at %d of %d documents for %v", n, written, stall)
	}
	settleStart := time.Now()
	res, err := e.c.CheckSettled(e.ctx, stats, stall, pick(15*time.Minute, 3*time.Minute))
	if err != nil {
		t.Fatalf("check: %v", err)
	}
	if res.Checks > 1 {
		e.report.Note("lines were still arriving when the document count reached the written count (duplicates count too): settled after %d checks, %s", res.Checks, fmtDur(time.Since(settleStart)))
	}
	e.report.Result = res
	for _, s := range stats {
		if s.Rotations > 0 {
			e.report.Note("file %d: %d %s rotations", s.File, s.Rotations, s.Rotation)
		}
	}
	if e.kafkaCheck {
		kr, err := e.c.CheckKafka(e.ctx, stats)
		if err != nil {
			t.Fatalf("kafka check: %v", err)
		}
		e.report.Kafka = &kr
		if kr.OutOfOrder != 0 || kr.Missing != 0 {
			t.Errorf("%s: in kafka %d records out of order, %d lines missing; want 0", e.report.Scenario, kr.OutOfOrder, kr.Missing)
		}
	}
	if !e.tableLater {
		e.printTable()
	}
	if res.Lost != 0 || res.Duplicated != 0 || res.OutOfOrder != 0 {
		t.Errorf("%s: lost %d, duplicated %d, out of order %d; want 0", e.report.Scenario, res.Lost, res.Duplicated, res.OutOfOrder)
	}
	for _, s := range []*Service{e.agent, e.transfer} {
		if s != nil {
			if err := s.Running(); err != nil {
				t.Errorf("%v", err)
			}
		}
	}
	// The delivery audit, run as an operator runs it (the logagent
	// binary), must agree: every line the agent counted is indexed or
	// dead-lettered, 0 missing.
	if e.agent != nil && e.agent.Running() == nil {
		if err := e.c.AuditClean(e.ctx, 2*time.Second); err != nil {
			t.Errorf("%s: %v", e.report.Scenario, err)
		}
	}
	return res
}
