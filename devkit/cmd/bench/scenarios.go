package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/IBM/sarama"

	"github.com/logcollect/logcollect/devkit/proc"
	"github.com/logcollect/logcollect/devkit/testkit"
	"github.com/logcollect/logcollect/pkg/backoff"
)

// result is one row of the table. Zero figures are printed as "-".
type result struct {
	Scenario  string
	Want, Got int64 // records expected and found
	Wall      time.Duration
	Rate      float64 // lines or docs per second
	MBps      float64
	CPUPerGB  float64
	PeakRSS   int64
	Extra     string // scenario-specific figures (CPU %, latency, bound)
	Target    string
	Met       bool
	Err       error
}

const gb = 1e9 // CPU-seconds per GB of input: GB = 10^9 bytes

func mb(b int64) float64 { return float64(b) / (1 << 20) }

// agentFile: N lines in k files, agent reads from the beginning; wall time
// from agent start until the topic holds N records.
// With a chain, every line also goes through the collect entry's processors
// (issue 15's target is lower: ≥250k lines/s), and a sample of the records
// is checked afterwards to show the chain was applied.
func agentFile(ctx context.Context, o *options, lines int64, files int, ch chain, cl containerLogs) result {
	r := result{Scenario: fmt.Sprintf("agent file→Kafka, %d file(s)%s%s", files, cl.label(), o.cond.label()), Want: lines,
		Target: "≥300k lines/s, ≤20 CPU-s/GB, ≤64 MB"}
	minRate := 300_000.0
	name := fmt.Sprintf("agent-file-%d", files)
	if ch.json != "" {
		r.Scenario += ", chain " + ch.name
		r.Target = "≥250k lines/s, ≤20 CPU-s/GB, ≤64 MB"
		minRate = 250_000
		name += "-chain"
	}
	if cl.format != "" {
		name += "-" + cl.format
	}
	e, err := newEnv(o, name)
	if err != nil {
		r.Err = err
		return r
	}
	defer e.close()
	ep, err := e.startEtcdES(ctx, false)
	if err != nil {
		r.Err = err
		return r
	}
	c := agentConfig{etcd: ep.Etcd, processors: ch.json, format: cl.format}
	dir, glob, uid := e.path("files"), e.path("files", "*.log"), ""
	if cl.format != "" {
		uid = "0f3a9c1e-5b7d-4e2a-9c8b-6d1f2e3a4b5c" // what the path says without an apiserver
		if cl.api {
			var kubeconfig string
			if uid, kubeconfig, err = e.startPod(ctx, ep.Etcd); err != nil {
				r.Err = err
				return r
			}
			if cl.kube {
				c.kubeconfig = kubeconfig
			}
		}
		dir, glob = e.podDir(uid), e.path("files", "pods", "*", "*", "*.log")
	}
	var paths []string
	for i := range files {
		name := fmt.Sprintf("access-%d.log", i)
		if cl.format != "" {
			name = fmt.Sprintf("%d.log", i) // the container's restarts: 0.log, 1.log, …
		}
		paths = append(paths, filepath.Join(dir, name))
	}
	if cl.format != "" {
		ch.verify = verifyContainer(cl, uid)
		ch.name = "container " + cl.format
	}
	size, err := writeFiles(paths, lines, cl.frame())
	if err != nil {
		r.Err = err
		return r
	}
	broker, kc, agent, httpAddr, err := e.startAgentPipeline(ctx, c, glob)
	if err != nil {
		r.Err = err
		return r
	}
	defer kc.Close()
	start := time.Now()
	prof := e.profileCPU(ctx, name, httpAddr, o.profileSeconds)
	done, _, err := waitHighWater(ctx, kc, lines, o.timeout, agent, broker)
	if err != nil {
		r.Err = err
		return r
	}
	atDone, u, err := usageAfter(ctx, agent, o.cond.tail)
	if err != nil {
		r.Err = err
		return r
	}
	bu, _ := broker.Usage()
	<-prof
	e.profileAllocs(ctx, name, httpAddr)
	// Anything sent twice would show up now.
	_ = backoff.Sleep(ctx, 1500*time.Millisecond)
	r.Got, err = highWater(kc)
	if err != nil {
		r.Err = err
		return r
	}
	r.Wall = done.Sub(start)
	r.Rate = float64(lines) / r.Wall.Seconds()
	r.MBps = mb(size) / r.Wall.Seconds()
	r.CPUPerGB = u.CPUSeconds / (float64(size) / gb)
	r.PeakRSS = u.PeakRSS
	r.Extra = fmt.Sprintf("%.0f B/line, agent CPU %.2f s from its start (%.0f %% of a core), broker CPU %.2f s",
		float64(size)/float64(lines), u.CPUSeconds, 100*u.CPUSeconds/r.Wall.Seconds(), bu.CPUSeconds)
	if err := verifySample(ctx, kc, ch, 2000); err != nil {
		r.Err = err
		return r
	}
	if o.cond.tail > 0 {
		r.Extra += fmt.Sprintf("; agent CPU counted until %v after the last record (%.2f s when it arrived)", o.cond.tail, atDone.CPUSeconds)
	}
	r.Met = r.Got == lines && r.Rate >= minRate && r.CPUPerGB <= 20 && r.PeakRSS <= 64<<20
	return r
}

