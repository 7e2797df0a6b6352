package program

import (
	"flag"
	"fmt"
	"io"
	"log/slog"

	"github.com/logcollect/logcollect/pkg/buildinfo"
	"github.com/logcollect/logcollect/pkg/logging"
)

// Setup finishes what both services do once their flags are parsed: stray
// arguments are a usage error, -version prints the version and stops (done),
// the settings are loaded (a problem is a usage error: exit 2) and the logger
// they ask for is built and given their warnings.
func Setup[C any](name string, fs *flag.FlagSet, version bool, stdout, stderr io.Writer,
	load func() (C, []string, error), logSettings func(C) logging.Settings) (cfg C, log *slog.Logger, done bool, err error) {
	if fs.NArg() > 0 {
		return cfg, nil, false, Usagef("unexpected arguments %q", fs.Args())
	}
	if version {
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
	return cfg, log, false, nil
}
