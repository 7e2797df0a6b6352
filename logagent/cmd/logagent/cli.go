package main

// The operator CLI: subcommands of the logagent binary that validate a
// collect config with the agent's own rules, write and read it in etcd,
// and list the fleet's status documents.

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"os"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/logcollect/logcollect/logagent/internal/agent"
	"github.com/logcollect/logcollect/logagent/internal/collect"
	"github.com/logcollect/logcollect/logagent/internal/config"
	"github.com/logcollect/logcollect/logagent/internal/harvester"
	"github.com/logcollect/logcollect/pkg/etcdconf"
	"github.com/logcollect/logcollect/pkg/fleet"
	"github.com/logcollect/logcollect/pkg/program"
	"github.com/logcollect/logcollect/pkg/settings"
)

// command is one subcommand.
type command struct {
	usage string // printed by -h, after "Usage: "
	run   func(ctx context.Context, c *cli) int
}

// lookupCommand returns the subcommand called name; dispatch runs it.
func lookupCommand(name string) (command, bool) {
	switch name {
	case "validate":
		return command{validateUsage, runValidate}, true
	case "put":
		return command{putUsage, runPut}, true
	case "get":
		return command{getUsage, runGet}, true
	case "agents":
		return command{agentsUsage, runAgents}, true
	case "audit":
		return command{auditUsage, runAudit}, true
	case "rollout":
		return command{rolloutUsage, runRollout}, true
	}
	return command{}, false
}

const etcdFlagsHelp = `Connection: with -config, endpoints, dial_timeout, TLS and username/password come from
the ini's [etcd] section (and LOGAGENT_ETCD_* variables); -endpoints overrides the
endpoints. Without -config: -endpoints, else LOGAGENT_ETCD_ENDPOINTS, else
127.0.0.1:2379. The keys follow [etcd] collect_log_key and status_key.
`

const validateUsage = `logagent validate [-config agent.ini] [-sample LOGFILE [-lines N]] FILE

Checks a collect config (the JSON array an agent reads from etcd) exactly as
the agent does (one function, collect.Policy.Load): the entries, plus the
[agent] allowed_paths and allow_journal of -config when given. Prints "OK" with the entry count, or every problem with its fix.
FILE "-" reads standard input. Exit code 0 valid, 1 invalid, 2 usage.

With -sample, each file entry of a valid config then reads the first N
events of LOGFILE as its harvester would (format, multiline, processors) and
prints, one per line and prefixed by the entry, the record the agent would
send to Kafka (JSON; host and file id are placeholders), or "dropped by
drop/keep" / "dropped by rate_limit" with the line. journald entries are
skipped.

Examples:
  logagent validate collect.json
  logagent validate -config /etc/logagent/config.ini collect.json
  kubectl get cm x -o jsonpath='{.data.collect}' | logagent validate -
  logagent validate -sample /var/log/nginx/access.log -lines 3 collect.json

Flags:
`

const putUsage = `logagent put (-ip IP | -group GROUP) [-config agent.ini | -endpoints URLS] FILE

Validates FILE like "logagent validate" and, only if it is valid, writes it to
the agent's collect key (/logagent/IP/collect_config by default) or, with
-group, to the group's (/logagent/groups/GROUP/collect_config), which every
agent whose [agent] groups names GROUP runs beside its own key. The agent
applies it within moments; "logagent get -status -ip IP" shows whether it did.
The allowed_paths checked here are -config's; every agent also applies its own
allowed_paths and rejects what they refuse (logagent agents shows it). To
change a group step by step with a health check, use "logagent rollout".
Exit code 0 written, 1 invalid or etcd error, 2 usage.

` + etcdFlagsHelp + `
Examples:
  logagent put -ip 10.0.0.5 -endpoints http://etcd1:2379 collect.json
  logagent put -ip 10.0.0.5 -config /etc/logagent/config.ini collect.json
  logagent put -group web -endpoints http://etcd1:2379 collect.json

Flags:
`

const getUsage = `logagent get (-ip IP [-status] | -group GROUP) [-config agent.ini | -endpoints URLS]

Prints the agent's (or with -group the group's) collect config JSON as stored
in etcd, or with -status the agent's status document (identity, groups,
config state, files and lag, last error).
Exit code 0 printed, 1 absent or etcd error, 2 usage.

` + etcdFlagsHelp + `
Examples:
  logagent get -ip 10.0.0.5 -endpoints http://etcd1:2379
  logagent get -ip 10.0.0.5 -status -config /etc/logagent/config.ini
  logagent get -group web -endpoints http://etcd1:2379

Flags:
`