// agentMany: files appended at rate lines/s each for duration; CPU % of one
// core and RSS of the agent while they are followed.
func agentMany(ctx context.Context, o *options, files, rate int, duration time.Duration) result {
	r := result{Scenario: fmt.Sprintf("agent %d files × %d lines/s, %v%s", files, rate, duration, o.cond.label()),
		Target: "≤5 % of a core, ≤64 MB"}
	e, err := newEnv(o, "agent-many")
	if err != nil {
		r.Err = err
		return r
	}
	defer e.close()
	fs := make([]*os.File, files)
	for i := range fs {
		f, err := os.OpenFile(e.path("files", fmt.Sprintf("app-%04d.log", i)), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			r.Err = err
			return r
		}
		defer f.Close()
		fs[i] = f
	}
	ep, err := e.startEtcdES(ctx, false)
	if err != nil {
		r.Err = err
		return r
	}
	broker, kc, agent, httpAddr, err := e.startAgentPipeline(ctx, agentConfig{etcd: ep.Etcd}, e.path("files", "*.log"))
	if err != nil {
		r.Err = err
		return r
	}
	defer kc.Close()
	var written, bytes int64
	var line []byte
	appendAll := func() error {
		for _, f := range fs {
			line = append(appendLine(line[:0], written), '\n')
			if _, err := f.Write(line); err != nil {
				return err
			}
			written++
			bytes += int64(len(line))
		}
		return nil
	}
	if o.cond.seedFiles {
		// The outside run's way: one line in every file, and the agent
		// has found them all once those lines are in the topic.
		if err := appendAll(); err != nil {
			r.Err = err
			return r
		}
		if _, _, err := waitHighWater(ctx, kc, written, 60*time.Second, agent, broker); err != nil {
			r.Err = err
			return r
		}
		written, bytes = 0, 0
	} else {
		// Let it find and open every file before measuring.
		if err := waitMetric(ctx, httpAddr, "logagent_files_open", float64(files), 60*time.Second, agent); err != nil {
			r.Err = err
			return r
		}
		_ = backoff.Sleep(ctx, 2*time.Second)
	}
	seeded := int64(0)
	if o.cond.seedFiles {
		seeded = int64(files)
	}
	u0, err := agent.Usage()
	if err != nil {
		r.Err = err
		return r
	}
	t0 := time.Now()
	prof := e.profileCPU(ctx, "agent-many", httpAddr, o.profileSeconds)
	tick := time.NewTicker(time.Second / time.Duration(rate))
	for time.Since(t0) < duration {
		select {
		case <-ctx.Done():
			tick.Stop()
			r.Err = ctx.Err()
			return r
		case <-tick.C:
		}
		if err := appendAll(); err != nil {
			tick.Stop()
			r.Err = err
			return r
		}
	}
	tick.Stop()
	_, u1, err := usageAfter(ctx, agent, o.cond.tail)
	if err != nil {
		r.Err = err
		return r
	}
	wall := time.Since(t0) // includes the tail: the CPU share is over the whole window
	<-prof
	e.profileAllocs(ctx, "agent-many", httpAddr)
	r.Want = written
	_, r.Got, err = waitHighWater(ctx, kc, seeded+written, o.timeout, agent, broker)
	if err != nil {
		r.Err = err
		return r
	}
	_ = backoff.Sleep(ctx, 1500*time.Millisecond)
	if r.Got, err = highWater(kc); err != nil {
		r.Err = err
		return r
	}
	r.Got -= seeded
	cpuPct := 100 * (u1.CPUSeconds - u0.CPUSeconds) / wall.Seconds()
	r.Wall = wall
	r.Rate = float64(written) / wall.Seconds()
	r.MBps = mb(bytes) / wall.Seconds()
	r.CPUPerGB = (u1.CPUSeconds - u0.CPUSeconds) / (float64(bytes) / gb)
	r.PeakRSS = u1.PeakRSS
	r.Extra = fmt.Sprintf("CPU %.2f %% of a core, RSS %.1f MB", cpuPct, mb(u1.RSS))
	r.Met = r.Got == written && cpuPct <= 5 && r.PeakRSS <= 64<<20
	return r
}

