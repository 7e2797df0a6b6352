// Command logagent tails log files named by a collect config in etcd and
// delivers every line to Kafka at least once, with durable checkpoints.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"runtime/debug"

	"github.com/logcollect/logcollect/logagent/internal/agent"
	"github.com/logcollect/logcollect/logagent/internal/config"
	"github.com/logcollect/logcollect/logagent/internal/harvester"
	"github.com/logcollect/logcollect/logagent/internal/kubemeta"
	"github.com/logcollect/logcollect/pkg/buildinfo"
	"github.com/logcollect/logcollect/pkg/gcfloor"
	"github.com/logcollect/logcollect/pkg/logging"
	"github.com/logcollect/logcollect/pkg/program"
	gometrics "github.com/rcrowley/go-metrics"
)

// Exit codes: program's, the same in both binaries.
const (
	exitOK      = program.ExitOK
	exitRuntime = program.ExitFailure // failed while running
	exitUsage   = program.ExitUsage   // bad flags or settings: fix and start again
)

func main() { program.Main("logagent", Run) }

const usage = `Usage: logagent [-config path] [-check] [-version]
       logagent COMMAND [flags] [args]   (operator CLI; logagent COMMAND -h for help)

logagent reads the collect config from etcd (key [etcd] collect_log_key,
default /logagent/<ip>/collect_config), tails the files it names and sends
every line to Kafka as a JSON record. Checkpoints and the last good collect
config live in [agent] data_dir.

Every ini key can be overridden by the environment variable
LOGAGENT_<SECTION>_<KEY>, e.g. LOGAGENT_KAFKA_BROKERS=host1:9092,host2:9092.
See docs/logagent.md for every key and the collect config format.

Commands (docs/logagent.md, "Operator CLI"):
` + commandList + `
Examples:
  logagent -config /etc/logagent/config.ini
  logagent -check -config /etc/logagent/config.ini
  logagent validate -config /etc/logagent/config.ini collect.json
  logagent put -ip 10.0.0.5 -endpoints http://etcd1:2379 collect.json
  logagent agents -endpoints http://etcd1:2379
  logagent rollout start -group web -endpoints http://etcd1:2379 collect.json

Flags (running the agent):
`

// Run is the whole program minus signal handling and exit codes: errors
// marked program.Usage exit with 2, others with 1.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "simulate" { // the fleet benchmark's agents; not in the usage
		return runSimulate(ctx, args[1:], stdout, stderr)
	}
	if len(args) > 0 {
		if handled, err := dispatch(ctx, args, stdout, stderr); handled {
			return err
		}
	}
	fs := flag.NewFlagSet("logagent", flag.ContinueOnError)
	fs.SetOutput(stderr)
	flags := program.AddFlags(fs, "logagent/conf/config.ini")
	printUsage := func(w io.Writer) {
		fs.SetOutput(w)
		fmt.Fprint(w, usage)
		fs.PrintDefaults()
	}
	fs.Usage = func() {} // printed below, to stdout for --help
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			printUsage(stdout)
			return nil
		}
		printUsage(stderr)
		return program.Usage(err)
	}
	cfg, log, done, err := program.Setup("logagent", fs, flags, stdout, stderr,
		func() (config.Config, []string, error) { return config.Load(flags.Config) },
		func(c config.Config) logging.Settings { return c.Log })
	if done || err != nil {
		return err
	}
	log.Info("starting", "version", buildinfo.String("logagent"), "config", flags.Config)
	setProcessGlobals(cfg.Agent, log)
	a, err := agent.New(cfg, log)
	if err != nil {
		return fmt.Errorf("start: %w", err)
	}
	if err := a.Run(ctx); err != nil {
		return fmt.Errorf("run: %w", err)
	}
	return nil
}

// setProcessGlobals sets, before anything starts, the settings that belong
// to the process rather than to a component: libraries read them from
// package variables, so they cannot be passed in. This is the only place
// the agent writes them (docs/architecture.md, "Global state").
func setProcessGlobals(cfg config.Agent, log *slog.Logger) {
	// nxadm/tail's watchers read watch.POLL_DURATION on every round; the
	// harvester package owns it and lets only its first setting count.
	harvester.SetPollInterval(cfg.PollInterval)
	// sarama keeps rates and histograms per broker, topic and request in
	// go-metrics (locks and a sample heap per update), in a registry it
	// builds from this package variable; the agent exports its own
	// Prometheus metrics and never reads them.
	gometrics.UseNilMetrics = true
	setMemoryLimit(cfg.MemoryLimit, log)
	// client-go logs through klog's process-wide logger ([kubernetes]).
	kubemeta.RouteLogs(log)
}

// setMemoryLimit sets Go's soft memory limit: the collector runs sooner
// whenever Go's memory nears it, which bounds RSS where the heap's growth
// rule alone would not (1,000 files: goroutine stacks and read buffers).
// Under it, the heap goal has a floor of half the limit (gcfloor): at full
// speed the live heap is a few MB while sarama's request encoding makes
// hundreds of MB of garbage a second, and GOGC 100 collected every few MB
// (12-16 % less CPU per line with the floor, peak RSS unchanged; a floor of
// two thirds passed the 64 MB RSS target, as did GOGC 200 or 400, which
// also raise large heaps). GOMEMLIMIT or GOGC in the environment take
// precedence, as the runtime documents: either turns the floor off.
func setMemoryLimit(limit int64, log *slog.Logger) {
	if limit <= 0 || os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	debug.SetMemoryLimit(limit)
	log.Debug("memory limit", "bytes", limit)
	if os.Getenv("GOGC") == "" {
		gcfloor.Keep(uint64(limit) / 2)
	}
}
