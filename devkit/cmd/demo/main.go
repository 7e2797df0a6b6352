// Command demo runs the whole pipeline on the embedded dev stack, as real
// processes: devstack (etcd, Kafka broker, Elasticsearch-API emulator),
// logagent and logtransfer. It writes a collect config into etcd, generates
// sample logs (with a rotation), shows live progress, then searches the
// result and prints what to try next. `make demo` runs it.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/logcollect/logcollect/devkit/devstack"
	"github.com/logcollect/logcollect/devkit/proc"
	"github.com/logcollect/logcollect/devkit/testkit"
	"github.com/logcollect/logcollect/pkg/program"
)

func main() { program.Main("demo", Run) }

type options struct {
	dir, bin    string
	duration    time.Duration
	rate        int
	exit        bool
	randomPorts bool
}

// Run is the whole program minus signal handling and exit codes, shaped
// like the services' (pkg/program). The demo writes everything to stdout.
func Run(ctx context.Context, args []string, out, stderr io.Writer) error {
	fs := flag.NewFlagSet("demo", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	fs.StringVar(&o.dir, "dir", ".data/demo", "working directory (wiped at start, so re-running starts fresh)")
	fs.StringVar(&o.bin, "bin", "bin", "directory with the devstack, logagent and logtransfer binaries (make build)")
	fs.DurationVar(&o.duration, "duration", 20*time.Second, "how long to generate sample logs")
	fs.IntVar(&o.rate, "rate", 200, "lines per second per sample file")
	fs.BoolVar(&o.exit, "exit", false, "stop after showing the results instead of waiting for Ctrl-C (for tests)")
	fs.BoolVar(&o.randomPorts, "random-ports", false, "use free ports instead of 2379/9092/9200")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return program.Exit(program.ExitUsage) // the flag package printed it
	}
	dir, err := filepath.Abs(o.dir)
	if err != nil {
		return err
	}
	o.dir = dir
	if err := os.RemoveAll(o.dir); err != nil {
		return fmt.Errorf("clean %s: %w", o.dir, err)
	}
	for _, d := range []string{"conf", "logs", "service-logs", "agent"} {
		if err := os.MkdirAll(filepath.Join(o.dir, d), 0o755); err != nil {
			return err
		}
	}
	// The generator reports its rotation from its own goroutine.
	d := &demo{o: o, out: &lockedWriter{w: out}}
	defer d.stopAll()
	return d.run(ctx)
}

type demo struct {
	o         options
	out       io.Writer
	procs     []*proc.Process // in start order; stopped in reverse
	ep        devstack.Endpoints
	agentHTTP string
	xferHTTP  string
}

func (d *demo) say(format string, args ...any) { fmt.Fprintf(d.out, format+"\n", args...) }