// waitMetric polls a service's /metrics until name reaches want.
func waitMetric(ctx context.Context, httpAddr, name string, want float64, timeout time.Duration, watch ...*proc.Process) error {
	deadline := time.Now().Add(timeout)
	var got float64
	for time.Now().Before(deadline) {
		if s, err := scrape(ctx, httpAddr); err == nil {
			if got = s[name]; got >= want {
				return nil
			}
		}
		if err := alive(watch...); err != nil {
			return err
		}
		if err := backoff.Sleep(ctx, 200*time.Millisecond); err != nil {
			return err
		}
	}
	return fmt.Errorf("%s is %v, want %v, after %v", name, got, want, timeout)
}

// preload produces n agent-shaped records straight into the topic (4
// partitions round robin) and returns their total value bytes.
func preload(ctx context.Context, kafka string, n int64) (int64, error) {
	cfg := sarama.NewConfig()
	cfg.Producer.RequiredAcks = sarama.WaitForLocal
	cfg.Producer.Return.Successes = false
	cfg.Producer.Return.Errors = true
	cfg.Producer.Flush.Bytes = 1 << 20
	cfg.Producer.Flush.Frequency = 10 * time.Millisecond
	cfg.Producer.Partitioner = sarama.NewRoundRobinPartitioner
	cfg.ChannelBufferSize = 4096
	p, err := sarama.NewAsyncProducer([]string{kafka}, cfg)
	if err != nil {
		return 0, fmt.Errorf("preload producer: %w", err)
	}
	var errs []error
	var mu sync.Mutex
	var wg sync.WaitGroup
	wg.Go(func() {
		for pe := range p.Errors() {
			mu.Lock()
			errs = append(errs, pe.Err)
			mu.Unlock()
		}
	})
	var total, offset int64
	var line []byte
	key := sarama.StringEncoder("bench-file")
	for seq := range n {
		if ctx.Err() != nil {
			break
		}
		line = appendLine(line[:0], seq)
		v := agentRecord(nil, seq, offset, line)
		offset += int64(len(line)) + 1
		total += int64(len(v))
		p.Input() <- &sarama.ProducerMessage{Topic: topic, Key: key, Value: sarama.ByteEncoder(v)}
	}
	p.AsyncClose()
	wg.Wait()
	if len(errs) > 0 {
		return 0, fmt.Errorf("preload: %d produce errors, first: %w", len(errs), errs[0])
	}
	return total, ctx.Err()
}

