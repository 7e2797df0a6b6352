// Package proc runs the project's binaries as real processes — for the demo,
// the benchmarks and the crash suite — and reads their resource use from
// /proc: CPU seconds (utime+stime) and peak RSS (VmHWM).
package proc

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Build compiles the main packages into dir (go build -o dir/ pkgs...) from
// the repository root, once per call.
func Build(ctx context.Context, repoRoot, dir string, pkgs ...string) error {
	args := append([]string{"build", "-o", dir + string(filepath.Separator)}, pkgs...)
	cmd := exec.CommandContext(ctx, "go", args...)
	cmd.Dir = repoRoot
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build %s: %w\n%s", strings.Join(pkgs, " "), err, out)
	}
	return nil
}

// Spec describes a process to start.
type Spec struct {
	Name string   // for messages
	Path string   // binary
	Args []string // arguments
	Env  []string // added to the current environment
	Dir  string   // working directory
	// Log receives stdout and stderr; nil discards them. Output is also kept
	// in memory (the last 64 KiB) for error messages.
	Log io.Writer
}

// Process is a started process.
type Process struct {
	spec Spec
	cmd  *exec.Cmd
	tail *tailBuffer
	done chan struct{}
	err  error
}

// Start starts the process in its own process group so a stop reaches its
// children too.
func Start(spec Spec) (*Process, error) {
	cmd := exec.Command(spec.Path, spec.Args...)
	cmd.Env = append(os.Environ(), spec.Env...)
	cmd.Dir = spec.Dir
	tail := &tailBuffer{max: 64 << 10}
	var out io.Writer = tail
	if spec.Log != nil {
		out = io.MultiWriter(spec.Log, tail)
	}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", spec.Name, err)
	}
	p := &Process{spec: spec, cmd: cmd, tail: tail, done: make(chan struct{})}
	go func() {
		p.err = cmd.Wait()
		close(p.done)
	}()
	return p, nil
}

// Pid is the process id.
func (p *Process) Pid() int { return p.cmd.Process.Pid }

// Done is closed when the process has exited.
func (p *Process) Done() <-chan struct{} { return p.done }

// Exited reports whether the process has exited, and its error.
func (p *Process) Exited() (bool, error) {
	select {
	case <-p.done:
		return true, p.err
	default:
		return false, nil
	}
}

// Output is the tail of what the process printed.
func (p *Process) Output() string { return p.tail.String() }

// Signal sends sig to the process.
func (p *Process) Signal(sig syscall.Signal) error {
	return p.cmd.Process.Signal(sig)
}

// Kill sends SIGKILL and waits for the exit: a crash, not a shutdown.
func (p *Process) Kill() {
	_ = syscall.Kill(-p.Pid(), syscall.SIGKILL)
	<-p.done
}

// Stop sends SIGTERM and waits up to grace for a clean exit, then kills.
// It returns the exit error of a process that stopped by itself, or an
// error saying it had to be killed.
func (p *Process) Stop(grace time.Duration) error {
	if exited, err := p.Exited(); exited {
		return err
	}
	_ = p.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		return p.err
	case <-time.After(grace):
		p.Kill()
		return fmt.Errorf("%s did not stop within %v of SIGTERM; killed", p.spec.Name, grace)
	}
}

// Usage is a process's resource use so far.
type Usage struct {
	CPUSeconds float64 // user + system
	PeakRSS    int64   // bytes (VmHWM)
	RSS        int64   // bytes (VmRSS)
}

// clockTicks is USER_HZ, 100 on every Linux the project targets.
const clockTicks = 100

// Usage reads /proc/<pid>/stat and status; the process must still run.
func (p *Process) Usage() (Usage, error) { return ReadUsage(p.Pid()) }

// ReadUsage reads the resource use of any running pid.
func ReadUsage(pid int) (Usage, error) {
	var u Usage
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return u, fmt.Errorf("read stat of %d: %w", pid, err)
	}
	// Fields after the command name, which is in parentheses and may hold spaces.
	rest := stat[bytes.LastIndexByte(stat, ')')+2:]
	f := strings.Fields(string(rest))
	if len(f) < 13 {
		return u, fmt.Errorf("short stat of %d", pid)
	}
	utime, _ := strconv.ParseFloat(f[11], 64)
	stime, _ := strconv.ParseFloat(f[12], 64)
	u.CPUSeconds = (utime + stime) / clockTicks

	status, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return u, fmt.Errorf("read status of %d: %w", pid, err)
	}
	defer status.Close()
	sc := bufio.NewScanner(status)
	for sc.Scan() {
		line := sc.Text()
		for _, k := range []struct {
			prefix string
			dst    *int64
		}{{"VmHWM:", &u.PeakRSS}, {"VmRSS:", &u.RSS}} {
			if strings.HasPrefix(line, k.prefix) {
				kb, _ := strconv.ParseInt(strings.Fields(line[len(k.prefix):])[0], 10, 64)
				*k.dst = kb << 10
			}
		}
	}
	return u, sc.Err()
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	buf []byte
	max int
}

func (t *tailBuffer) Write(b []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf = append(t.buf, b...)
	if over := len(t.buf) - t.max; over > 0 {
		t.buf = append(t.buf[:0], t.buf[over:]...)
	}
	return len(b), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return string(t.buf)
}
