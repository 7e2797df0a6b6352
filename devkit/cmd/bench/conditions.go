package main

import (
	"context"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/logcollect/logcollect/devkit/proc"
	"github.com/logcollect/logcollect/pkg/backoff"
)

// conditions are the settings and the measurement window of the agent
// scenarios. bench's own (the zero value) measure the agent from its start
// until the first poll that finds every record in the topic, with the
// metrics endpoint on and required_acks = all. issue19 reproduces the
// outside measurement of issue 19: required_acks = leader, no compression,
// scan_interval = 1s, no HTTP listener, log level warn, and CPU until 2 s
// after the last record is in the topic. Each field can be set alone to
// attribute a difference.
type conditions struct {
	name         string
	acks         string        // [kafka] required_acks
	noHTTP       bool          // [agent] http_listen empty (no metrics endpoint)
	logLevel     string        // [log] level; "" = the default (info)
	scanInterval string        // [agent] scan_interval; "" = the default (5s)
	tail         time.Duration // CPU read this long after the last record is in the topic
	// seedFiles (agent-many): each file gets one line and the agent is
	// waited for until those are in Kafka, instead of waiting for its
	// logagent_files_open metric.
	seedFiles bool
}

func benchConditions() conditions { return conditions{name: "bench", acks: "all"} }

func issue19Conditions() conditions {
	return conditions{name: "issue19", acks: "leader", noHTTP: true, logLevel: "warn", scanInterval: "1s",
		tail: 2 * time.Second, seedFiles: true}
}

// conditionFlags adds -conditions and the per-setting overrides to an agent
// scenario's flags; the returned function resolves them after parsing.
func conditionFlags(fs *flag.FlagSet) func() (conditions, error) {
	preset := fs.String("conditions", "bench", "bench (required_acks=all, metrics endpoint on, CPU until the last record is in the topic) or issue19 (the outside run's settings, CPU until 2 s after; see BENCHMARKS.md)")
	acks := fs.String("acks", "", "override required_acks: all, leader or none")
	http := fs.String("http", "", "override the metrics endpoint: on or off")
	level := fs.String("log-level", "", "override [log] level")
	scan := fs.String("scan-interval", "", "override [agent] scan_interval (e.g. 1s)")
	tail := fs.String("tail", "", "override how long after the last record the CPU is read (e.g. 2s, 0)")
	return func() (conditions, error) {
		var c conditions
		switch *preset {
		case "bench":
			c = benchConditions()
		case "issue19":
			c = issue19Conditions()
		default:
			return c, fmt.Errorf("-conditions %q: want bench or issue19", *preset)
		}
		var changed []string
		if *acks != "" {
			c.acks = *acks
			changed = append(changed, "acks="+*acks)
		}
		switch *http {
		case "":
		case "on", "off":
			c.noHTTP = *http == "off"
			changed = append(changed, "http="+*http)
		default:
			return c, fmt.Errorf("-http %q: want on or off", *http)
		}
		if *level != "" {
			c.logLevel = *level
			changed = append(changed, "log="+*level)
		}
		if *scan != "" {
			c.scanInterval = *scan
			changed = append(changed, "scan="+*scan)
		}
		if *tail != "" {
			d, err := time.ParseDuration(*tail)
			if err != nil {
				return c, fmt.Errorf("-tail: %w", err)
			}
			c.tail = d
			changed = append(changed, "tail="+*tail)
		}
		if len(changed) > 0 {
			c.name += " " + strings.Join(changed, ",")
		}
		return c, nil
	}
}

// ini is the part of the agent's ini these conditions decide.
func (c conditions) ini(httpAddr string) (kafka, agent, log string) {
	acks := c.acks
	if acks == "" {
		acks = "all" // the zero value is bench's conditions
	}
	kafka = fmt.Sprintf("required_acks = %s\ncompression = none\n", acks)
	if c.noHTTP {
		httpAddr = ""
	}
	agent = fmt.Sprintf("http_listen = %s\n", httpAddr)
	if c.scanInterval != "" {
		agent += fmt.Sprintf("scan_interval = %s\n", c.scanInterval)
	}
	if c.logLevel != "" {
		log = fmt.Sprintf("[log]\nlevel = %s\n", c.logLevel)
	}
	return kafka, agent, log
}

func (o *options) setConditions(resolve func() (conditions, error)) error {
	c, err := resolve()
	if err != nil {
		return err
	}
	o.cond = c
	return nil
}

// label is what a scenario's name says about its conditions.
func (c conditions) label() string {
	if c.name == "" || c.name == "bench" {
		return ""
	}
	return ", conditions " + c.name
}

// usageAfter reads p's resource use now and, when tail > 0, again tail
// later: the outside measurement counts the agent until 2 s after the last
// record is in the topic.
func usageAfter(ctx context.Context, p *proc.Process, tail time.Duration) (now, after proc.Usage, err error) {
	if now, err = p.Usage(); err != nil || tail <= 0 {
		return now, now, err
	}
	if err := backoff.Sleep(ctx, tail); err != nil {
		return now, now, err
	}
	after, err = p.Usage()
	return now, after, err
}