// transfer: n records preloaded, then the transfer indexes them into the
// emulator (blackhole or indexing). Docs/s over the window from the first
// document the emulator saw to the last; CPU over the whole process life.
func transfer(ctx context.Context, o *options, n int64, mode string) result {
	blackhole := mode == "blackhole"
	r := result{Scenario: fmt.Sprintf("transfer Kafka→ES (%s)", mode), Want: n}
	if blackhole {
		r.Target = "≥175k docs/s, ≤25 CPU-s/GB, ≤150 MB"
	} else {
		r.Target = "(no target)"
	}
	e, err := newEnv(o, "transfer-"+mode)
	if err != nil {
		r.Err = err
		return r
	}
	defer e.close()
	ep, err := e.startEtcdES(ctx, blackhole)
	if err != nil {
		r.Err = err
		return r
	}
	emu := e.procs[len(e.procs)-1]
	broker, kafka, err := e.startBroker(ctx, 0, "", topicSpec)
	if err != nil {
		r.Err = err
		return r
	}
	size, err := preload(ctx, kafka, n)
	if err != nil {
		r.Err = err
		return r
	}
	kc, err := kafkaClient(ctx, kafka)
	if err != nil {
		r.Err = err
		return r
	}
	defer kc.Close()
	if _, _, err := waitHighWater(ctx, kc, n, time.Minute, broker); err != nil {
		r.Err = fmt.Errorf("preload: %w", err)
		return r
	}
	counter := "indexed"
	if blackhole {
		counter = "blackholed"
	}
	emu0, _ := emu.Usage()
	broker0, _ := broker.Usage()
	x, httpAddr, err := e.startTransfer(kafka, ep.Elasticsearch)
	if err != nil {
		r.Err = err
		return r
	}
	start := time.Now()
	var first, done time.Time
	var firstCount int64
	deadline := start.Add(o.timeout)
	var prof <-chan struct{}
	for {
		s, err := esStats(ctx, ep.Elasticsearch)
		if err == nil {
			c := s[counter]
			if c > 0 && first.IsZero() {
				first, firstCount = time.Now(), c
				prof = e.profileCPU(ctx, "transfer-"+mode, httpAddr, o.profileSeconds)
			}
			if c >= n {
				done = time.Now()
				break
			}
		}
		if err := alive(x, broker); err != nil {
			r.Err = err
			return r
		}
		if time.Now().After(deadline) {
			r.Err = fmt.Errorf("emulator saw %d of %d documents after %v", s[counter], n, o.timeout)
			return r
		}
		if err := backoff.Sleep(ctx, 20*time.Millisecond); err != nil {
			r.Err = err
			return r
		}
	}
	u, err := x.Usage()
	if err != nil {
		r.Err = err
		return r
	}
	emu1, _ := emu.Usage()
	broker1, _ := broker.Usage()
	if prof != nil {
		<-prof
	}
	e.profileAllocs(ctx, "transfer-"+mode, httpAddr)
	_ = backoff.Sleep(ctx, 1500*time.Millisecond)
	s, err := esStats(ctx, ep.Elasticsearch)
	if err != nil {
		r.Err = err
		return r
	}
	r.Got = s[counter]
	ops := r.Got
	if !blackhole {
		// The counter counts index operations: a bulk retried after a
		// timeout indexes its documents again under the same _id
		// (overwrites). What users search is the documents, counted once
		// the emulator's refresh caught up (or a minute passed).
		_ = waitCount(ctx, ep.Elasticsearch, n, time.Minute)
		if r.Got, err = count(ctx, ep.Elasticsearch); err != nil {
			r.Err = err
			return r
		}
	}
	// The window starts at the first poll that saw documents; those already
	// counted then are left out of the rate.
	window := done.Sub(first)
	r.Wall = done.Sub(start)
	r.Rate = float64(n-firstCount) / window.Seconds()
	r.MBps = mb(size) * float64(n-firstCount) / float64(n) / window.Seconds()
	r.CPUPerGB = u.CPUSeconds / (float64(size) / gb)
	r.PeakRSS = u.PeakRSS
	r.Extra = fmt.Sprintf("%.0f B/record, from start %.1f s (%.0f docs/s incl. group join); CPU s: transfer %.2f, emulator %.2f, broker %.2f",
		float64(size)/float64(n), r.Wall.Seconds(), float64(n)/r.Wall.Seconds(), u.CPUSeconds,
		emu1.CPUSeconds-emu0.CPUSeconds, broker1.CPUSeconds-broker0.CPUSeconds)
	if ops > r.Got && !blackhole {
		r.Extra += fmt.Sprintf("; %d index operations: %d documents indexed again under their _id (a bulk retried)", ops, ops-r.Got)
	}
	if blackhole {
		r.Met = r.Got == n && r.Rate >= 175_000 && r.CPUPerGB <= 25 && r.PeakRSS <= 150<<20
	} else {
		r.Met = r.Got == n
	}
	return r
}

