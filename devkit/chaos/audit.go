package chaos

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os/exec"
	"time"

	"github.com/logcollect/logcollect/pkg/audit"
)

// Audit runs the logagent binary's delivery audit (`logagent audit -o
// json`) against the cluster's etcd and emulator, as an operator would,
// and returns its report, the process's exit code and its output. Lines
// short in the index are looked at again until their counts stay the same
// for settle (at most 6×settle). args are extra flags (-host, -group).
func (c *Cluster) Audit(ctx context.Context, settle time.Duration, args ...string) (audit.Report, int, string, error) {
	stdout, stderr, code, err := c.AuditText(ctx, settle, append([]string{"-o", "json"}, args...)...)
	if err != nil {
		return audit.Report{}, code, stderr, err
	}
	var rep audit.Report
	if err := json.Unmarshal([]byte(stdout), &rep); err != nil {
		return audit.Report{}, code, stdout + stderr, fmt.Errorf("logagent audit (exit %d) printed no report: %w\n%s%s", code, err, stdout, stderr)
	}
	return rep, code, stdout + stderr, nil
}

// AuditText runs `logagent audit` with args and returns what it printed
// and its exit code.
func (c *Cluster) AuditText(ctx context.Context, settle time.Duration, args ...string) (stdout, stderr string, code int, err error) {
	ctx, cancel := context.WithTimeout(ctx, 6*settle+time.Minute)
	defer cancel()
	argv := append([]string{"audit", "-es", c.Endpoints.Elasticsearch, "-endpoints", c.Endpoints.Etcd,
		"-settle", settle.String(), "-wait", (6 * settle).String()}, args...)
	cmd := exec.CommandContext(ctx, c.cfg.Bin.Agent, argv...)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err = cmd.Run()
	var exit *exec.ExitError
	switch {
	case errors.As(err, &exit):
		return out.String(), errOut.String(), exit.ExitCode(), nil
	case err != nil:
		return out.String(), errOut.String(), -1, fmt.Errorf("run logagent audit: %w", err)
	}
	return out.String(), errOut.String(), 0, nil
}

// AuditClean runs Audit and says what is wrong unless every audited file
// has counts and nothing is missing or in flight: the final check of a
// scenario whose pipeline has drained.
func (c *Cluster) AuditClean(ctx context.Context, settle time.Duration) error {
	rep, code, out, err := c.Audit(ctx, settle)
	if err != nil {
		return err
	}
	if code != 0 || rep.Missing > 0 || rep.InFlight > 0 || rep.Files == 0 {
		return fmt.Errorf("audit: exit %d, %s\n%s", code, rep.Summary(), out)
	}
	return nil
}
