// Command fleetsim runs many simulated agents in one process for `bench
// fleet` (devkit/cmd/bench): each runs the agent's own config source
// (configsource.Watcher: its host key, its group's config and rollout,
// merged and judged by collect.Policy.Load as the agent does) and the
// agent's own status publisher (statuspub: a document under a lease kept
// alive, written when it changes) — what a real agent puts on etcd,
// without tailing files (no files: lag and positions never move). Agents share etcd clients in pools, as many hosts
// behind one network path would share nothing but etcd itself.
//
// It serves, on -listen, GET /ready (agents that published their status)
// and GET /applied?key=rREV or ?key=cHASH (the Unix nanosecond times at
// which agents first ran that group config revision or candidate), which
// the bench turns into latencies. It is a development tool: `make build`
// puts it in bin/ beside the binaries that ship.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"
	"go.uber.org/zap"

	"github.com/logcollect/logcollect/logagent/internal/collect"
	"github.com/logcollect/logcollect/logagent/internal/configsource"
	"github.com/logcollect/logcollect/logagent/internal/statuspub"
	"github.com/logcollect/logcollect/pkg/fleet"
	"github.com/logcollect/logcollect/pkg/program"
)

func main() { program.Main("fleetsim", Run) }

type options struct {
	endpoints      []string
	agents, pool   int
	group, listen  string
	ttl, interval  time.Duration
	refresh        time.Duration
	collectPattern string
	statusPattern  string
	startParallel  int
	startWait      time.Duration
}

// Run parses the flags and runs the agents until ctx is done.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("fleetsim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	eps := fs.String("endpoints", "127.0.0.1:2379", "etcd endpoints, separated by commas")
	fs.IntVar(&o.agents, "agents", 1000, "simulated agents")
	fs.IntVar(&o.pool, "per-client", 100, "agents sharing one etcd client")
	fs.StringVar(&o.group, "group", "web", "the group every agent is in")
	fs.StringVar(&o.listen, "listen", "127.0.0.1:0", "HTTP address of /ready and /applied; the chosen one is printed")
	fs.DurationVar(&o.ttl, "ttl", 15*time.Second, "status lease TTL ([etcd] status_ttl)")
	fs.DurationVar(&o.interval, "interval", 5*time.Second, "[etcd] status_interval")
	fs.DurationVar(&o.refresh, "refresh", 2*time.Minute, "[etcd] status_refresh")
	fs.StringVar(&o.collectPattern, "collect-key", "/logagent/%s/collect_config", "[etcd] collect_log_key")
	fs.StringVar(&o.statusPattern, "status-key", "/logagent/%s/status", "[etcd] status_key")
	fs.IntVar(&o.startParallel, "start-parallel", 200, "agents starting at once")
	fs.DurationVar(&o.startWait, "start-wait", 20*time.Second, "how long a starting agent holds its slot at most")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return program.Usage(err)
	}
	o.endpoints = strings.Split(*eps, ",")
	if o.agents < 1 || o.pool < 1 || o.startParallel < 1 {
		return program.Usagef("-agents, -per-client and -start-parallel must be at least 1")
	}
	if err := fleet.CheckGroup(o.group); err != nil {
		return program.Usage(err)
	}
	ln, err := net.Listen("tcp", o.listen)
	if err != nil {
		return err
	}
	s := &sim{o: o, applied: map[string][]int64{}, log: slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))}
	srv := &http.Server{Handler: s.handler()}
	go srv.Serve(ln)
	defer srv.Close()
	fmt.Fprintf(stdout, "listening on %s\n", ln.Addr())
	return s.run(ctx)
}

type sim struct {
	o     options
	log   *slog.Logger
	ready atomic.Int64

	mu      sync.Mutex
	applied map[string][]int64 // "r<rev>" or "c<hash>" → first-run times
}

func (s *sim) handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /ready", func(w http.ResponseWriter, _ *http.Request) {
		fmt.Fprintf(w, "%d\n", s.ready.Load())
	})
	mux.HandleFunc("GET /applied", func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		times := append([]int64{}, s.applied[r.URL.Query().Get("key")]...)
		s.mu.Unlock()
		json.NewEncoder(w).Encode(times)
	})
	return mux
}