// e2e: rate lines/s for duration into one file through agent, broker,
// transfer and the indexing emulator; write → searchable latency of a
// sample of lines (by their "s<seq>" token), and every line searchable.
//
// lean installs an index template above the transfer's that indexes only
// message (what the probes search) and keeps the rest in _source: the
// emulator (bleve) spends 100-300 CPU-µs indexing a full agent record, more
// than the two cores can give at 20,000 records/s beside the pipeline. The
// pipeline under test is the same either way.
func e2e(ctx context.Context, o *options, rate int, duration time.Duration, lean bool) result {
	mapping := "every field indexed"
	if lean {
		mapping = "only message indexed"
	}
	r := result{Scenario: fmt.Sprintf("end to end %d lines/s, %v, %s", rate, duration, mapping), Target: "p99 ≤ 2 s, nothing missing"}
	e, err := newEnv(o, "e2e")
	if err != nil {
		r.Err = err
		return r
	}
	defer e.close()
	file := e.path("files", "access.log")
	f, err := os.OpenFile(file, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		r.Err = err
		return r
	}
	defer f.Close()
	ep, err := e.startEtcdES(ctx, false)
	if err != nil {
		r.Err = err
		return r
	}
	broker, kafka, err := e.startBroker(ctx, 0, "", topicSpec)
	if err != nil {
		r.Err = err
		return r
	}
	if lean {
		if err := putJSON(ctx, ep.Elasticsearch+"/_index_template/bench-lean", leanTemplate); err != nil {
			r.Err = fmt.Errorf("lean index template: %w", err)
			return r
		}
	}
	x, _, err := e.startTransfer(kafka, ep.Elasticsearch)
	if err != nil {
		r.Err = err
		return r
	}
	agent, _, err := e.startAgent(ctx, agentConfig{kafka: kafka, etcd: ep.Etcd}, file)
	if err != nil {
		r.Err = err
		return r
	}
	// Warm-up: one line through the whole pipeline, so start-up (group
	// join, template) is not counted as latency.
	if _, err := f.Write(append(appendLine(nil, -1), '\n')); err != nil {
		r.Err = err
		return r
	}
	if err := waitCount(ctx, ep.Elasticsearch, 1, 60*time.Second, agent, x, broker); err != nil {
		r.Err = fmt.Errorf("warm-up: %w", err)
		return r
	}

	// Writer: every 10 ms a batch; one line in every 20 batches (5/s) is a
	// probe whose write time is recorded.
	type probe struct {
		seq     int64
		written time.Time
	}
	var mu sync.Mutex
	var pending []probe
	var latencies []time.Duration
	stopPoll := make(chan struct{})
	var pollWG sync.WaitGroup
	pollWG.Go(func() {
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		for {
			select {
			case <-stopPoll:
				return
			case <-t.C:
			}
			mu.Lock()
			batch := slices.Clone(pending)
			mu.Unlock()
			if len(batch) == 0 {
				continue
			}
			if len(batch) > 200 {
				batch = batch[:200]
			}
			found, err := searchProbes(ctx, ep.Elasticsearch, batch, func(p probe) int64 { return p.seq })
			if err != nil {
				continue
			}
			now := time.Now()
			mu.Lock()
			pending = slices.DeleteFunc(pending, func(p probe) bool {
				if found[p.seq] {
					latencies = append(latencies, now.Sub(p.written))
					return true
				}
				return false
			})
			mu.Unlock()
		}
	})
	var written int64
	var buf []byte
	t0 := time.Now()
	tick := time.NewTicker(10 * time.Millisecond)
	batches := 0
	for time.Since(t0) < duration && ctx.Err() == nil {
		<-tick.C
		due := int64(time.Since(t0).Seconds() * float64(rate))
		if due <= written {
			continue
		}
		buf = buf[:0]
		first := written
		for ; written < due; written++ {
			buf = append(appendLine(buf, written), '\n')
		}
		if _, err := f.Write(buf); err != nil {
			r.Err = err
			break
		}
		batches++
		if batches%20 == 0 {
			mu.Lock()
			pending = append(pending, probe{seq: first, written: time.Now()})
			mu.Unlock()
		}
	}
	tick.Stop()
	wall := time.Since(t0)
	r.Want = written
	if r.Err == nil {
		// +1: the warm-up line.
		r.Err = waitCount(ctx, ep.Elasticsearch, written+1, o.timeout, agent, x, broker)
	}
	// The last probes need a moment to be seen by the poller.
	for range 50 {
		mu.Lock()
		n := len(pending)
		mu.Unlock()
		if n == 0 {
			break
		}
		_ = backoff.Sleep(ctx, 100*time.Millisecond)
	}
	close(stopPoll)
	pollWG.Wait()
	if c, err := count(ctx, ep.Elasticsearch); err == nil {
		r.Got = c - 1
	}
	au, _ := agent.Usage()
	xu, _ := x.Usage()
	mu.Lock()
	defer mu.Unlock()
	slices.Sort(latencies)
	pct := func(q float64) time.Duration {
		if len(latencies) == 0 {
			return 0
		}
		return latencies[min(len(latencies)-1, int(q*float64(len(latencies))))]
	}
	r.Wall = wall
	r.Rate = float64(written) / wall.Seconds()
	r.PeakRSS = max(au.PeakRSS, xu.PeakRSS)
	r.Extra = fmt.Sprintf("latency p50 %.2f s, p99 %.2f s, max %.2f s (%d probes, %d unseen); agent %.1f MB, transfer %.1f MB peak",
		pct(0.5).Seconds(), pct(0.99).Seconds(), pct(1).Seconds(), len(latencies), len(pending), mb(au.PeakRSS), mb(xu.PeakRSS))
	r.Met = r.Err == nil && r.Got == written && len(pending) == 0 && len(latencies) > 0 && pct(0.99) <= 2*time.Second
	return r
}

