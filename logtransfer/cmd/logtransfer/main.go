// Command logtransfer consumes log records from Kafka and indexes them into
// Elasticsearch, committing a Kafka offset only after Elasticsearch accepted
// (or dead-lettered) every record up to it.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/logcollect/logcollect/pkg/buildinfo"
	"github.com/logcollect/logcollect/pkg/logging"
	"github.com/logcollect/logcollect/pkg/redact"

	"github.com/logcollect/logcollect/logtransfer/internal/config"
	"github.com/logcollect/logcollect/logtransfer/internal/transfer"
)

// Exit codes.
const (
	exitOK     = 0
	exitFailed = 1 // a runtime failure
	exitUsage  = 2 // bad flags or settings: fix them, retrying will not help
)

// errUsage marks errors the operator must fix in flags or settings.
var errUsage = errors.New("usage")

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		os.Exit(exitOK)
	case errors.Is(err, errUsage):
		fmt.Fprintln(os.Stderr, "logtransfer:", err)
		os.Exit(exitUsage)
	default:
		fmt.Fprintln(os.Stderr, "logtransfer:", err)
		os.Exit(exitFailed)
	}
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("logtransfer", flag.ContinueOnError)
	fs.SetOutput(stderr)
	configPath := fs.String("config", "logtransfer/conf/config.ini", "path of the ini settings file")
	version := fs.Bool("version", false, "print the version and exit")
	check := fs.Bool("check", false, "validate the settings and exit")
	fs.Usage = func() {
		fmt.Fprintf(stderr, `Usage: logtransfer [-config FILE] [-check] [-version]

logtransfer reads log records from Kafka topics (a consumer group), indexes
them into Elasticsearch in daily indices with idempotent ids, sends documents
Elasticsearch rejects for good to a dead-letter index, and commits a Kafka
offset only once every record up to it is in Elasticsearch.

Every setting of the ini file can be overridden by an environment variable
%s_<SECTION>_<KEY>, e.g. LOGTRANSFER_ES_URLS=http://es:9200.
The commented example conf/config.ini lists them all.

Flags:
`, config.EnvPrefix)
		fs.PrintDefaults()
		fmt.Fprintf(stderr, `
Endpoints (http_listen): /metrics, /healthz, /readyz, /status.
Exit status: 0 after a clean stop (SIGTERM/SIGINT), 1 on a runtime failure,
2 on bad flags or settings.
`)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("%w: unexpected arguments %v", errUsage, fs.Args())
	}
	if *version {
		fmt.Fprintln(stdout, buildinfo.String("logtransfer"))
		return nil
	}
	cfg, warnings, err := config.Load(*configPath)
	if err != nil {
		return fmt.Errorf("%w: settings:\n%w", errUsage, err)
	}
	log, err := logging.New(stderr, cfg.Log.Level, cfg.Log.Format)
	if err != nil {
		return fmt.Errorf("%w: %w", errUsage, err)
	}
	for _, w := range warnings {
		log.Warn(w)
	}
	if *check {
		fmt.Fprintln(stdout, "settings ok:", *configPath)
		return nil
	}
	log.Info("starting", "version", buildinfo.String("logtransfer"), "config", *configPath,
		"brokers", cfg.Kafka.Client.Brokers, "topics", cfg.Kafka.Topics, "topic_pattern", patternText(cfg),
		"group", cfg.Kafka.GroupID, "es", redact.URLs(cfg.ES.URLs))
	return transfer.Run(ctx, cfg, log, transfer.Options{})
}

func patternText(cfg config.Config) string {
	if cfg.Kafka.TopicPattern == nil {
		return ""
	}
	return cfg.Kafka.TopicPattern.String()
}