// run starts the agents, -start-parallel at a time, and waits for ctx.
func (s *sim) run(ctx context.Context) error {
	var clients []*clientv3.Client
	defer func() {
		for _, c := range clients {
			c.Close()
		}
	}()
	var wg sync.WaitGroup
	sem := make(chan struct{}, s.o.startParallel)
	for i := range s.o.agents {
		if i%s.o.pool == 0 {
			c, err := clientv3.New(clientv3.Config{Endpoints: s.o.endpoints, DialTimeout: 5 * time.Second, Logger: zap.NewNop(),
				MaxCallSendMsgSize: 4 << 20, MaxCallRecvMsgSize: math.MaxInt32})
			if err != nil {
				return err
			}
			clients = append(clients, c)
		}
		a := &simAgent{s: s, cli: clients[len(clients)-1], ip: fmt.Sprintf("10.%d.%d.%d", i>>16&255, i>>8&255, i&255), hostID: fmt.Sprintf("sim-%06d", i)}
		select {
		case sem <- struct{}{}:
		case <-ctx.Done():
			wg.Wait()
			return nil
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			a.run(ctx, sem)
		}()
	}
	wg.Wait()
	return nil
}

// simAgent is one simulated agent: the agent's config source feeding the
// agent's status publisher, with a status document of what it runs.
type simAgent struct {
	s          *sim
	cli        *clientv3.Client
	ip, hostID string
	kick       chan struct{}

	mu        sync.Mutex
	status    fleet.Status
	state     fleet.GroupState
	seen      bool
	candidate bool
}

// run starts the config source and the publisher; the first status write
// frees a start slot.
func (a *simAgent) run(ctx context.Context, sem chan struct{}) {
	o := a.s.o
	var once sync.Once
	release := func() { once.Do(func() { <-sem }) }
	defer release()
	now := time.Now().UTC()
	a.kick = make(chan struct{}, 1)
	a.status = fleet.Status{Version: "sim", Hostname: "sim-" + a.ip, IP: a.ip, HostID: a.hostID, PID: os.Getpid(),
		StartedAt: now, UpdatedAt: now, Config: fleet.ConfigStatus{State: fleet.ConfigNone}, Files: []fleet.FileStatus{}}
	w, err := configsource.New(configsource.Options{Client: a.cli, HostKey: fmt.Sprintf(o.collectPattern, a.ip),
		Keys: fleet.Keys{CollectPattern: o.collectPattern}, Groups: []string{o.group}, HostID: a.hostID,
		Policy: collect.Policy{AllowJournal: true}, Log: a.s.log, Apply: a.apply})
	if err != nil {
		a.s.log.Error("configsource", "err", err)
		return
	}
	published := false
	p, err := statuspub.New(statuspub.Options{Client: a.cli, Key: fmt.Sprintf(o.statusPattern, a.ip), TTL: o.ttl,
		Interval: o.interval, Refresh: o.refresh, Snapshot: a.snapshot, Fast: a.runsCandidate, Kick: a.kick, Log: a.s.log,
		Written: func() {
			if !published && a.applied() {
				published = true
				a.s.ready.Add(1)
				release()
			}
		}})
	if err != nil {
		a.s.log.Error("statuspub", "err", err)
		return
	}
	// An agent etcd keeps waiting (an overloaded machine) frees its start
	// slot after a while anyway, so the others still start.
	slow := time.AfterFunc(o.startWait, release)
	defer slow.Stop()
	go w.Run(ctx)
	p.Run(ctx)
}

// apply is the config source's callback: it records when the agent first
// ran a version of the group's config and updates the status document.
func (a *simAgent) apply(d configsource.Desired) {
	now := time.Now()
	var st fleet.GroupState
	for _, g := range d.Groups {
		if g.Group == a.s.o.group {
			st = g
		}
	}
	a.mu.Lock()
	changed := !a.seen || st != a.state
	a.seen, a.state = true, st
	a.candidate = st.Hash != "" && st.Rejected == ""
	c := fleet.ConfigStatus{State: fleet.ConfigApplied, Source: "etcd", Revision: d.Host(), Entries: len(d.Entries), AppliedAt: now.UTC()}
	if len(d.Rejected) > 0 {
		c.State, c.Rejected = fleet.ConfigRejected, &d.Rejected[0]
	}
	a.status.Config, a.status.Groups, a.status.Sources = c, d.Groups, d.Sources
	a.status.Health = fleet.Health{FilesMatched: len(d.Entries), FilesMatchedBefore: a.status.Health.FilesMatched}
	a.mu.Unlock()
	if changed {
		key := fmt.Sprintf("r%d", st.Revision)
		if st.Hash != "" {
			key = "c" + st.Hash
		}
		a.s.mu.Lock()
		a.s.applied[key] = append(a.s.applied[key], now.UnixNano())
		a.s.mu.Unlock()
	}
	select { // the publisher compares now
	case a.kick <- struct{}{}:
	default:
	}
}

func (a *simAgent) snapshot() fleet.Status {
	a.mu.Lock()
	defer a.mu.Unlock()
	st := a.status
	st.UpdatedAt = time.Now().UTC()
	return st
}

func (a *simAgent) runsCandidate() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.candidate
}

func (a *simAgent) applied() bool {
	a.mu.Lock()
	defer a.mu.Unlock()
	return a.seen
}
