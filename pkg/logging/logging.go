// Package logging builds the services' slog logger from the [log] settings.
package logging

import (
	"fmt"
	"io"
	"log/slog"
	"strings"

	"github.com/logcollect/logcollect/pkg/settings"
)

// Levels and Formats are the accepted [log] level and format values.
var (
	Levels  = []string{"debug", "info", "warn", "error"}
	Formats = []string{"text", "json"}
)

// Settings are a service's [log] settings.
type Settings struct {
	Level  string
	Format string
}

// DefaultSettings are the [log] settings of an empty ini file.
func DefaultSettings() Settings { return Settings{Level: "info", Format: "text"} }

// Read reads [log] level and format over def.
func Read(f *settings.File, def Settings) Settings {
	return Settings{
		Level:  f.Enum("log", "level", def.Level, Levels),
		Format: f.Enum("log", "format", def.Format, Formats),
	}
}

// New returns a logger writing to w at level in format ("text" or "json").
func New(w io.Writer, level, format string) (*slog.Logger, error) {
	var lv slog.Level
	if err := lv.UnmarshalText([]byte(strings.ToUpper(level))); err != nil {
		return nil, fmt.Errorf("log level %q: want one of %s", level, strings.Join(Levels, ", "))
	}
	opts := &slog.HandlerOptions{Level: lv}
	switch strings.ToLower(format) {
	case "text", "":
		return slog.New(slog.NewTextHandler(w, opts)), nil
	case "json":
		return slog.New(slog.NewJSONHandler(w, opts)), nil
	}
	return nil, fmt.Errorf("log format %q: want one of %s", format, strings.Join(Formats, ", "))
}

// Discard is a logger that drops everything, for tests and libraries.
func Discard() *slog.Logger { return slog.New(slog.DiscardHandler) }