// leanTemplate outranks the transfer's data template (priority 100), not
// its dead-letter template (200): message is analysed text as in the
// transfer's mapping; nothing else is indexed.
const leanTemplate = `{"index_patterns":["logcollect-*"],"priority":150,"template":{"mappings":{"dynamic":false,"properties":{"message":{"type":"text"}}}}}`

// searchProbes asks which of the probes' "s<seq>" tokens are searchable.
func searchProbes[P any](ctx context.Context, es string, ps []P, seq func(P) int64) (map[int64]bool, error) {
	var terms []string
	for _, p := range ps {
		terms = append(terms, fmt.Sprintf("s%d", seq(p)))
	}
	q := "message:(" + strings.Join(terms, " OR ") + ")"
	var res struct {
		Hits struct {
			Hits []struct {
				Source struct {
					Message string `json:"message"`
				} `json:"_source"`
			} `json:"hits"`
		} `json:"hits"`
	}
	u := fmt.Sprintf("%s/logcollect-*/_search?size=%d&q=%s", es, len(ps), url.QueryEscape(q))
	if err := testkit.GetJSON(ctx, u, &res); err != nil {
		return nil, err
	}
	found := map[int64]bool{}
	for _, h := range res.Hits.Hits {
		m := h.Source.Message
		i := strings.Index(m, "?id=s")
		if i < 0 {
			continue
		}
		var s int64
		if _, err := fmt.Sscanf(m[i+5:], "%d", &s); err == nil {
			found[s] = true
		}
	}
	return found, nil
}

