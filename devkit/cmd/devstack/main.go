// Command devstack runs the embedded default environment — real etcd, a
// Kafka-protocol broker and the Elasticsearch-API emulator — on 127.0.0.1
// until interrupted, for the demo, for trying the services by hand, and for
// tests that need the parts as separate processes.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"

	"github.com/logcollect/logcollect/devkit/devstack"
	"github.com/logcollect/logcollect/pkg/buildinfo"
	"github.com/logcollect/logcollect/pkg/program"
)

func main() { program.Main("devstack", Run) }

// Run is the whole program minus signal handling and exit codes, shaped
// like the services' (pkg/program).
func Run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	return run(ctx, args, os.Stdin, stdout, stderr)
}

// run is Run with standard input passed in, which -stdin-eof watches.
func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("devstack", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var (
		etcdPort  = fs.Int("etcd-port", 2379, "etcd client port on 127.0.0.1 (0 picks a free one)")
		kafkaPort = fs.String("kafka-port", "9092", "Kafka broker port on 127.0.0.1 (0 picks a free one); with several brokers, one port each, comma separated, or the first of consecutive ones")
		brokers   = fs.Int("kafka-brokers", 1, "number of Kafka brokers (partition leaders spread over them)")
		shuffle   = fs.Duration("kafka-shuffle-leaders", 0, "move every partition's leader to a random broker at this interval, like a leader election (0: never)")
		kafkaCtl  = fs.String("kafka-control", "", "serve the broker's fault controls (produce errors, leader moves) over HTTP on this 127.0.0.1 address, e.g. 127.0.0.1:0")
		esPort    = fs.Int("es-port", 9200, "Elasticsearch-API emulator port on 127.0.0.1 (0 picks a free one)")
		dataDir   = fs.String("data-dir", "", "keep etcd data, Kafka records and offsets, and documents here across restarts (default: in memory)")
		topics    = fs.String("topics", "web_log:4,app_log:4", "topics to create as name:partitions, comma separated (others are auto-created with 4)")
		esUser    = fs.String("es-user", "", "require HTTP basic auth on the emulator with this user")
		esPass    = fs.String("es-password", "", "password for -es-user")
		endpoints = fs.String("endpoints-file", "", "write the endpoints as JSON to this file once everything serves")
		noEtcd    = fs.Bool("no-etcd", false, "do not start etcd (run each part as its own process)")
		noKafka   = fs.Bool("no-kafka", false, "do not start the Kafka broker")
		noES      = fs.Bool("no-es", false, "do not start the Elasticsearch-API emulator")
		blackhole = fs.Bool("es-blackhole", false, "the emulator acknowledges bulks without indexing (throughput benchmarks)")
		syncKafka = fs.Bool("kafka-sync-writes", false, "fsync every produce, so a killed broker keeps every acknowledged record")
		autoTopic = fs.Bool("kafka-auto-create", true, "create unknown topics on first use (with 4 partitions)")
		maxMsg    = fs.Int("kafka-max-message-bytes", 0, "the broker's message.max.bytes: larger produce batches are refused (0: about 1 MiB)")
		sasl      = fs.String("kafka-sasl", "", "require SASL with these users, as MECHANISM:user:password, comma separated (PLAIN, SCRAM-SHA-256, SCRAM-SHA-512)")
		refresh   = fs.Duration("es-refresh-interval", 0, "the emulator's refresh interval: writes become searchable after it (0: 1s)")
		esCtl     = fs.String("es-control", "", "serve the emulator's down switch (POST/DELETE /down) over HTTP on this 127.0.0.1 address, e.g. 127.0.0.1:0")
		tlsCert   = fs.String("tls-cert", "", "serve every part over TLS with this PEM certificate (and -tls-key)")
		tlsKey    = fs.String("tls-key", "", "PEM key of -tls-cert")
		tlsCA     = fs.String("tls-client-ca", "", "with -tls-cert, require client certificates signed by this PEM CA")
		stdinEOF  = fs.Bool("stdin-eof", false, "stop when standard input closes: a test runs the stack as a child with a pipe, so it dies with the test")
		version   = fs.Bool("version", false, "print the version and exit")
	)
	fs.Usage = func() {
		fmt.Fprintf(stderr, `Usage: devstack [flags]

Runs etcd, a Kafka-protocol broker and the Elasticsearch-API emulator on
127.0.0.1 until Ctrl-C. Nothing needs Docker or a JVM.

Examples:
  devstack                                  # fixed ports 2379, 9092, 9200, in memory
  devstack -data-dir .data/devstack         # state survives a restart
  devstack -etcd-port 0 -kafka-port 0 -es-port 0 -endpoints-file /tmp/ep.json
  devstack -kafka-brokers 3 -kafka-shuffle-leaders 2s   # brokers on 9092-9094, leaders moving
  devstack -no-etcd -no-kafka -es-port 0 -es-control 127.0.0.1:0 -stdin-eof -endpoints-file ep.json
                                            # the emulator alone, as devkit/testkit runs it for a test

Flags:
`)
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return nil
		}
		return program.Exit(program.ExitUsage) // the flag package printed it
	}
	if *version {
		fmt.Fprintln(stdout, buildinfo.String("devstack"))
		return nil
	}
	ports, err := parsePorts(*kafkaPort, *brokers)
	if err != nil {
		return program.Usagef("-kafka-port/-kafka-brokers: %w", err)
	}
	topicMap, err := parseTopics(*topics)
	if err != nil {
		return program.Usagef("-topics: %w", err)
	}
	users, err := parseSASL(*sasl)
	if err != nil {
		return program.Usagef("-kafka-sasl: %w", err)
	}
	stack, err := devstack.Start(devstack.StackConfig{
		EtcdPort: *etcdPort, KafkaPorts: ports, ESPort: *esPort, KafkaShuffleLeaders: *shuffle, KafkaControlAddr: *kafkaCtl,
		DataDir: *dataDir, Topics: topicMap, ESUsername: *esUser, ESPassword: *esPass,
		ESBlackhole: *blackhole, KafkaSyncWrites: *syncKafka, NoEtcd: *noEtcd, NoKafka: *noKafka, NoES: *noES,
		KafkaNoAutoCreate: !*autoTopic, KafkaMaxMessageBytes: *maxMsg, KafkaSASL: users,
		ESRefreshInterval: *refresh, ESControlAddr: *esCtl,
		TLS: devstack.TLSFiles{CertFile: *tlsCert, KeyFile: *tlsKey, ClientCAFile: *tlsCA},
	})
	if err != nil {
		return fmt.Errorf("%w\n(is another devstack running? pick other ports with -etcd-port/-kafka-port/-es-port, or 0 for free ones)", err)
	}
	defer stack.Close()
	ep := stack.Endpoints()
	if *endpoints != "" {
		if err := stack.WriteEndpoints(*endpoints); err != nil {
			return err
		}
	}
	fmt.Fprintln(stdout, "devstack is up (Ctrl-C stops it)")
	for _, part := range []struct{ name, addr, try string }{
		{"etcd", ep.Etcd, "etcdctl --endpoints " + ep.Etcd + ` put /logagent/127.0.0.1/collect_config '[{"path":"/tmp/demo.log","topic":"web_log"}]'`},
		{"kafka", ep.Kafka, "kcat -b " + ep.Kafka + " -L"},
		{"kafka control", ep.KafkaControl, "curl -s -XPOST " + ep.KafkaControl + `/produce-errors -d '{"error":"NOT_LEADER_FOR_PARTITION","for":"5s"}'`},
		{"elasticsearch", ep.Elasticsearch, "curl -s '" + ep.Elasticsearch + "/_cat/indices?format=json'"},
		{"es control", ep.ESControl, "curl -s -XPOST " + ep.ESControl + "/down"},
	} {
		if part.addr != "" {
			fmt.Fprintf(stdout, "  %-14s %-28s try: %s\n", part.name, part.addr, part.try)
		}
	}
	if *stdinEOF {
		ctx = untilEOF(ctx, stdin)
	}
	<-ctx.Done()
	fmt.Fprintln(stdout, "devstack: stopping")
	if err := stack.Close(); err != nil {
		return fmt.Errorf("stop: %w", err)
	}
	return nil
}

