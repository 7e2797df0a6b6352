package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"sync"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/logcollect/logcollect/logagent/internal/fleetsim"
	"github.com/logcollect/logcollect/pkg/etcdconf"
	"github.com/logcollect/logcollect/pkg/obs"
	"github.com/logcollect/logcollect/pkg/program"
	"github.com/logcollect/logcollect/pkg/settings"
)

const simulateUsage = `Usage: logagent simulate [-config agent.ini] [-endpoints URLS] -agents N [-first K] [-clients C] [-groups web,prod] [-ramp 10s] [-http ADDR] [-quiet]

For the fleet benchmark (bin/bench fleet), not for production: runs N
simulated agents in this process until it is stopped. Each runs the agent's
own config source (its host key, its groups' configs and rollouts) and
status publisher with host id sim-NNNNNN and an IP in 10/8 (agent i:
10.(i>>16).(i>>8&255).(i&255)), but tails nothing; its status counts one
matched file per entry. The agents share C etcd clients. Settings ([etcd]
endpoints, TLS, credentials, keys, status_ttl/interval/refresh, [agent]
allowed_paths) come from -config like the agent's; -groups replaces [agent]
groups.

Every desired config an agent applies is printed on standard output as one
JSON line: {"host_id","ip","at","host_revision","groups":[GroupState...]}.
`

// runSimulate is "logagent simulate".
func runSimulate(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("logagent simulate", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "", "agent ini for [etcd] and [agent] settings (default: defaults and LOGAGENT_* variables)")
	endpoints := fs.String("endpoints", "", "etcd endpoints (overrides the ini)")
	agents := fs.Int("agents", 0, "simulated agents (required)")
	first := fs.Int("first", 0, "index of the first agent (to split a fleet over processes)")
	clients := fs.Int("clients", 0, "etcd clients shared by the agents (default: one per 500 agents)")
	groups := fs.String("groups", "", "groups of every agent, in precedence order (default: [agent] groups)")
	quiet := fs.Bool("quiet", false, "do not print the apply events")
	ramp := fs.Duration("ramp", 0, "spread the agents' starts over this time (0: all at once)")
	httpAddr := fs.String("http", "", "serve /metrics (and /debug/pprof with "+obs.PprofEnv+"=1) here, so a benchmark can profile the simulated fleet")
	fs.Usage = func() { fmt.Fprint(fs.Output(), simulateUsage); fs.PrintDefaults() }
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return program.Usage(err)
	}
	if *agents <= 0 || *first < 0 || fs.NArg() > 0 {
		return program.Usage(errors.New("simulate: -agents N (1 or more) is required, -first at least 0, and no arguments"))
	}
	cfg, err := (&cli{configPath: *cfgPath, endpoints: *endpoints}).settings() // as every command reads them
	if err != nil {
		return program.Usage(err)
	}
	if *groups != "" {
		cfg.Agent.Groups = settings.SplitList(*groups)
	}
	n := *clients
	if n <= 0 {
		n = (*agents + 499) / 500
	}
	pool := make([]*clientv3.Client, n)
	for i := range pool {
		if pool[i], err = etcdconf.New(cfg.Etcd.Settings); err != nil {
			return etcdconf.Explain(err, cfg.Etcd.Settings)
		}
		defer pool[i].Close()
	}
	var mu sync.Mutex
	enc := json.NewEncoder(stdout)
	applied := func(ev fleetsim.Event) {
		if *quiet {
			return
		}
		mu.Lock()
		defer mu.Unlock()
		enc.Encode(ev)
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	srv, err := obs.Listen(*httpAddr, obs.Handler(obs.NewRegistry(), obs.NewReadiness(), nil), log)
	if err != nil {
		return err
	}
	if srv != nil {
		go srv.Run(ctx)
	}
	return fleetsim.Run(ctx, fleetsim.Options{Clients: pool, Agents: *agents, First: *first, Groups: cfg.Agent.Groups,
		CollectPattern: cfg.Etcd.CollectLogKey, StatusPattern: cfg.Etcd.StatusKeyPattern(), Policy: cfg.Agent.CollectPolicy(),
		TTL: cfg.Etcd.StatusTTL, Interval: cfg.Etcd.StatusInterval, Refresh: cfg.Etcd.StatusRefresh, Spread: cfg.Etcd.StatusSpread, Timeout: cfg.Etcd.DialTimeout,
		Ramp: *ramp, Log: log, Applied: applied})
}
