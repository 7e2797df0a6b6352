package program

import (
	"flag"
	"fmt"
	"io"
	"log/slog"

	"github.com/logcollect/logcollect/pkg/buildinfo"
	"github.com/logcollect/logcollect/pkg/logging"
)

// Flags are the flags both services take.
type Flags struct {
	Config  string // the ini settings file
	Version bool   // print the version and stop
	Check   bool   // load and validate the settings, say so and stop
}

// AddFlags defines -config (defaulting to defaultConfig), -check and
// -version on fs.
func AddFlags(fs *flag.FlagSet, defaultConfig string) *Flags {
	f := &Flags{}
	fs.StringVar(&f.Config, "config", defaultConfig, "path of the ini settings file")
	fs.BoolVar(&f.Check, "check", false, "validate the settings (file and environment) and exit: 0 when valid, 2 with every problem listed")
	fs.BoolVar(&f.Version, "version", false, "print the version and exit")
	return f
}

// Setup finishes what both services do once their flags are parsed: stray
// arguments are a usage error, -version prints the version and stops (done),
// the settings are loaded (a problem is a usage error: exit 2) and the logger
// they ask for is built and given their warnings; -check then says the
// settings are valid and stops (done).
func Setup[C any](name string, fs *flag.FlagSet, f *Flags, stdout, stderr io.Writer,
	load func() (C, []string, error), logSettings func(C) logging.Settings) (cfg C, log *slog.Logger, done bool, err error) {
	if fs.NArg() > 0 {
		return cfg, nil, false, Usagef("unexpected arguments %q", fs.Args())
	}
	if f.Version {
		fmt.Fprintln(stdout, buildinfo.String(name))
		return cfg, nil, true, nil
	}
	cfg, warnings, err := load()
	if err != nil {
		return cfg, nil, false, Usagef("bad settings:\n%w", err)
	}
	ls := logSettings(cfg)
	if log, err = logging.New(stderr, ls.Level, ls.Format); err != nil {
		return cfg, nil, false, Usage(err)
	}
	for _, w := range warnings {
		log.Warn(w)
	}
	if f.Check {
		fmt.Fprintln(stdout, "settings ok:", f.Config)
		return cfg, log, true, nil
	}
	return cfg, log, false, nil
}
