// Command bench measures logcollect's throughput, CPU cost, memory and
// latency with real processes: the dev stack's broker, etcd and
// Elasticsearch-API emulator, and the logagent and logtransfer binaries.
// CPU seconds (utime+stime) and peak RSS (VmHWM) come from /proc of the
// measured process; counts come from the broker's high-water marks and the
// emulator. `make bench` runs `bench all`; BENCHMARKS.md records the figures.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/logcollect/logcollect/pkg/program"
)

func main() { program.Main("bench", Run) }

type options struct {
	bin, dir       string
	profile        string // directory for pprof profiles; "" = none
	profileSeconds int
	timeout        time.Duration
	cond           conditions // of the agent scenarios
}

const usage = `Usage: bench [common flags] <scenario> [flags]

Scenarios (each starts its own broker, etcd and emulator processes):
  agent-file  -lines 1000000 -files 1 [-chain nginx | -processors FILE]
              [-container cri|docker [-kubernetes apiserver|metadata]]
                                             file → Kafka through logagent; -container:
                                             a container's log; -kubernetes metadata: with
                                             pod metadata from a kube-apiserver (issue 16)
  agent-many  -files 1000 -rate 10 -duration 60s
              both take -conditions bench|issue19 (issue 19's outside run) and
              -acks, -http, -log-level, -scan-interval, -tail to vary one setting
  transfer    -records 1000000 -mode blackhole|index
  e2e         -rate 20000 -duration 60s      write → searchable latency
  burst       -mb 500 [-line-bytes 200000]   broker down while 500 MiB are written
  fleet       -agents 10000 [-window 60s]    simulated agents (logagent simulate) on etcd: idle
                                             load, a group config change, logagent agents,
                                             a 3-wave rollout (issue 14)
  all         every scenario, one table (flags scale it down: see -help of all)

Common flags:
`

// Run is the whole program minus signal handling and exit codes, shaped
// like the services' (pkg/program). What goes wrong is printed where it
// happens (usage, the results table), so only the exit code comes back.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	o := &options{cond: benchConditions()}
	fs.StringVar(&o.bin, "bin", "bin", "directory with devstack, logagent and logtransfer (make build)")
	fs.StringVar(&o.dir, "dir", ".data/bench", "working directory (each scenario's subdirectory is wiped at its start)")
	fs.StringVar(&o.profile, "profile", "", "write CPU and allocation profiles of the measured service here (turns on its /debug/pprof)")
	fs.IntVar(&o.profileSeconds, "profile-seconds", 5, "length of the CPU profile")
	fs.DurationVar(&o.timeout, "timeout", 5*time.Minute, "give up on a scenario after this long")
	fs.Usage = func() {
		fmt.Fprint(stderr, usage)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return program.Exit(program.ExitUsage)
	}
	if fs.NArg() == 0 {
		fs.Usage()
		return program.Exit(program.ExitUsage)
	}
	var err error
	if o.dir, err = filepath.Abs(o.dir); err != nil {
		return err
	}
	if o.profile != "" {
		if o.profile, err = filepath.Abs(o.profile); err != nil {
			return err
		}
	}
	name, rest := fs.Arg(0), fs.Args()[1:]
	sub := flag.NewFlagSet("bench "+name, flag.ContinueOnError)
	sub.SetOutput(stderr)
	var results []result
	var runAll func() []result
	switch name {
	case "agent-file":
		lines := sub.Int64("lines", 1_000_000, "lines to read")
		files := sub.Int("files", 1, "split the lines over this many files")
		chainName := sub.String("chain", "", "run every line through a processors chain: nginx (parse nginx + timestamp + mask secrets, email)")
		procFile := sub.String("processors", "", "run every line through the processors in this file (a JSON array, as in a collect entry)")
		container := sub.String("container", "", "write the lines as a container's log, cri or docker, in the kubelet's /var/log/pods layout, and read them with that format")
		kube := sub.String("kubernetes", "off", "with -container: metadata (the agent adds pod metadata from a real kube-apiserver, built once by scripts/build-kube-apiserver.sh) or apiserver (the same apiserver and pod, the agent's metadata off: the pair's baseline)")
		cond := conditionFlags(sub)
		runAll = func() []result {
			ch, err := chainFlag(*chainName, *procFile)
			var cl containerLogs
			if err == nil {
				cl, err = containerFlag(*container, *kube)
			}
			if err == nil && cl.format != "" && ch.json != "" {
				err = errors.New("-container and a processors chain: one at a time")
			}
			if err == nil {
				err = o.setConditions(cond)
			}
			if err != nil {
				return []result{{Scenario: "agent-file", Err: err}}
			}
			return []result{agentFile(ctx, o, *lines, *files, ch, cl)}
		}
	case "agent-many":
		files := sub.Int("files", 1000, "files appended to")
		rate := sub.Int("rate", 10, "lines per second per file")
		duration := sub.Duration("duration", 60*time.Second, "how long to append")
		cond := conditionFlags(sub)
		runAll = func() []result {
			if err := o.setConditions(cond); err != nil {
				return []result{{Scenario: "agent-many", Err: err}}
			}
			return []result{agentMany(ctx, o, *files, *rate, *duration)}
		}
	case "transfer":
		records := sub.Int64("records", 1_000_000, "records to preload")
		mode := sub.String("mode", "blackhole", "blackhole (acknowledge without indexing) or index")
		runAll = func() []result {
			if *mode != "blackhole" && *mode != "index" {
				return []result{{Scenario: "transfer", Err: fmt.Errorf("-mode %q: want blackhole or index", *mode)}}
			}
			return []result{transfer(ctx, o, *records, *mode)}
		}
	case "e2e":
		rate := sub.Int("rate", 20000, "lines per second")
		duration := sub.Duration("duration", 60*time.Second, "how long to write")
		index := sub.String("index", "full", "full (the transfer's own template: every field indexed, as users get it) or lean (only message indexed; the rest kept in _source), for rates the emulator cannot index in full on this machine")
		runAll = func() []result {
			if *index != "full" && *index != "lean" {
				return []result{{Scenario: "e2e", Err: fmt.Errorf("-index %q: want full or lean", *index)}}
			}
			return []result{e2e(ctx, o, *rate, *duration, *index == "lean")}
		}
	case "burst":
		mib := sub.Int("mb", 500, "MiB written while the broker is down")
		lineBytes := sub.Int("line-bytes", 0, "pad every line to this many bytes (0: access-log lines of about 195 bytes); e.g. 200000: max_inflight_bytes, not chan_max_size, must bound memory")
		runAll = func() []result { return []result{burst(ctx, o, *mib, *lineBytes)} }
	case "fleet":
		agents := sub.Int("agents", 10000, "simulated agents")
		window := sub.Duration("window", 60*time.Second, "how long the idle fleet's load on etcd is measured")
		runAll = func() []result { return fleetScale(ctx, o, *agents, *window) }
	case "all":
		lines := sub.Int64("lines", 1_000_000, "agent-file lines")
		records := sub.Int64("records", 1_000_000, "transfer records (blackhole)")
		indexRecords := sub.Int64("index-records", 100_000, "transfer records (indexing mode; the emulator indexes into bleve at a few thousand docs/s, so 1,000,000 takes many minutes)")
		manyFiles := sub.Int("many-files", 1000, "agent-many files")
		manyDuration := sub.Duration("many-duration", 60*time.Second, "agent-many duration")
		e2eRate := sub.Int("e2e-rate", 20000, "end-to-end lines per second, only message indexed (-index lean of e2e)")
		e2eFullRate := sub.Int("e2e-full-rate", 2000, "end-to-end lines per second with every field indexed (-index full of e2e)")
		e2eDuration := sub.Duration("e2e-duration", 60*time.Second, "end-to-end duration")
		burstMB := sub.Int("burst-mb", 500, "burst MiB")
		runAll = func() []result {
			steps := []func() result{
				func() result { return agentFile(ctx, o, *lines, 1, chain{}, containerLogs{}) },
				func() result { return agentFile(ctx, o, *lines, 1, nginxChain, containerLogs{}) },
				func() result { return agentFile(ctx, o, *lines, 8, chain{}, containerLogs{}) },
				func() result { return agentMany(ctx, o, *manyFiles, 10, *manyDuration) },
				func() result { return transfer(ctx, o, *records, "blackhole") },
				func() result { return transfer(ctx, o, *indexRecords, "index") },
				func() result { return e2e(ctx, o, *e2eRate, *e2eDuration, true) },
				func() result { return e2e(ctx, o, *e2eFullRate, *e2eDuration, false) },
				func() result { return burst(ctx, o, *burstMB, 0) },
			}
			var out []result
			for _, step := range steps {
				if ctx.Err() != nil {
					break
				}
				r := step()
				// Each row as it completes, so an interrupted run keeps
				// what it measured.
				printTable(stderr, []result{r})
				out = append(out, r)
			}
			return out
		}
	default:
		fmt.Fprintf(stderr, "bench: unknown scenario %q\n", name)
		fs.Usage()
		return program.Exit(program.ExitUsage)
	}
	if err := sub.Parse(rest); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return program.Exit(program.ExitUsage)
	}
	fmt.Fprintf(stdout, "%s\n\n", machine())
	results = runAll()
	printTable(stdout, results)
	for _, r := range results {
		if r.Err != nil {
			return program.Exit(program.ExitFailure) // in the table
		}
	}
	return nil
}

