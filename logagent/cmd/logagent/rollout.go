package main

// logagent rollout: stage a group's collect config change wave by wave
// (logagent/internal/rollout drives it; this file is its command line).

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"text/tabwriter"
	"time"

	clientv3 "go.etcd.io/etcd/client/v3"

	"github.com/logcollect/logcollect/logagent/internal/config"
	"github.com/logcollect/logcollect/logagent/internal/rollout"
	"github.com/logcollect/logcollect/pkg/fleet"
)

const rolloutUsage = `logagent rollout start -group GROUP [-steps 1,10%,50%,100%] [-bake 60s] [-timeout 5m] FILE
       logagent rollout status -group GROUP [-o json]
       logagent rollout abort -group GROUP
       logagent rollout resume -group GROUP [-timeout 5m]
       (each also takes -config agent.ini | -endpoints URLS)

Changes the collect config of a group of agents (their [agent] groups) step by
step. start validates FILE like "logagent validate" (with -config's
allowed_paths; every agent also applies its own), then runs the candidate on
the agents of the first wave only (chosen by a stable hash of each agent's
host id, so the canaries are the same hosts every time), and moves to the next
wave when every agent of the wave reports the candidate applied and healthy
for -bake: not rejected by its own rules, no new read or permission errors,
still matching files where the stable config matched some, lag not growing.
A wave's agent that does not report the candidate within -timeout (offline,
still on the old config) fails it. A failed wave rolls back by itself: the
candidate is withdrawn, every agent returns to the stable config, and start
exits 1 naming each failing host and why. When the last wave (always 100%)
passes, the candidate becomes the group's config (logagent get -group) in one
etcd transaction.

The rollout lives in etcd (/logagent/groups/GROUP/rollout), not in this
command: if the command dies or etcd becomes unreachable, the rollout stays
where it is (agents keep what they run; status shows "paused (no
controller)") until "rollout resume" continues it from its wave or "rollout
abort" withdraws the candidate. An interrupted start (Ctrl-C) marks it paused.
Agents that are offline when a wave starts are not in it; when they return
they run what the rollout selects for them. Only one rollout per group runs,
and only one command drives it (a lock with a lease of -lock-ttl).

Exit code 0 done (status, abort: printed, aborted), 1 failed and rolled back,
aborted, paused, nothing to do or etcd error, 2 usage.

` + etcdFlagsHelp + `
Examples:
  logagent rollout start -group web -endpoints http://etcd1:2379 collect.json
  logagent rollout start -group web -steps 2,25%,100% -bake 5m collect.json
  logagent rollout status -group web -o json | jq .rollout.waves
  logagent rollout abort -group web

Flags:
`

func runRollout(ctx context.Context, c *cli) int {
	if len(c.args) == 0 {
		return c.usageError("want an action: start, status, abort or resume")
	}
	action, args := c.args[0], c.args[1:]
	switch {
	case action != "start" && action != "status" && action != "abort" && action != "resume":
		return c.usageError("unknown action %q: want start, status, abort or resume", action)
	case c.group == "":
		return c.usageError("-group is required: the group whose config changes")
	case action == "start" && len(args) != 1:
		return c.usageError("rollout start wants exactly one FILE, got %d arguments", len(args))
	case action != "start" && len(args) != 0:
		return c.usageError("unexpected arguments %q", args)
	case c.output != "" && c.output != "json":
		return c.usageError("-o %q: want json (or nothing for the table)", c.output)
	case c.waveTimeout <= 0 || c.lockTTL < time.Second || c.bake < 0:
		return c.usageError("-timeout and -bake must not be negative, -timeout above 0 and -lock-ttl at least 1s")
	}
	if err := fleet.CheckGroup(c.group); err != nil {
		return c.usageError("-group: %v", err)
	}
	var o rollout.Options
	if action == "start" {
		steps, err := fleet.ParseSteps(c.steps)
		if err != nil {
			return c.usageError("-steps: %v", err)
		}
		policy, err := c.policy()
		if err != nil {
			return c.fail(exitUsage, "%v", err)
		}
		data, _, ok := c.validateFile(args[0], policy)
		if !ok {
			fmt.Fprintf(c.stderr, "logagent rollout: nothing started: fix the problems above\n")
			return exitRuntime
		}
		o = rollout.Options{Group: c.group, Candidate: data, Steps: steps, Bake: c.bake, WaveTimeout: c.waveTimeout}
	}
	cli, cfg, code := c.connect()
	if cli == nil {
		return code
	}
	defer cli.Close()
	ctl := newController(cli, cfg, c)
	var err error
	switch action {
	case "start":
		_, err = ctl.Start(ctx, o)
	case "resume":
		_, err = ctl.Resume(ctx, c.group, c.waveTimeout)
	case "abort":
		var r *fleet.Rollout
		if r, err = ctl.Abort(ctx, c.group, whoami()); err == nil {
			fmt.Fprintf(c.stdout, "rollout %s of group %s: %s; agents return to the stable config r%d\n", r.ID, r.Group, r.Message, r.StableRevision)
		}
	case "status":
		return c.rolloutStatus(ctx, ctl, cfg)
	}
	if err != nil {
		return c.fail(exitRuntime, "%v", err)
	}
	return exitOK
}

