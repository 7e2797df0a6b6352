// Command fleetsim runs many simulated agents in one process for `bench
// fleet` (devkit/cmd/bench): each runs the agent's own config source
// (configsource.Watcher: its host key, its group's config and rollout,
// merged and judged by collect.Policy.Load as the agent does) and keeps a
// status document (pkg/fleet.Status) under its own lease, kept alive and
// written when what it runs changes — what a real agent puts on etcd,
// without tailing files. Agents share etcd clients in pools, as many hosts
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
	"github.com/logcollect/logcollect/pkg/fleet"
	"github.com/logcollect/logcollect/pkg/program"
)

func main() { program.Main("fleetsim", Run) }

type options struct {
	endpoints      []string
	agents, pool   int
	group, listen  string
	ttl            time.Duration
	collectPattern string
	statusPattern  string
	startParallel  int
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
	fs.StringVar(&o.collectPattern, "collect-key", "/logagent/%s/collect_config", "[etcd] collect_log_key")
	fs.StringVar(&o.statusPattern, "status-key", "/logagent/%s/status", "[etcd] status_key")
	fs.IntVar(&o.startParallel, "start-parallel", 200, "agents starting at once")
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

// simAgent is one simulated agent.
type simAgent struct {
	s          *sim
	cli        *clientv3.Client
	ip, hostID string
	started    time.Time
	lease      clientv3.LeaseID
	state      fleet.GroupState
	seen       bool
}

// run grants the lease, starts the config source and publishes on every
// change; the first publication frees a start slot.
func (a *simAgent) run(ctx context.Context, sem chan struct{}) {
	o := a.s.o
	a.started = time.Now().UTC()
	released := false
	release := func() {
		if !released {
			released = true
			<-sem
		}
	}
	defer release()
	lease, err := a.cli.Grant(ctx, int64(o.ttl/time.Second))
	if err != nil {
		a.s.log.Error("grant", "err", err)
		return
	}
	a.lease = lease.ID
	ka, err := a.cli.KeepAlive(ctx, lease.ID)
	if err != nil {
		a.s.log.Error("keepalive", "err", err)
		return
	}
	go func() {
		for range ka { // the client renews at TTL/3; drain its answers
		}
	}()
	updates := make(chan configsource.Desired, 1)
	w, err := configsource.New(configsource.Options{Client: a.cli, HostKey: fmt.Sprintf(o.collectPattern, a.ip),
		Keys: fleet.Keys{CollectPattern: o.collectPattern}, Groups: []string{o.group}, HostID: a.hostID,
		Policy: collect.Policy{AllowJournal: true}, Log: a.s.log,
		Apply: func(d configsource.Desired) {
			select { // keep only the latest, as the agent's reconcile would
			case <-updates:
			default:
			}
			updates <- d
		}})
	if err != nil {
		a.s.log.Error("configsource", "err", err)
		return
	}
	go w.Run(ctx)
	for {
		select {
		case <-ctx.Done():
			return
		case d := <-updates:
			a.apply(ctx, d)
			release()
		}
	}
}

// apply records when the agent first ran a group version and publishes
// its status when that changed.
func (a *simAgent) apply(ctx context.Context, d configsource.Desired) {
	now := time.Now()
	var st fleet.GroupState
	for _, g := range d.Groups {
		if g.Group == a.s.o.group {
			st = g
		}
	}
	if a.seen && st == a.state {
		return
	}
	first := !a.seen
	a.seen, a.state = true, st
	key := fmt.Sprintf("r%d", st.Revision)
	if st.Hash != "" {
		key = "c" + st.Hash
	}
	a.s.mu.Lock()
	a.s.applied[key] = append(a.s.applied[key], now.UnixNano())
	a.s.mu.Unlock()
	doc := fleet.Status{Version: "sim", Hostname: "sim-" + a.ip, IP: a.ip, HostID: a.hostID, PID: os.Getpid(),
		StartedAt: a.started, UpdatedAt: now.UTC(),
		Config: fleet.ConfigStatus{State: fleet.ConfigApplied, Source: "etcd", Entries: len(d.Entries), AppliedAt: now.UTC()},
		Groups: d.Groups, Sources: d.Sources,
		Health: fleet.Health{FilesMatched: len(d.Entries), FilesMatchedBefore: -1},
		Files:  []fleet.FileStatus{},
	}
	if len(d.Rejected) > 0 {
		doc.Config.State, doc.Config.Rejected = fleet.ConfigRejected, &d.Rejected[0]
	}
	data, _ := json.Marshal(doc)
	pctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if _, err := a.cli.Put(pctx, fmt.Sprintf(a.s.o.statusPattern, a.ip), string(data), clientv3.WithLease(a.lease)); err != nil {
		a.s.log.Error("status", "err", err)
		return
	}
	if first {
		a.s.ready.Add(1)
	}
}
