// Package journald reads the systemd journal as a stream of entries by
// running `journalctl --output=json` (no cgo), resuming after a saved cursor.
// The agent turns entries into records and persists the cursor of the last
// contiguously acknowledged entry, so a crash re-reads at most the
// unacknowledged entries and never skips one.
package journald

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
)

// Seek says where a journal with no saved cursor starts.
const (
	SeekTail   = "tail"   // only entries written from now on (default: no flood of history)
	SeekHead   = "head"   // everything the journal holds
	SeekCursor = "cursor" // after Options.Cursor
)

// Priorities are the syslog priority names journalctl accepts, by value.
var Priorities = []string{"emerg", "alert", "crit", "err", "warning", "notice", "info", "debug"}

// Options select what to read.
type Options struct {
	Journalctl string   // the journalctl binary; "" finds it on PATH
	Directory  string   // a journal directory instead of the system journal
	File       string   // a single journal file
	Units      []string // systemd units (-u), any of them
	Priority   string   // a name or 0-7: this priority and more severe
	Match      []string // FIELD=value matches, as journalctl takes them
	Seek       string   // tail (default), head or cursor
	Cursor     string   // resume after this cursor (a checkpoint or Seek=cursor)
	Follow     bool     // keep reading new entries (the agent); false stops at the end
}

// matchRe is journalctl's FIELD=value: a field name of upper-case letters,
// digits and underscores that does not start with a digit (journalctl
// rejects anything else with "Invalid argument").
var matchRe = regexp.MustCompile(`^[A-Z_][A-Z0-9_]{0,63}=.*$`)

// OptionError is one bad option, naming the collect-config field.
type OptionError struct {
	Field string // directory, file, priority, match, seek, cursor, units
	Msg   string
}

func (e *OptionError) Error() string { return fmt.Sprintf("%q: %s", e.Field, e.Msg) }

// Validate checks the options without running anything, with errors that
// name the field and the fix: *OptionError values joined by errors.Join.
func (o Options) Validate() error {
	var errs []error
	bad := func(field, format string, args ...any) {
		errs = append(errs, &OptionError{Field: field, Msg: fmt.Sprintf(format, args...)})
	}
	if o.Directory != "" && o.File != "" {
		bad("file", `"directory" and "file" exclude each other: set one`)
	}
	if o.Priority != "" && priorityValue(o.Priority) < 0 {
		bad("priority", "%q is not a syslog priority: use 0-7 or one of %s", o.Priority, strings.Join(Priorities, ", "))
	}
	for _, m := range o.Match {
		if m == "+" {
			continue // journalctl's OR between match groups
		}
		if !matchRe.MatchString(m) {
			bad("match", "%q is not FIELD=value with an upper-case field name (letters, digits, _; not starting with a digit), like _TRANSPORT=kernel", m)
		}
	}
	switch o.Seek {
	case "", SeekTail, SeekHead:
	case SeekCursor:
		if o.Cursor == "" {
			bad("seek", `"cursor" needs a "cursor" to start after`)
		}
	default:
		bad("seek", "%q: use tail, head or cursor", o.Seek)
	}
	for _, u := range o.Units {
		if u == "" || strings.ContainsAny(u, " \t\n") {
			bad("units", "%q is not a unit name", u)
		}
	}
	return errors.Join(errs...)
}

func priorityValue(p string) int {
	if n, err := strconv.Atoi(p); err == nil && n >= 0 && n <= 7 {
		return n
	}
	for i, name := range Priorities {
		if strings.EqualFold(p, name) {
			return i
		}
	}
	return -1
}

// args builds the journalctl command line.
func (o Options) args() []string {
	a := []string{"--output=json", "--no-pager", "--quiet"}
	if o.Follow {
		// --follow alone implies "--boot=0" (journalctl 252): entries of an
		// earlier boot are not shown, and --after-cursor with a cursor from
		// an earlier boot shows nothing at all, so a checkpoint taken
		// before a reboot would skip entries. --merge lifts that filter.
		a = append(a, "--follow", "--merge")
	}
	if o.Directory != "" {
		a = append(a, "--directory="+o.Directory)
	}
	if o.File != "" {
		a = append(a, "--file="+o.File)
	}
	switch {
	case o.Cursor != "":
		a = append(a, "--after-cursor="+o.Cursor, "--no-tail")
	case o.Seek == SeekHead:
		// Without --no-tail, --follow starts at the last 10 entries.
		a = append(a, "--no-tail")
	default:
		a = append(a, "--lines=0")
	}
	for _, u := range o.Units {
		a = append(a, "--unit="+u)
	}
	if o.Priority != "" {
		a = append(a, "--priority="+strconv.Itoa(priorityValue(o.Priority)))
	}
	return append(a, o.Match...)
}

// Entry is one journal entry.
type Entry struct {
	Cursor   string
	Realtime time.Time
	Message  string
	// Fields holds every other field, values as strings (binary values
	// decoded, repeated fields joined by newlines).
	Fields map[string]string
}

// Reader streams entries from a journalctl process.
type Reader struct {
	cmd    *exec.Cmd
	out    io.ReadCloser
	dec    *json.Decoder
	stderr *limitedBuffer
	once   sync.Once
}

// ErrNoJournalctl says journalctl is not installed.
var ErrNoJournalctl = errors.New("journalctl not found: install systemd (Debian: apt-get install systemd) or drop the journald entry")

