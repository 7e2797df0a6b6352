package main

// logagent audit: the delivery audit (pkg/audit) over the status documents
// in etcd and an Elasticsearch URL.

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/logcollect/logcollect/logagent/internal/config"
	"github.com/logcollect/logcollect/pkg/audit"
	"github.com/logcollect/logcollect/pkg/tlsconf"
)

const auditUsage = `logagent audit -es URL [-group G] [-host IP] [-o text|json] [-config agent.ini | -endpoints URLS]

Compares, per agent and file, the lines Kafka acknowledged (the agents'
status documents: events counted with the checkpoint) with what
Elasticsearch holds: documents in the data indices and in the dead-letter
index, in the same byte range of the file. Prints acked, dropped (by
processors, on purpose), indexed, dead-lettered, in flight and missing,
with the byte ranges of missing lines and a verdict; see docs/audit.md.
Lines short in Elasticsearch are looked at again every second: missing once
the counts stop moving for -settle, in flight if they still move after
-wait. -o json prints the report as JSON.
Exit code 0 nothing missing (lines may be in flight), 1 lines missing or an
error, 2 usage.

-es takes user and password in the URL (http://user:pass@host:9200) or
LOGAGENT_AUDIT_ES_URL; -es-ca trusts a CA for https. -index and
-dead-letter-index follow the transfer's [es] index_prefix and
dead_letter_index.

` + etcdFlagsHelp + `
Examples:
  logagent audit -es http://127.0.0.1:9200 -endpoints http://etcd1:2379
  logagent audit -es http://es:9200 -group web -config /etc/logagent/config.ini
  logagent audit -es http://es:9200 -host 10.0.0.5 -o json | jq '.rows[] | select(.missing > 0)'

Flags:
`

// auditFlags are audit's own flags.
type auditFlags struct {
	es, esCA, group, host, output, index, deadLetter string
	settle, wait                                     time.Duration
}

func (c *cli) addAuditFlags() {
	a := &c.audit
	c.fs.StringVar(&a.es, "es", os.Getenv("LOGAGENT_AUDIT_ES_URL"), "Elasticsearch URL (required; default $LOGAGENT_AUDIT_ES_URL)")
	c.fs.StringVar(&a.esCA, "es-ca", "", "PEM CA bundle to trust for an https -es (default: the system's)")
	c.fs.StringVar(&a.group, "group", "", "audit only the agents in this group")
	c.fs.StringVar(&a.host, "host", "", "audit only the agent with this IP")
	c.fs.StringVar(&a.output, "o", "text", "output: text or json")
	c.fs.StringVar(&a.index, "index", "logcollect-*", "the data indices (the transfer's index_prefix and -*)")
	c.fs.StringVar(&a.deadLetter, "dead-letter-index", "logcollect-dead-letter", "the transfer's dead_letter_index")
	c.fs.DurationVar(&a.settle, "settle", 5*time.Second, "lines short in Elasticsearch are missing once the counts stay the same this long")
	c.fs.DurationVar(&a.wait, "wait", 30*time.Second, "at most this long waiting for the counts to settle; then they are in flight")
}

func runAudit(ctx context.Context, c *cli) int {
	a := c.audit
	switch {
	case len(c.args) != 0:
		return c.usageError("unexpected arguments %q", c.args)
	case a.es == "":
		return c.usageError("-es is required: the Elasticsearch URL the transfer writes to, like http://127.0.0.1:9200")
	case !strings.HasPrefix(a.es, "http://") && !strings.HasPrefix(a.es, "https://"):
		return c.usageError("-es %q: want an http:// or https:// URL", a.es)
	case a.output != "text" && a.output != "json":
		return c.usageError("-o %q: want text or json", a.output)
	case a.host != "" && net.ParseIP(a.host) == nil:
		return c.usageError("-host %q is not an IP address", a.host)
	case a.settle <= 0 || a.wait < a.settle:
		return c.usageError("-settle must be positive and -wait at least -settle (got %s and %s)", a.settle, a.wait)
	}
	tlsCfg, err := tlsconf.Files{CAFile: a.esCA}.Config()
	if err != nil {
		return c.usageError("-es-ca: %v", err)
	}
	cli, cfg, code := c.connect()
	if cli == nil {
		return code
	}
	defer cli.Close()
	hosts, err := readHosts(ctx, cli, cfg, c)
	if err != nil {
		return c.fail(exitRuntime, "%v", err)
	}
	hosts = audit.Filter(hosts, a.group, a.host)
	if len(hosts) == 0 {
		return c.fail(exitRuntime, "no agent publishes status%s: nothing to audit (a stopped agent's status is gone within status_ttl)", filterText(a))
	}
	es := audit.HTTPSearcher{URL: a.es, Client: &http.Client{Timeout: time.Minute, Transport: &http.Transport{TLSClientConfig: tlsCfg}}}
	rep, err := audit.Run(ctx, hosts, es, audit.Options{Indices: a.index, DeadLetterIndex: a.deadLetter, Settle: a.settle, Wait: a.wait})
	if err != nil {
		return c.fail(exitRuntime, "%v", err)
	}
	if a.output == "json" {
		out, _ := json.MarshalIndent(rep, "", "  ")
		fmt.Fprintf(c.stdout, "%s\n", out)
	} else if err := rep.WriteText(c.stdout); err != nil {
		return c.fail(exitRuntime, "%v", err)
	}
	if rep.Missing > 0 {
		return exitRuntime
	}
	return exitOK
}

func filterText(a auditFlags) string {
	var parts []string
	if a.group != "" {
		parts = append(parts, "in group "+a.group)
	}
	if a.host != "" {
		parts = append(parts, "with IP "+a.host)
	}
	if len(parts) == 0 {
		return ""
	}
	return " " + strings.Join(parts, " ")
}

// readHosts reads every agent's status document.
func readHosts(ctx context.Context, cli *clientv3.Client, cfg config.Config, c *cli) ([]audit.Host, error) {
	prefix, suffix := cfg.Etcd.StatusKeyParts()
	resp, err := request(ctx, cfg, func(ctx context.Context) (*clientv3.GetResponse, error) {
		return cli.Get(ctx, prefix, clientv3.WithPrefix())
	})
	if err != nil {
		return nil, fmt.Errorf("read %s*%s: %w", prefix, suffix, err)
	}
	var hosts []audit.Host
	for _, kv := range resp.Kvs {
		ip, ok := strings.CutSuffix(strings.TrimPrefix(string(kv.Key), prefix), suffix)
		if !ok || ip == "" || strings.Contains(ip, "/") {
			continue // another key under the prefix (a collect config)
		}
		h, err := audit.DecodeStatus(kv.Value, ip)
		if err != nil {
			fmt.Fprintf(c.stderr, "logagent audit: %s: %v; skipped\n", kv.Key, err)
			continue
		}
		hosts = append(hosts, h)
	}
	return hosts, nil
}