// cli is the parsed state of one subcommand run.
type cli struct {
	name           string
	cmd            command
	fs             *flag.FlagSet
	stdout, stderr io.Writer
	args           []string // positional

	configPath, endpoints, ip, group string
	dialTimeout                      time.Duration
	status, asJSON                   bool // get -status, agents -json
	sample                           string
	sampleLines                      int // validate -sample, -lines
	audit                            auditFlags

	output, steps              string // -o, rollout -steps
	bake, waveTimeout, lockTTL time.Duration
	stale                      time.Duration // agents -stale
}

// runCommand runs subcommand name with args.
func runCommand(ctx context.Context, name string, cmd command, args []string, stdout, stderr io.Writer) int {
	c := &cli{name: name, cmd: cmd, stdout: stdout, stderr: stderr, fs: flag.NewFlagSet("logagent "+name, flag.ContinueOnError)}
	c.fs.SetOutput(io.Discard)
	c.fs.StringVar(&c.configPath, "config", "", "the agent's ini file: etcd connection, key names and allowed_paths")
	if name != "validate" {
		c.fs.StringVar(&c.endpoints, "endpoints", "", "etcd endpoints, separated by commas (host:port or http(s)://host:port)")
		c.fs.DurationVar(&c.dialTimeout, "dial-timeout", 0, "how long to wait for etcd (default: [etcd] dial_timeout, 5s)")
	}
	switch name {
	case "put", "get", "rollout":
		if name != "rollout" {
			c.fs.StringVar(&c.ip, "ip", "", "the agent's IP, as in its etcd keys")
		}
		groupHelp := "a group of agents (their [agent] groups), instead of -ip"
		if name == "rollout" {
			groupHelp = "the group whose config changes (required)"
		}
		c.fs.StringVar(&c.group, "group", "", groupHelp)
	}
	if name == "rollout" {
		c.fs.StringVar(&c.steps, "steps", fleet.DefaultSteps, "start: the waves, counts of agents or percentages of the group, growing; 100% is added when missing")
		c.fs.DurationVar(&c.bake, "bake", time.Minute, "start: how long every agent of a wave must stay healthy on the candidate before the next wave")
		c.fs.DurationVar(&c.waveTimeout, "timeout", 5*time.Minute, "start, resume: how long a wave's agents have to report the candidate applied before they fail it")
		c.fs.DurationVar(&c.lockTTL, "lock-ttl", 10*time.Second, "start, resume: lease of the controller's lock (a killed command's rollout shows paused after it; etcd may be unreachable this long before the command gives up)")
		c.fs.StringVar(&c.output, "o", "", "status: json prints the rollout document")
	}
	if name == "validate" {
		c.fs.StringVar(&c.sample, "sample", "", "a log file: print what each file entry would send of its first lines")
		c.fs.IntVar(&c.sampleLines, "lines", 5, "with -sample: how many events (lines, or joined multiline events) per entry")
	}
	if name == "get" {
		c.fs.BoolVar(&c.status, "status", false, "print the agent's status document instead of its collect config")
	}
	if name == "agents" {
		c.fs.BoolVar(&c.asJSON, "json", false, "print the status documents as a JSON array")
		c.fs.StringVar(&c.group, "group", "", "list only the agents of this group")
		c.fs.StringVar(&c.output, "o", "", "json prints the table and the group summaries as JSON")
		c.fs.DurationVar(&c.stale, "stale", 15*time.Minute, "flag agents whose status is older than this as stale (0: never)")
	}
	if name == "audit" {
		c.addAuditFlags()
	}
	printUsage := func(w io.Writer) {
		c.fs.SetOutput(w)
		fmt.Fprint(w, "Usage: "+cmd.usage)
		c.fs.PrintDefaults()
	}
	pos, err := parseInterleaved(c.fs, args)
	if err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printUsage(stdout)
			return exitOK
		}
		fmt.Fprintf(stderr, "logagent %s: %v\n\n", name, err)
		printUsage(stderr)
		return exitUsage
	}
	c.args = pos
	return cmd.run(ctx, c)
}

