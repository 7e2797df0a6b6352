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

	"github.com/logcollect/logcollect/pkg/buildinfo"
	"github.com/logcollect/logcollect/pkg/logging"
	"github.com/logcollect/logcollect/pkg/program"
	"github.com/logcollect/logcollect/pkg/redact"

	"github.com/logcollect/logcollect/logtransfer/internal/config"
	"github.com/logcollect/logcollect/logtransfer/internal/transfer"
)

func main() { program.Main("logtransfer", Run) }

// Run is the whole program minus signal handling and exit codes: errors
// marked program.Usage exit with 2, others with 1.
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("logtransfer", flag.ContinueOnError)
	fs.SetOutput(stderr)
	flags := program.AddFlags(fs, "logtransfer/conf/config.ini")
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
Exit status: 0 after a clean stop (SIGTERM/SIGINT; a second one exits at
once), 1 on a runtime failure, 2 on bad flags or settings.
`)
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return program.Usage(err)
	}
	cfg, log, done, err := program.Setup("logtransfer", fs, flags, stdout, stderr,
		func() (config.Config, []string, error) { return config.Load(flags.Config) },
		func(c config.Config) logging.Settings { return c.Log })
	if done || err != nil {
		return err
	}
	log.Info("starting", "version", buildinfo.String("logtransfer"), "config", flags.Config,
		"brokers", cfg.Kafka.Client.Brokers, "topics", cfg.Kafka.Topics, "topic_pattern", patternText(cfg),
		"group", cfg.Kafka.GroupID, "es", redact.URLs(cfg.ES.URLs))
	t, err := transfer.New(cfg, log, transfer.Options{})
	if err != nil {
		return fmt.Errorf("start: %w", err)
	}
	if err := t.Run(ctx); err != nil {
		return fmt.Errorf("run: %w", err)
	}
	return nil
}

func patternText(cfg config.Config) string {
	if cfg.Kafka.TopicPattern == nil {
		return ""
	}
	return cfg.Kafka.TopicPattern.String()
}