func newController(cli *clientv3.Client, cfg config.Config, c *cli) *rollout.Controller {
	prefix, suffix := cfg.Etcd.StatusKeyParts()
	return &rollout.Controller{Cli: cli, Keys: fleetKeys(cfg), Status: rollout.StatusKeys{Prefix: prefix, Suffix: suffix},
		Request: cfg.Etcd.DialTimeout, LockTTL: c.lockTTL, Out: c.stdout}
}

// whoami names the operator in an abort message.
func whoami() string {
	host, _ := os.Hostname()
	if u := os.Getenv("USER"); u != "" {
		return u + "@" + host
	}
	return fmt.Sprintf("pid %d on %s", os.Getpid(), host)
}

// rolloutStatusJSON is what rollout status -o json prints.
type rolloutStatusJSON struct {
	Group      string         `json:"group"`
	State      string         `json:"state"` // the document's state, or "paused (no controller)"
	Rollout    *fleet.Rollout `json:"rollout"`
	Controller *rollout.Lock  `json:"controller"`
	// StableRevision is the group config's revision now.
	StableRevision int64 `json:"stable_revision"`
}

func (c *cli) rolloutStatus(ctx context.Context, ctl *rollout.Controller, cfg config.Config) int {
	s, err := request(ctx, cfg, func(ctx context.Context) (rollout.Snapshot, error) { return ctl.Read(ctx, c.group) })
	if err != nil {
		return c.fail(exitRuntime, "read the rollout of group %s: %v", c.group, err)
	}
	if s.Rollout == nil {
		return c.fail(exitRuntime, "group %s has no rollout (start one with logagent rollout start -group %s FILE)", c.group, c.group)
	}
	if c.output == "json" {
		out, _ := json.MarshalIndent(rolloutStatusJSON{Group: c.group, State: rollout.Describe(s), Rollout: s.Rollout, Controller: s.Lock, StableRevision: s.StableRevision}, "", "  ")
		fmt.Fprintf(c.stdout, "%s\n", out)
		return exitOK
	}
	r := s.Rollout
	fmt.Fprintf(c.stdout, "group %s: rollout %s %s", c.group, r.ID, rollout.Describe(s))
	if r.Active() {
		fmt.Fprintf(c.stdout, " at wave %d of %d", r.Wave+1, len(r.Steps))
	}
	if s.Lock != nil {
		fmt.Fprintf(c.stdout, ", driven by %s pid %d since %s", s.Lock.Host, s.Lock.PID, s.Lock.Since.Format(time.RFC3339))
	}
	fmt.Fprintf(c.stdout, "\ncandidate %s, stable r%d, bake %s, started %s\n", r.Hash, r.StableRevision, r.Bake, r.StartedAt.Format(time.RFC3339))
	tw := tabwriter.NewWriter(c.stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "WAVE\tSTEP\tTARGETS\tSTARTED\tFINISHED\tRESULT")
	for i, w := range r.Waves {
		fin, res := "-", w.Result
		if !w.Finished.IsZero() {
			fin = w.Finished.Format(time.TimeOnly)
		}
		if res == "" {
			res = "running"
		}
		fmt.Fprintf(tw, "%d\t%s\t%d\t%s\t%s\t%s\n", i+1, w.Step, w.Targets, w.Started.Format(time.TimeOnly), fin, res)
	}
	for i := len(r.Waves); i < len(r.Steps); i++ {
		fmt.Fprintf(tw, "%d\t%s\t-\t-\t-\tpending\n", i+1, r.Steps[i])
	}
	tw.Flush()
	for _, f := range r.Failures {
		fmt.Fprintf(c.stdout, "failed: %s (%s): %s\n", f.Host, f.IP, f.Reason)
	}
	if r.Message != "" {
		fmt.Fprintf(c.stdout, "%s\n", r.Message)
	}
	if rollout.Describe(s) == "paused (no controller)" || r.State == fleet.StatePaused {
		fmt.Fprintf(c.stdout, "continue with logagent rollout resume -group %s, or withdraw with logagent rollout abort -group %s\n", c.group, c.group)
	}
	return exitOK
}
