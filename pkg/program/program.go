// Package program gives every binary the same shape: main only calls Main
// with the binary's run function; run(ctx, args, stdout, stderr) does the
// work and returns an error; Main builds the context from signals and maps
// the error to the exit code. Tests call run directly.
package program

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"
)

// Exit codes, the same for every binary.
const (
	ExitOK      = 0
	ExitFailure = 1 // failed while running
	ExitUsage   = 2 // bad flags or settings: fix them, retrying will not help
)

// RunFunc is a binary's whole program minus signal handling and exit codes.
type RunFunc func(ctx context.Context, args []string, stdout, stderr io.Writer) error

// ErrUsage marks errors the operator must fix in flags or settings
// (errors.Is(err, ErrUsage)): exit code ExitUsage.
var ErrUsage = errors.New("usage")

// usageError is err marked as a usage error; its message is err's alone.
type usageError struct{ err error }

func (e usageError) Error() string        { return e.err.Error() }
func (e usageError) Unwrap() error        { return e.err }
func (e usageError) Is(target error) bool { return target == ErrUsage }

// Usage marks err as a mistake in flags or settings (exit code ExitUsage).
func Usage(err error) error { return usageError{err} }

// Usagef is Usage(fmt.Errorf(format, args...)).
func Usagef(format string, args ...any) error { return Usage(fmt.Errorf(format, args...)) }

// reportedError is an outcome run has already reported in full on stderr:
// only its exit code is left to give.
type reportedError struct{ code int }

func (e reportedError) Error() string { return fmt.Sprintf("exit status %d", e.code) }

// Exit returns the error for an outcome run has already reported itself
// (a subcommand that printed its problems): Main prints nothing more and
// exits with code. Exit(ExitOK) is nil.
func Exit(code int) error {
	if code == ExitOK {
		return nil
	}
	return reportedError{code}
}

// ExitCode is the exit code of run's error: ExitOK for nil and for
// flag.ErrHelp (help asked for and printed), the code of Exit, ExitUsage
// for ErrUsage, else ExitFailure.
func ExitCode(err error) int {
	var reported reportedError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return ExitOK
	case errors.As(err, &reported):
		return reported.code
	case errors.Is(err, ErrUsage):
		return ExitUsage
	default:
		return ExitFailure
	}
}

// Report writes "name: err" to w unless err needs no words (nil, help, an
// outcome run reported itself), and returns ExitCode(err).
func Report(name string, err error, w io.Writer) int {
	code := ExitCode(err)
	var reported reportedError
	if code != ExitOK && !errors.As(err, &reported) {
		fmt.Fprintf(w, "%s: %v\n", name, err)
	}
	return code
}

// Main runs run with the command line and exits with its code. The first
// SIGINT or SIGTERM cancels run's context: a clean stop. A second one exits
// at once with ExitFailure; the binaries make that safe by saving progress
// (agent checkpoints, transfer offsets) only for what the next stage
// acknowledged, and only ever whole, so what was in flight is sent again.
func Main(name string, run RunFunc) {
	ctx, cancel := context.WithCancel(context.Background())
	sigs := make(chan os.Signal, 2)
	signal.Notify(sigs, syscall.SIGTERM, syscall.SIGINT)
	go func() {
		s := <-sigs
		fmt.Fprintf(os.Stderr, "%s: %s: stopping (send it again to exit at once)\n", name, s)
		cancel()
		<-sigs
		fmt.Fprintf(os.Stderr, "%s: second signal: exiting at once\n", name)
		os.Exit(ExitFailure)
	}()
	err := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	cancel()
	os.Exit(Report(name, err, os.Stderr))
}