// parseInterleaved parses flags before and after the positional
// arguments, so "put FILE -ip X" works like "put -ip X FILE".
func parseInterleaved(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		args = fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		if args[0] == "--" {
			return append(pos, args[1:]...), nil
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
}

func (c *cli) fail(code int, format string, args ...any) int {
	fmt.Fprintf(c.stderr, "logagent %s: "+format+"\n", append([]any{c.name}, args...)...)
	return code
}

// usageError reports a bad invocation with the subcommand's usage line.
func (c *cli) usageError(format string, args ...any) int {
	c.fail(exitUsage, format, args...)
	line, _, _ := strings.Cut(c.cmd.usage, "\n")
	fmt.Fprintf(c.stderr, "Usage: %s\n(logagent %s -h for help)\n", line, c.name)
	return exitUsage
}

// settings loads the ini of -config, or the defaults with LOGAGENT_*
// environment overrides, then applies -endpoints and -dial-timeout.
func (c *cli) settings() (config.Config, error) {
	var cfg config.Config
	var err error
	if c.configPath != "" {
		cfg, _, err = config.Load(c.configPath)
		if err != nil {
			return config.Config{}, fmt.Errorf("bad settings in %s:\n%w", c.configPath, err)
		}
	} else {
		f, perr := settings.Parse("(defaults and environment)", nil, config.EnvPrefix, os.LookupEnv)
		if perr != nil {
			return config.Config{}, perr
		}
		if cfg, _, err = config.FromSettings(f); err != nil {
			return config.Config{}, fmt.Errorf("bad settings:\n%w", err)
		}
	}
	if c.endpoints != "" {
		cfg.Etcd.Endpoints = settings.SplitList(c.endpoints)
	}
	if c.dialTimeout > 0 {
		cfg.Etcd.DialTimeout = c.dialTimeout
	}
	return cfg, nil
}

// target is the collect key put and get use: the agent's (-ip) or the
// group's (-group), exactly one of them; code is non-zero after a usage
// error was reported.
func (c *cli) target(cfg config.Config) (key, what string, code int) {
	switch {
	case c.ip != "" && c.group != "":
		return "", "", c.usageError("-ip and -group name different keys: give one of them")
	case c.group != "":
		if err := fleet.CheckGroup(c.group); err != nil {
			return "", "", c.usageError("-group: %v", err)
		}
		return fleetKeys(cfg).GroupConfig(c.group), "-group " + c.group, exitOK
	case c.ip == "":
		return "", "", c.usageError("-ip or -group is required: the agent's IP as in its etcd keys, or a group of agents")
	case net.ParseIP(c.ip) == nil:
		return "", "", c.usageError("-ip %q is not an IP address", c.ip)
	}
	return cfg.CollectKey(c.ip), "-ip " + c.ip, exitOK
}

// fleetKeys are the group keys, derived from the collect key pattern as
// the agents derive them.
func fleetKeys(cfg config.Config) fleet.Keys {
	return fleet.Keys{CollectPattern: cfg.Etcd.CollectLogKey}
}

// readInput reads FILE, or standard input for "-".
func readInput(name string) ([]byte, error) {
	if name == "-" {
		return io.ReadAll(os.Stdin)
	}
	return os.ReadFile(name)
}

func plural(n int, one, many string) string {
	if n == 1 {
		return "1 " + one
	}
	return fmt.Sprintf("%d %s", n, many)
}

// validateFile gives the agent's verdict on FILE (collect.Policy.Load) and
// reports every problem; ok is false when the caller must stop with exit
// code 1.
func (c *cli) validateFile(file string, policy collect.Policy) (data []byte, entries []collect.Entry, ok bool) {
	data, err := readInput(file)
	if err != nil {
		c.fail(exitRuntime, "%v", err)
		return nil, nil, false
	}
	entries, err = policy.Load(data)
	if err != nil {
		var problems collect.Problems
		if !errors.As(err, &problems) {
			problems = collect.Problems{err}
		}
		for _, p := range problems {
			fmt.Fprintf(c.stderr, "%s: %v\n", file, p)
		}
		fmt.Fprintf(c.stderr, "%s: %s\n", file, plural(len(problems), "problem", "problems"))
		return nil, nil, false
	}
	return data, entries, true
}

// policy is the allowed_paths and allow_journal of the -config ini;
// without one, every path and the journal (allow_journal's default): validate
// and put check a file exactly as that agent would.
func (c *cli) policy() (collect.Policy, error) {
	if c.configPath == "" {
		return collect.Policy{AllowJournal: config.Default().Agent.AllowJournal}, nil
	}
	cfg, err := c.settings()
	if err != nil {
		return collect.Policy{}, err
	}
	return cfg.Agent.CollectPolicy(), nil
}

func runValidate(_ context.Context, c *cli) int {
	if len(c.args) != 1 {
		return c.usageError("want exactly one FILE, got %d arguments", len(c.args))
	}
	policy, err := c.policy()
	if err != nil {
		return c.fail(exitUsage, "%v", err)
	}
	_, entries, ok := c.validateFile(c.args[0], policy)
	if !ok {
		return exitRuntime
	}
	note := ""
	if len(entries) == 0 {
		note = " (an agent given this stops collecting)"
	}
	if policy.AllowedPaths != nil {
		note += " within allowed_paths " + strings.Join(policy.AllowedPaths, ", ")
	}
	if c.sample != "" && c.sampleLines < 1 {
		return c.usageError("-lines %d: want 1 or more", c.sampleLines)
	}
	fmt.Fprintf(c.stdout, "OK: %s: %s%s\n", c.args[0], plural(len(entries), "entry", "entries"), note)
	if c.sample == "" {
		return exitOK
	}
	return c.printSample(entries)
}

// printSample runs each file entry over the first lines of -sample
// (harvester.Sample: the harvester's own decoding, processors and encoding).
func (c *cli) printSample(entries []collect.Entry) int {
	for i, e := range entries {
		name := fmt.Sprintf("entry %d (%s)", i+1, e.Key())
		if e.Type == collect.TypeJournald {
			fmt.Fprintf(c.stdout, "%s: skipped: -sample reads files; journald entries take no processors\n", name)
			continue
		}
		err := harvester.Sample(e, c.sample, c.sampleLines, func(l harvester.SampleLine) {
			if l.Dropped != "" {
				fmt.Fprintf(c.stdout, "%s: offset %d dropped by %s: %q\n", name, l.Offset, l.Dropped, l.Message)
				return
			}
			fmt.Fprintf(c.stdout, "%s: %s\n", name, l.Value)
		})
		if err != nil {
			return c.fail(exitRuntime, "-sample: %v", err)
		}
	}
	return exitOK
}

// connect returns a client and the settings; the caller closes the client.
func (c *cli) connect() (*clientv3.Client, config.Config, int) {
	cfg, err := c.settings()
	if err != nil {
		return nil, config.Config{}, c.fail(exitUsage, "%v", err)
	}
	cli, err := etcdconf.New(cfg.Etcd.Settings) // with a username, this authenticates
	if err != nil {
		return nil, config.Config{}, c.fail(exitRuntime, "%v", etcdconf.Explain(err, cfg.Etcd.Settings))
	}
	return cli, cfg, exitOK
}

// request runs one etcd call bounded by the dial timeout and explains a
// failure.
func request[T any](ctx context.Context, cfg config.Config, call func(context.Context) (T, error)) (T, error) {
	rctx, cancel := context.WithTimeout(ctx, cfg.Etcd.DialTimeout)
	defer cancel()
	v, err := call(rctx)
	if err != nil && rctx.Err() == context.DeadlineExceeded && ctx.Err() == nil {
		err = context.DeadlineExceeded
	}
	return v, etcdconf.Explain(err, cfg.Etcd.Settings)
}

func runPut(ctx context.Context, c *cli) int {
	if len(c.args) != 1 {
		return c.usageError("want exactly one FILE, got %d arguments", len(c.args))
	}
	cfg, err := c.settings()
	if err != nil {
		return c.fail(exitUsage, "%v", err)
	}
	key, _, code := c.target(cfg)
	if code != exitOK {
		return code
	}
	policy, err := c.policy()
	if err != nil {
		return c.fail(exitUsage, "%v", err)
	}
	data, entries, ok := c.validateFile(c.args[0], policy)
	if !ok {
		fmt.Fprintf(c.stderr, "logagent put: nothing written: fix the problems above\n")
		return exitRuntime
	}
	cli, cfg, code := c.connect()
	if cli == nil {
		return code
	}
	defer cli.Close()
	resp, err := request(ctx, cfg, func(ctx context.Context) (*clientv3.PutResponse, error) { return cli.Put(ctx, key, string(data)) })
	if err != nil {
		return c.fail(exitRuntime, "write %s: %v", key, err)
	}
	fmt.Fprintf(c.stdout, "wrote %s (%s) to %s at revision %d\n", c.args[0], plural(len(entries), "entry", "entries"), key, resp.Header.Revision)
	return exitOK
}

func runGet(ctx context.Context, c *cli) int {
	if len(c.args) != 0 {
		return c.usageError("unexpected arguments %q", c.args)
	}
	if c.status && c.group != "" {
		return c.usageError("-status is an agent's: use -ip, or logagent agents -group %s for the group's agents", c.group)
	}
	cfg, err := c.settings()
	if err != nil {
		return c.fail(exitUsage, "%v", err)
	}
	key, what, code := c.target(cfg)
	if code != exitOK {
		return code
	}
	cli, cfg, code := c.connect()
	if cli == nil {
		return code
	}
	defer cli.Close()
	if c.status {
		key = cfg.StatusKey(c.ip)
	}
	resp, err := request(ctx, cfg, func(ctx context.Context) (*clientv3.GetResponse, error) { return cli.Get(ctx, key) })
	if err != nil {
		return c.fail(exitRuntime, "read %s: %v", key, err)
	}
	if len(resp.Kvs) == 0 {
		if c.status {
			return c.fail(exitRuntime, "no status at %s: no agent with IP %s is running and connected to this etcd (a stopped agent's status is gone within status_ttl)", key, c.ip)
		}
		return c.fail(exitRuntime, "no collect config at %s: write one with logagent put %s FILE", key, what)
	}
	value := resp.Kvs[0].Value
	if c.status {
		var out bytes.Buffer
		if json.Indent(&out, value, "", "  ") == nil {
			value = out.Bytes()
		}
	}
	c.stdout.Write(value)
	if !bytes.HasSuffix(value, []byte("\n")) {
		fmt.Fprintln(c.stdout)
	}
	return exitOK
}

// configState is the CONFIG column: "applied r12" (the host key's
// revision; with groups only, "applied": the GROUPS column says the rest),
// "applied cache", "REJECTED group:web r14 (runs r12)".
func configState(c agent.ConfigStatus) string {
	run := ""
	switch {
	case c.Revision > 0:
		run = fmt.Sprintf("r%d", c.Revision)
	case strings.HasPrefix(c.Source, "cache"):
		run = "cache"
	}
	switch c.State {
	case agent.ConfigApplied:
		return strings.TrimSpace("applied " + run)
	case agent.ConfigRejected:
		runs := ""
		if run != "" {
			runs = " (runs " + run + ")"
		}
		if r := c.Rejected; r != nil {
			src := ""
			if r.Source != "" && r.Source != fleet.SourceHost {
				src = r.Source + " "
			}
			return fmt.Sprintf("REJECTED %sr%d%s", src, r.Revision, runs)
		}
		return "REJECTED" + runs
	}
	return c.State
}

func lastError(e *agent.ErrorStatus, now time.Time) string {
	if e == nil {
		return "-"
	}
	msg := e.Message
	if len(msg) > 80 {
		msg = msg[:77] + "..."
	}
	return fmt.Sprintf("%s ago: %s", now.Sub(e.At).Round(time.Second), msg)
}

func bytesHuman(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%dB", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f%ciB", float64(n)/float64(div), "KMGTPE"[exp])
}