func parseTopics(s string) (map[string]int32, error) {
	out := map[string]int32{}
	for _, part := range strings.Split(s, ",") {
		part = strings.TrimSpace(part)
		if part == "" {
			continue
		}
		name, count, ok := strings.Cut(part, ":")
		n, err := strconv.Atoi(count)
		if !ok || name == "" || err != nil || n < 1 {
			return nil, fmt.Errorf("%q: want name:partitions, like web_log:4", part)
		}
		out[name] = int32(n)
	}
	return out, nil
}

// parsePorts reads -kafka-port: one port per broker, or one port for n
// consecutive brokers (0: n free ones).
func parsePorts(s string, n int) ([]int, error) {
	if n < 1 {
		return nil, fmt.Errorf("%d brokers: want at least 1", n)
	}
	var ports []int
	for _, f := range strings.Split(s, ",") {
		p, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || p < 0 || p > 65535 {
			return nil, fmt.Errorf("port %q: want a number in 0-65535", f)
		}
		ports = append(ports, p)
	}
	switch {
	case len(ports) == n:
		return ports, nil
	case len(ports) == 1:
		for i := 1; i < n; i++ {
			if ports[0] == 0 {
				ports = append(ports, 0)
			} else {
				ports = append(ports, ports[0]+i)
			}
		}
		return ports, nil
	default:
		return nil, fmt.Errorf("%d ports for %d brokers: give one port, or one per broker", len(ports), n)
	}
}

// untilEOF is ctx, also cancelled when r reaches its end (or fails): the
// parent that holds the pipe's other end closed it or died.
func untilEOF(ctx context.Context, r io.Reader) context.Context {
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		defer cancel()
		_, _ = io.Copy(io.Discard, r)
	}()
	return ctx
}

// parseSASL reads -kafka-sasl: MECHANISM:user:password, comma separated.
func parseSASL(s string) (map[string]map[string]string, error) {
	if strings.TrimSpace(s) == "" {
		return nil, nil
	}
	out := map[string]map[string]string{}
	for _, part := range strings.Split(s, ",") {
		mech, rest, ok1 := strings.Cut(strings.TrimSpace(part), ":")
		user, pw, ok2 := strings.Cut(rest, ":")
		if !ok1 || !ok2 || mech == "" || user == "" {
			return nil, fmt.Errorf("%q: want MECHANISM:user:password, like PLAIN:alice:pw", part)
		}
		if out[mech] == nil {
			out[mech] = map[string]string{}
		}
		out[mech][user] = pw
	}
	return out, nil
}