// machine describes where the figures were taken: the machine is shared, so
// the load average matters.
func machine() string {
	cpu := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				cpu = strings.TrimSpace(v)
				break
			}
		}
	}
	mem := ""
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		if l, _, ok := strings.Cut(string(b), "\n"); ok {
			mem = strings.Join(strings.Fields(l)[1:], " ")
		}
	}
	load, _ := os.ReadFile("/proc/loadavg")
	return fmt.Sprintf("%s | %d CPUs (%s) | MemTotal %s | loadavg %s",
		time.Now().UTC().Format(time.RFC3339), runtime.NumCPU(), cpu, mem, strings.Join(strings.Fields(string(load))[:3], " "))
}

func printTable(w io.Writer, rs []result) {
	fmt.Fprintln(w, "| scenario | count / expected | wall s | lines or docs/s | MB/s | CPU-s/GB | peak RSS MB | other | target | met |")
	fmt.Fprintln(w, "| --- | --- | --- | --- | --- | --- | --- | --- | --- | --- |")
	f := func(v float64, format string) string {
		if v == 0 {
			return "-"
		}
		return fmt.Sprintf(format, v)
	}
	for _, r := range rs {
		met := "no"
		if r.Met {
			met = "yes"
		}
		extra := r.Extra
		if r.Err != nil {
			met = "ERROR"
			extra = strings.ReplaceAll(strings.TrimSpace(r.Err.Error()), "\n", " ⏎ ")
			if len(extra) > 400 {
				extra = extra[:400] + "…"
			}
		}
		fmt.Fprintf(w, "| %s | %d / %d | %s | %s | %s | %s | %s | %s | %s | %s |\n",
			r.Scenario, r.Got, r.Want, f(r.Wall.Seconds(), "%.2f"), f(r.Rate, "%.0f"), f(r.MBps, "%.1f"),
			f(r.CPUPerGB, "%.1f"), f(mb(r.PeakRSS), "%.1f"), extra, r.Target, met)
	}
}