func (d *demo) run(ctx context.Context) error {
	if err := d.startStack(ctx); err != nil {
		return err
	}
	logs := filepath.Join(d.o.dir, "logs")
	gen := &generator{accessLog: filepath.Join(logs, "nginx", "access.log"), appLog: filepath.Join(logs, "app", "orders.log"), rate: d.o.rate, backlog: 50, out: d.out}
	// Create the files first so "start": "beginning" applies to them.
	for _, p := range []string{gen.accessLog, gen.appLog} {
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(p, nil, 0o644); err != nil {
			return err
		}
	}
	// The access log goes through a processors chain (docs/logagent.md):
	// its fields parsed, @timestamp from the line's own time (the read time
	// stays as event.created), passwords and e-mail addresses masked
	// before they leave the host. The JSON log takes its time from "time".
	collect := fmt.Sprintf(`[{"path":%q,"topic":"web_log","start":"beginning","fields":{"service":"nginx"},"processors":[`+
		`{"type":"parse","format":"nginx"},`+
		`{"type":"timestamp","field":"parsed.time","layouts":["nginx"]},`+
		`{"type":"mask","builtins":["secrets","email"]}]},`+
		`{"path":%q,"topic":"app_log","format":"json","start":"beginning","fields":{"service":"orders"},"processors":[`+
		`{"type":"timestamp","field":"json.time","layouts":["rfc3339"]}]}]`,
		gen.accessLog, filepath.Join(logs, "app", "*.log"))
	if err := d.putConfig(ctx, collect); err != nil {
		return err
	}
	if err := d.startServices(); err != nil {
		return err
	}

	d.say("\n== generating sample logs for %v (%d lines/s per file; the access log rotates halfway)", d.o.duration, d.o.rate)
	genCtx, cancelGen := context.WithCancel(ctx)
	defer cancelGen()
	genErr := make(chan error, 1)
	go func() { genErr <- gen.run(genCtx, d.o.duration) }()
	ticker := time.NewTicker(time.Second)
	defer ticker.Stop()
	generating := true
	var waitUntil time.Time
	for {
		select {
		case <-ctx.Done():
			d.say("\ninterrupted; stopping")
			return nil
		case err := <-genErr:
			if err != nil {
				return fmt.Errorf("generate logs: %w", err)
			}
			generating = false
			waitUntil = time.Now().Add(60 * time.Second)
			d.say("== generator done: %d lines written; waiting until all are searchable", gen.written.Load())
		case <-ticker.C:
		}
		indexed := d.progress(ctx, gen.written.Load())
		if !generating && indexed >= gen.written.Load() {
			break
		}
		if !generating && time.Now().After(waitUntil) {
			return fmt.Errorf("only %d of %d lines searchable after 60s; service logs are in %s", indexed, gen.written.Load(), filepath.Join(d.o.dir, "service-logs"))
		}
		if err := d.checkAlive(); err != nil {
			return err
		}
	}
	d.say("\n== all %d lines are searchable", gen.written.Load())
	if err := d.showResults(ctx, collect); err != nil {
		return err
	}
	if err := d.showFleet(ctx); err != nil {
		return err
	}
	agents, err := d.checkConsole(ctx)
	if err != nil {
		return err
	}
	if !d.o.exit {
		d.say("\nThe stack keeps running; Ctrl-C stops everything.")
	}
	d.say("\n== open http://%s/ui/\n   the console: Fleet (%d agents), Rollouts, Delivery (did every line arrive?), Search", d.xferHTTP, agents)
	if d.o.exit {
		return nil
	}
	<-ctx.Done()
	return nil
}

