package program

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"testing"
)

func TestExitCodeAndReport(t *testing.T) {
	tests := []struct {
		name   string
		err    error
		code   int
		report string // what Report writes
	}{
		{"nil", nil, ExitOK, ""},
		{"help", flag.ErrHelp, ExitOK, ""},
		{"wrapped help", fmt.Errorf("parse: %w", flag.ErrHelp), ExitOK, ""},
		{"usage", Usagef("bad settings:\n%w", errors.New("[kafka] x: unknown key")), ExitUsage, "prog: bad settings:\n[kafka] x: unknown key\n"},
		{"wrapped usage", fmt.Errorf("load: %w", Usage(errors.New("no such file"))), ExitUsage, "prog: load: no such file\n"},
		{"runtime", errors.New("kafka down"), ExitFailure, "prog: kafka down\n"},
		{"reported failure", Exit(ExitFailure), ExitFailure, ""},
		{"reported usage", Exit(ExitUsage), ExitUsage, ""},
		{"reported ok", Exit(ExitOK), ExitOK, ""},
	}
	for _, tt := range tests {
		if got := ExitCode(tt.err); got != tt.code {
			t.Errorf("%s: ExitCode = %d, want %d", tt.name, got, tt.code)
		}
		var w bytes.Buffer
		if got := Report("prog", tt.err, &w); got != tt.code || w.String() != tt.report {
			t.Errorf("%s: Report = %d %q, want %d %q", tt.name, got, w.String(), tt.code, tt.report)
		}
	}
	if err := Usagef("x %d", 1); !errors.Is(err, ErrUsage) || err.Error() != "x 1" {
		t.Errorf("Usagef: %v (Is ErrUsage: %v)", err, errors.Is(err, ErrUsage))
	}
}