// commandList is the commands part of the binary's usage.
const commandList = `  validate  check a collect config file with the agent's rules
  put       validate a collect config file and write it to etcd
  get       print an agent's collect config (or -status document) from etcd
  agents    list the agents' status documents from etcd (a fleet table)
  audit     compare what the agents' files delivered with Elasticsearch, per host and file
  rollout   change a group's collect config wave by wave with a health gate
  help      help on a command: logagent help put
`

// dispatch runs args[0] as a subcommand when it names one; handled is
// false for the agent's own flags. A subcommand reports its own problems,
// so its exit code comes back as program.Exit.
func dispatch(ctx context.Context, args []string, stdout, stderr io.Writer) (handled bool, err error) {
	name := args[0]
	if name == "help" {
		if len(args) == 2 {
			if cmd, ok := lookupCommand(args[1]); ok {
				return true, program.Exit(runCommand(ctx, args[1], cmd, []string{"-h"}, stdout, stderr))
			}
		}
		return true, Run(ctx, []string{"-h"}, stdout, stderr)
	}
	cmd, ok := lookupCommand(name)
	if !ok {
		if !strings.HasPrefix(name, "-") {
			fmt.Fprintf(stderr, "logagent: unknown command %q; commands:\n%s", name, commandList)
			return true, program.Exit(exitUsage)
		}
		return false, nil
	}
	return true, program.Exit(runCommand(ctx, name, cmd, args[1:], stdout, stderr))
}
