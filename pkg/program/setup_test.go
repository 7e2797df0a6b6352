package program

import (
	"bytes"
	"errors"
	"flag"
	"strings"
	"testing"

	"github.com/logcollect/logcollect/pkg/logging"
)

func TestSetup(t *testing.T) {
	type conf struct{ log logging.Settings }
	good := func() (conf, []string, error) {
		return conf{logging.DefaultSettings()}, []string{"[kafka] address is an alias of brokers"}, nil
	}
	tests := []struct {
		name     string
		args     []string // after the shared flags (AddFlags)
		load     func() (conf, []string, error)
		done     bool
		code     int    // ExitCode of the error
		stdout   string // contained
		stderr   string // contained
		noLogger bool
	}{
		{name: "settings and their warnings", load: good, stderr: "alias of brokers", code: ExitOK},
		{name: "stray argument", args: []string{"extra"}, load: good, code: ExitUsage, noLogger: true},
		{name: "version", args: []string{"-version"}, load: good, done: true, stdout: "prog", code: ExitOK, noLogger: true},
		{name: "check", args: []string{"-check", "-config", "p.ini"}, load: good, done: true, stdout: "settings ok: p.ini", stderr: "alias of brokers", code: ExitOK},
		{name: "check of bad settings", args: []string{"-check"}, load: func() (conf, []string, error) { return conf{}, nil, errors.New("[es] urls: empty") }, code: ExitUsage, noLogger: true},
		{name: "bad settings", load: func() (conf, []string, error) { return conf{}, nil, errors.New("[es] urls: empty") }, code: ExitUsage, noLogger: true},
		{name: "bad log level", load: func() (conf, []string, error) { return conf{logging.Settings{Level: "loud"}}, nil, nil }, code: ExitUsage, noLogger: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fs := flag.NewFlagSet("prog", flag.ContinueOnError)
			f := AddFlags(fs, "conf/prog.ini")
			if err := fs.Parse(tt.args); err != nil {
				t.Fatal(err)
			}
			var stdout, stderr bytes.Buffer
			_, log, done, err := Setup("prog", fs, f, &stdout, &stderr, tt.load, func(c conf) logging.Settings { return c.log })
			if done != tt.done || ExitCode(err) != tt.code || (log == nil) != tt.noLogger {
				t.Errorf("Setup = logger %v, done %v, err %v; want logger %v, done %v, exit code %d", log != nil, done, err, !tt.noLogger, tt.done, tt.code)
			}
			if !strings.Contains(stdout.String(), tt.stdout) || !strings.Contains(stderr.String(), tt.stderr) {
				t.Errorf("stdout %q, stderr %q; want them to contain %q and %q", stdout.String(), stderr.String(), tt.stdout, tt.stderr)
			}
		})
	}
}