// checkConsole asks the console's fleet endpoint what the demo prints a
// link to: it answers, and sees the agent through etcd.
func (d *demo) checkConsole(ctx context.Context) (int, error) {
	var f struct {
		Enabled bool              `json:"enabled"`
		Agents  []json.RawMessage `json:"agents"`
	}
	for {
		err := testkit.GetJSON(ctx, "http://"+d.xferHTTP+"/ui/api/fleet", &f)
		if err == nil && f.Enabled && len(f.Agents) > 0 {
			return len(f.Agents), nil
		}
		if ctx.Err() != nil {
			return 0, fmt.Errorf("the console at http://%s/ui/ shows no agent (%v)", d.xferHTTP, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func freePort() int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func portFree(p int) bool {
	l, err := net.Listen("tcp", fmt.Sprintf("127.0.0.1:%d", p))
	if err != nil {
		return false
	}
	l.Close()
	return true
}

func (d *demo) start(name string, args ...string) (*proc.Process, error) {
	logPath := filepath.Join(d.o.dir, "service-logs", name+".log")
	f, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	p, err := proc.Start(proc.Spec{Name: name, Path: filepath.Join(d.o.bin, name), Args: args, Log: f})
	if err != nil {
		f.Close()
		return nil, fmt.Errorf("%w (run make build first)", err)
	}
	d.procs = append(d.procs, p)
	return p, nil
}

func (d *demo) startStack(ctx context.Context) error {
	ports := []int{2379, 9092, 9200}
	for i, p := range ports {
		if d.o.randomPorts || !portFree(p) {
			ports[i] = 0
		}
	}
	epFile := filepath.Join(d.o.dir, "endpoints.json")
	d.say("== starting the dev stack (etcd, Kafka broker, Elasticsearch-API emulator)")
	p, err := d.start("devstack", "-etcd-port", fmt.Sprint(ports[0]), "-kafka-port", fmt.Sprint(ports[1]), "-es-port", fmt.Sprint(ports[2]),
		"-data-dir", filepath.Join(d.o.dir, "stack"), "-endpoints-file", epFile, "-topics", "web_log:4,app_log:4")
	if err != nil {
		return err
	}
	deadline := time.Now().Add(60 * time.Second)
	for {
		data, err := os.ReadFile(epFile)
		if err == nil && json.Unmarshal(data, &d.ep) == nil {
			break
		}
		if exited, _ := p.Exited(); exited {
			return fmt.Errorf("devstack exited:\n%s", p.Output())
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return errors.New("devstack did not come up within 60s")
		}
		time.Sleep(100 * time.Millisecond)
	}
	d.say("   etcd %s   kafka %s   elasticsearch %s", d.ep.Etcd, d.ep.Kafka, d.ep.Elasticsearch)
	return nil
}

func (d *demo) putConfig(ctx context.Context, collect string) error {
	cli, err := clientv3.New(clientv3.Config{Endpoints: []string{d.ep.Etcd}, DialTimeout: 5 * time.Second})
	if err != nil {
		return fmt.Errorf("etcd client: %w", err)
	}
	defer cli.Close()
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := cli.Put(ctx, "/logagent/127.0.0.1/collect_config", collect); err != nil {
		return fmt.Errorf("put collect config: %w", err)
	}
	d.say("\n== collect config for this host written to etcd, as an operator would:\n   etcdctl --endpoints %s put /logagent/127.0.0.1/collect_config '%s'", d.ep.Etcd, collect)
	return nil
}

func (d *demo) startServices() error {
	conf := filepath.Join(d.o.dir, "conf")
	d.agentHTTP = fmt.Sprintf("127.0.0.1:%d", freePort())
	d.xferHTTP = fmt.Sprintf("127.0.0.1:%d", freePort())
	agentIni := fmt.Sprintf(`# generated by the demo
[kafka]
brokers = %s
[etcd]
endpoints = %s
[agent]
ip = 127.0.0.1
data_dir = %s
http_listen = %s
allowed_paths = %s/**
`, d.ep.Kafka, d.ep.Etcd, filepath.Join(d.o.dir, "agent"), d.agentHTTP, filepath.Join(d.o.dir, "logs"))
	xferIni := fmt.Sprintf(`# generated by the demo
[kafka]
brokers = %s
topics = web_log, app_log
group_id = logtransfer-demo
initial_offset = oldest
# The dev stack's in-process broker (franz-go kfake) lets a member waiting
# in a rebalance expire by its session timer and never answers it (a
# restarted transfer then hangs ~30 s): keep
# rebalance_timeout + heartbeat_interval < session_timeout (RELIABILITY.md).
session_timeout = 10s
heartbeat_interval = 2s
rebalance_timeout = 7s
[es]
urls = %s
flush_interval = 200ms
[transfer]
# also serves the console under /ui/
http_listen = %s
# below rebalance_timeout
drain_timeout = 5s
[etcd]
# the console's Fleet, Rollouts and Delivery pages read the agents here
endpoints = %s
`, d.ep.Kafka, d.ep.Elasticsearch, d.xferHTTP, d.ep.Etcd)
	for name, text := range map[string]string{"logagent.ini": agentIni, "logtransfer.ini": xferIni} {
		if err := os.WriteFile(filepath.Join(conf, name), []byte(text), 0o644); err != nil {
			return err
		}
	}
	d.say("\n== starting logtransfer (metrics http://%s/metrics) and logagent (metrics http://%s/metrics)", d.xferHTTP, d.agentHTTP)
	if _, err := d.start("logtransfer", "-config", filepath.Join(conf, "logtransfer.ini")); err != nil {
		return err
	}
	_, err := d.start("logagent", "-config", filepath.Join(conf, "logagent.ini"))
	return err
}

func (d *demo) checkAlive() error {
	for _, p := range d.procs {
		if exited, err := p.Exited(); exited {
			return fmt.Errorf("a service exited (%v); its last output:\n%s", err, p.Output())
		}
	}
	return nil
}

// progress prints one line of pipeline counters and returns how many
// documents are searchable.
func (d *demo) progress(ctx context.Context, written int64) int64 {
	a, _ := testkit.Scrape(ctx, "http://"+d.agentHTTP+"/metrics")
	x, _ := testkit.Scrape(ctx, "http://"+d.xferHTTP+"/metrics")
	indexed, _ := d.count(ctx)
	d.say("   written %6d | read %6.0f | acked by Kafka %6.0f | indexed %6.0f | searchable %6d | dead-lettered %.0f",
		written, a["logagent_lines_read_total"], a["logagent_records_acked_total"],
		x["logtransfer_documents_indexed_total"], indexed,
		a["logagent_records_dead_lettered_total"]+x["logtransfer_documents_dead_lettered_total"])
	return indexed
}

func (d *demo) esGet(ctx context.Context, path string, v any) error {
	return testkit.GetJSON(ctx, d.ep.Elasticsearch+path, v)
}

func (d *demo) count(ctx context.Context) (int64, error) {
	var c struct {
		Count int64 `json:"count"`
	}
	err := d.esGet(ctx, "/logcollect-*/_count", &c)
	return c.Count, err
}

func (d *demo) showResults(ctx context.Context, collect string) error {
	var indices []map[string]any
	if err := d.esGet(ctx, "/_cat/indices?format=json", &indices); err != nil {
		return err
	}
	d.say("\n== indices")
	for _, ix := range indices {
		d.say("   %-40v %v docs", ix["index"], ix["docs.count"])
	}
	q := `message:"api/orders" AND fields.service:nginx`
	var res searchResult
	if err := d.esGet(ctx, "/logcollect-*/_search?size=3&sort=@timestamp:desc&q="+url.QueryEscape(q), &res); err != nil {
		return err
	}
	d.say("\n== search %s: %d hits; the newest:", q, res.Hits.Total.Value)
	for _, h := range res.Hits.Hits {
		d.say("   [%s] %v", h.Index, h.Source["message"])
	}
	if err := d.showParsed(ctx); err != nil {
		return err
	}
	newFile := filepath.Join(d.o.dir, "logs", "new.log")
	grown := strings.TrimSuffix(collect, "]") + fmt.Sprintf(`,{"path":%q,"topic":"web_log","start":"beginning"}]`, newFile)
	d.say(`
== try next
   # in the console's Search (below): json.level:error, parsed.status:404, fields.service:orders
   # add a file to the agent's config and watch it get picked up (no restart):
   etcdctl --endpoints %[1]s put /logagent/127.0.0.1/collect_config '%[5]s'
   echo "hello from a new file" >> %[2]s
   # then search message:hello in the console
   # metrics: http://%[3]s/metrics and http://%[4]s/metrics; service logs: %[6]s`, d.ep.Etcd, newFile, d.agentHTTP, d.xferHTTP, grown, filepath.Join(d.o.dir, "service-logs"))
	return nil
}

// searchResult is what the demo prints of a _search answer.
type searchResult struct {
	Hits struct {
		Total struct {
			Value int64 `json:"value"`
		} `json:"total"`
		Hits []struct {
			Index  string         `json:"_index"`
			Source map[string]any `json:"_source"`
		} `json:"hits"`
	} `json:"hits"`
}

// showParsed shows what the access log's processors made of its lines: a
// search on a parsed field, the oldest hit (from yesterday's backlog, in
// yesterday's index by its own time) and the newest, each with @timestamp
// (the line's time) and event.created (when the agent read it), and a
// login line whose password the agent masked.
func (d *demo) showParsed(ctx context.Context) error {
	q := "parsed.status:500"
	var oldest, newest searchResult
	for _, s := range []struct {
		order string
		res   *searchResult
	}{{"asc", &oldest}, {"desc", &newest}} {
		if err := d.esGet(ctx, "/logcollect-web_log-*/_search?size=1&sort=@timestamp:"+s.order+"&q="+url.QueryEscape(q), s.res); err != nil {
			return err
		}
	}
	d.say("\n== search %s (fields the agent parsed from the nginx lines): %d hits; the oldest and the newest:", q, newest.Hits.Total.Value)
	for _, h := range append(oldest.Hits.Hits, newest.Hits.Hits...) {
		p, _ := h.Source["parsed"].(map[string]any)
		event, _ := h.Source["event"].(map[string]any)
		d.say("   [%s] @timestamp %v (the line's own time)   event.created %v (read by the agent)", h.Index, h.Source["@timestamp"], event["created"])
		d.say("      parsed: client_ip=%v method=%v path=%v status=%v bytes=%v", p["client_ip"], p["method"], p["path"], p["status"], p["bytes"])
	}
	q = "message:password"
	var login searchResult
	if err := d.esGet(ctx, "/logcollect-web_log-*/_search?size=1&q="+url.QueryEscape(q), &login); err != nil {
		return err
	}
	d.say("\n== search %s: %d hits; the agent masked the password before the line left the host:", q, login.Hits.Total.Value)
	for _, h := range login.Hits.Hits {
		d.say("   %v", h.Source["message"])
	}
	return nil
}

// stopAll stops the processes from the source toward the sink: the agent
// first, then the transfer, then the stack, so queues drain.
func (d *demo) stopAll() {
	for i := len(d.procs) - 1; i >= 0; i-- {
		p := d.procs[i]
		if err := p.Stop(20 * time.Second); err != nil && !strings.Contains(err.Error(), "signal: terminated") {
			fmt.Fprintf(d.out, "   stop %d: %v\n", p.Pid(), err)
		}
	}
}

// lockedWriter serialises writes from the progress loop and the generator.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}