// putJSON PUTs body to url and fails on any status but 200.
func putJSON(ctx context.Context, url, body string) error {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPut, url, strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
		return fmt.Errorf("PUT %s: %s %s", url, resp.Status, b)
	}
	return nil
}

func count(ctx context.Context, es string) (int64, error) {
	var c struct {
		Count int64 `json:"count"`
	}
	err := testkit.GetJSON(ctx, es+"/logcollect-*/_count", &c)
	return c.Count, err
}

func waitCount(ctx context.Context, es string, want int64, timeout time.Duration, watch ...*proc.Process) error {
	deadline := time.Now().Add(timeout)
	var got int64
	for time.Now().Before(deadline) {
		if c, err := count(ctx, es); err == nil {
			if got = c; got >= want {
				return nil
			}
		}
		if err := alive(watch...); err != nil {
			return err
		}
		if err := backoff.Sleep(ctx, 250*time.Millisecond); err != nil {
			return err
		}
	}
	return fmt.Errorf("%d of %d documents searchable after %v", got, want, timeout)
}

// burst: the broker is stopped, mb MiB are written, the agent's RSS is
// watched while it cannot deliver, then the broker is started again on the
// same port and data directory and every line must arrive. lineBytes > 0
// pads every line to that size.
func burst(ctx context.Context, o *options, mib, lineBytes int) result {
	const chanMax = 10000
	// The agent's max_inflight_bytes with its default memory_limit (48MiB).
	const inflightBytes = 12 << 20
	maxLine := max(1024, lineBytes)
	r := result{Scenario: fmt.Sprintf("burst %d MiB, broker down", mib)}
	if lineBytes > 0 {
		r.Scenario = fmt.Sprintf("burst %d MiB of %d-byte lines, broker down", mib, lineBytes)
	}
	e, err := newEnv(o, "burst")
	if err != nil {
		r.Err = err
		return r
	}
	defer e.close()
	ep, err := e.startEtcdES(ctx, false)
	if err != nil {
		r.Err = err
		return r
	}
	kdir := e.path("data", "kafka")
	// The broker is restarted on its port while the agent retries it.
	port, err := testkit.RestartablePort()
	if err != nil {
		r.Err = err
		return r
	}
	broker, kafka, err := e.startBroker(ctx, port, kdir, topicSpec)
	if err != nil {
		r.Err = err
		return r
	}
	file := e.path("files", "access.log")
	if err := os.WriteFile(file, nil, 0o644); err != nil {
		r.Err = err
		return r
	}
	agent, httpAddr, err := e.startAgent(ctx, agentConfig{kafka: kafka, etcd: ep.Etcd, chanMaxSize: chanMax, maxLineBytes: maxLine}, file)
	if err != nil {
		r.Err = err
		return r
	}
	if err := waitMetric(ctx, httpAddr, "logagent_files_open", 1, 60*time.Second, agent); err != nil {
		r.Err = err
		return r
	}
	_ = backoff.Sleep(ctx, time.Second)
	idle, err := agent.Usage()
	if err != nil {
		r.Err = err
		return r
	}
	// The stated bound: what the agent holds at rest, plus chan_max_size
	// records of at most max_line_bytes (ASCII) plus 1 KiB of envelope and
	// per-record structures, twice over for the Go collector's headroom
	// (GOGC=100).
	bound := idle.RSS + int64(2*chanMax*(maxLine+1024))
	r.Target = fmt.Sprintf("peak RSS ≤ %.0f MB (idle %.0f MB + 2×%d×(%d+1024) B), nothing missing", mb(bound), mb(idle.RSS), chanMax, maxLine)
	if lineBytes > 0 {
		// Long lines: max_inflight_bytes binds before chan_max_size, once
		// for the records and once for the batches the producer encodes
		// from them; the harvester also encodes a batch (up to 64 records
		// or 256 KiB and one more line: harvester.sendBatchBytes) and
		// copies it out before handing it over.
		batch := min(64*(maxLine+1024), 256<<10+maxLine+1024)
		held := int64(2*min(chanMax*(maxLine+1024), inflightBytes) + 2*batch)
		bound = idle.RSS + 2*held
		r.Target = fmt.Sprintf("peak RSS ≤ %.0f MB (idle %.0f MB + 2×(2×max_inflight_bytes %d + 2×batch %d) B), nothing missing",
			mb(bound), mb(idle.RSS), inflightBytes, batch)
	}

	if err := broker.Stop(20 * time.Second); err != nil && !strings.Contains(err.Error(), "signal") {
		r.Err = fmt.Errorf("stop broker: %w", err)
		return r
	}
	ff, err := os.OpenFile(file, os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		r.Err = err
		return r
	}
	w := bufio.NewWriterSize(ff, 1<<20)
	var lines, size int64
	var line []byte
	for size < int64(mib)<<20 {
		line = appendLine(line[:0], lines)
		if len(line) < lineBytes {
			line = append(line, ' ')
			for len(line) < lineBytes {
				line = append(line, 'x')
			}
		}
		line = append(line, '\n')
		w.Write(line)
		lines++
		size += int64(len(line))
	}
	if err := w.Flush(); err != nil {
		ff.Close()
		r.Err = err
		return r
	}
	ff.Close()
	r.Want = lines
	// Broker down: the agent fills chan_max_size and must stop reading.
	var peakDown int64
	for range 50 {
		if u, err := agent.Usage(); err == nil {
			peakDown = max(peakDown, u.RSS)
		}
		_ = backoff.Sleep(ctx, 100*time.Millisecond)
	}
	t0 := time.Now()
	broker, _, err = e.startBroker(ctx, port, kdir, topicSpec)
	if err != nil {
		r.Err = fmt.Errorf("restart broker: %w", err)
		return r
	}
	kc, err := kafkaClient(ctx, kafka)
	if err != nil {
		r.Err = err
		return r
	}
	defer kc.Close()
	done, _, err := waitHighWater(ctx, kc, lines, o.timeout, agent, broker)
	if err != nil {
		r.Err = err
		return r
	}
	u, err := agent.Usage()
	if err != nil {
		r.Err = err
		return r
	}
	_ = backoff.Sleep(ctx, 1500*time.Millisecond)
	if r.Got, err = highWater(kc); err != nil {
		r.Err = err
		return r
	}
	r.Wall = done.Sub(t0)
	r.Rate = float64(lines) / r.Wall.Seconds()
	r.MBps = mb(size) / r.Wall.Seconds()
	r.PeakRSS = u.PeakRSS
	r.Extra = fmt.Sprintf("RSS while down ≤ %.1f MB; catch-up after restart %.1f s", mb(peakDown), r.Wall.Seconds())
	r.Met = r.Got >= lines && r.PeakRSS <= bound
	if r.Got > lines {
		r.Extra += fmt.Sprintf("; %d records resent (at-least-once)", r.Got-lines)
	}
	return r
}

func scrape(ctx context.Context, httpAddr string) (testkit.Samples, error) {
	return testkit.Scrape(ctx, "http://"+httpAddr+"/metrics")
}

// startAgentPipeline starts what the agent benchmarks measure against,
// beside the caller's etcd (c.etcd): the broker alone (so its CPU is its
// own), a Kafka client to count records, and the agent collecting glob
// from the beginning as c says. The caller closes the client; env stops
// the processes.
func (e *env) startAgentPipeline(ctx context.Context, c agentConfig, glob string) (broker *proc.Process, kc sarama.Client, agent *proc.Process, httpAddr string, err error) {
	broker, c.kafka, err = e.startBroker(ctx, 0, "", topicSpec)
	if err != nil {
		return nil, nil, nil, "", err
	}
	if kc, err = kafkaClient(ctx, c.kafka); err != nil {
		return nil, nil, nil, "", err
	}
	agent, httpAddr, err = e.startAgent(ctx, c, glob)
	if err != nil {
		kc.Close()
		return nil, nil, nil, "", err
	}
	return broker, kc, agent, httpAddr, nil
}