// Open validates o, checks the journal exists and starts journalctl.
func Open(ctx context.Context, o Options) (*Reader, error) {
	path, err := o.prepare()
	if err != nil {
		return nil, err
	}
	cmd := exec.CommandContext(ctx, path, o.args()...)
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, fmt.Errorf("journalctl stdout: %w", err)
	}
	stderr := &limitedBuffer{max: 4096}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start journalctl: %w", err)
	}
	dec := json.NewDecoder(bufio.NewReaderSize(out, 256<<10))
	dec.UseNumber()
	return &Reader{cmd: cmd, out: out, dec: dec, stderr: stderr}, nil
}

// prepare validates o, finds journalctl and checks the journal exists.
func (o Options) prepare() (string, error) {
	if err := o.Validate(); err != nil {
		return "", err
	}
	bin := o.Journalctl
	if bin == "" {
		bin = "journalctl"
	}
	path, err := exec.LookPath(bin)
	if err != nil {
		return "", ErrNoJournalctl
	}
	for _, p := range []string{o.Directory, o.File} {
		if p == "" {
			continue
		}
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("journal %s: %w", p, err)
		}
	}
	return path, nil
}

// TailCursor returns the cursor of the last entry of the journal o names,
// whatever its filters, or "" when the journal is empty. A follower that
// starts at the tail saves it as its first checkpoint, so a restart before
// the first matching entry does not skip what was written meanwhile.
func TailCursor(ctx context.Context, o Options) (string, error) {
	path, err := o.prepare()
	if err != nil {
		return "", err
	}
	args := []string{"--output=json", "--no-pager", "--quiet", "--merge", "--lines=1"}
	if o.Directory != "" {
		args = append(args, "--directory="+o.Directory)
	}
	if o.File != "" {
		args = append(args, "--file="+o.File)
	}
	cmd := exec.CommandContext(ctx, path, args...)
	stderr := &limitedBuffer{max: 4096}
	cmd.Stderr = stderr
	out, err := cmd.Output()
	if err != nil {
		return "", fmt.Errorf("journalctl %s: %w: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	if len(strings.TrimSpace(string(out))) == 0 {
		return "", nil
	}
	var last struct {
		Cursor string `json:"__CURSOR"`
	}
	if err := json.Unmarshal(out, &last); err != nil || last.Cursor == "" {
		return "", fmt.Errorf("journalctl %s: no cursor in %.200q", strings.Join(args, " "), out)
	}
	return last.Cursor, nil
}

// Next returns the next entry. At the end of a non-following read it
// returns io.EOF; when journalctl fails it returns its error output.
func (r *Reader) Next() (Entry, error) {
	var raw map[string]json.RawMessage
	if err := r.dec.Decode(&raw); err != nil {
		if errors.Is(err, io.EOF) {
			if werr := r.wait(); werr != nil {
				return Entry{}, werr
			}
			return Entry{}, io.EOF
		}
		return Entry{}, fmt.Errorf("decode journalctl output: %w", err)
	}
	return decodeEntry(raw)
}

func (r *Reader) wait() error {
	var err error
	r.once.Do(func() {
		if werr := r.cmd.Wait(); werr != nil {
			err = fmt.Errorf("journalctl %s: %w: %s", strings.Join(r.cmd.Args[1:], " "), werr, strings.TrimSpace(r.stderr.String()))
		}
	})
	return err
}

// Close stops journalctl.
func (r *Reader) Close() error {
	if r.cmd.Process != nil {
		_ = r.cmd.Process.Kill()
	}
	_ = r.out.Close()
	_ = r.wait()
	return nil
}

func decodeEntry(raw map[string]json.RawMessage) (Entry, error) {
	e := Entry{Fields: make(map[string]string, len(raw))}
	for k, v := range raw {
		s, err := decodeValue(v)
		if err != nil {
			return Entry{}, fmt.Errorf("journal field %s: %w", k, err)
		}
		switch k {
		case "__CURSOR":
			e.Cursor = s
		case "MESSAGE":
			e.Message = s
		case "__REALTIME_TIMESTAMP":
			us, err := strconv.ParseInt(s, 10, 64)
			if err != nil {
				return Entry{}, fmt.Errorf("journal field %s: %q is not microseconds", k, s)
			}
			e.Realtime = time.UnixMicro(us).UTC()
		default:
			e.Fields[k] = s
		}
	}
	if e.Cursor == "" {
		return Entry{}, errors.New("journal entry without __CURSOR")
	}
	return e, nil
}

// decodeValue turns a journalctl JSON value into a string: a string as is, a
// byte array (binary or non-UTF-8 data) as its bytes, an array of either
// (a repeated field) joined by newlines, null as "".
func decodeValue(v json.RawMessage) (string, error) {
	if len(v) == 0 || string(v) == "null" {
		return "", nil
	}
	switch v[0] {
	case '"':
		var s string
		err := json.Unmarshal(v, &s)
		return s, err
	case '[':
		var items []json.RawMessage
		if err := json.Unmarshal(v, &items); err != nil {
			return "", err
		}
		if len(items) > 0 && items[0][0] != '"' && items[0][0] != '[' {
			var bytes []byte
			for _, it := range items {
				n, err := strconv.Atoi(string(it))
				if err != nil || n < 0 || n > 255 {
					return "", fmt.Errorf("bad byte %s", it)
				}
				bytes = append(bytes, byte(n))
			}
			return string(bytes), nil
		}
		parts := make([]string, 0, len(items))
		for _, it := range items {
			s, err := decodeValue(it)
			if err != nil {
				return "", err
			}
			parts = append(parts, s)
		}
		return strings.Join(parts, "\n"), nil
	}
	return string(v), nil
}

type limitedBuffer struct {
	mu  sync.Mutex
	buf []byte
	max int
}

func (b *limitedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if room := b.max - len(b.buf); room > 0 {
		b.buf = append(b.buf, p[:min(room, len(p))]...)
	}
	return len(p), nil
}

func (b *limitedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}
