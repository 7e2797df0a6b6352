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

var matchRe = regexp.MustCompile(`^[A-Z0-9_]+=.*$`)

// Validate checks the options without running anything, with errors that
// name the field and the fix.
func (o Options) Validate() error {
	var errs []error
	if o.Directory != "" && o.File != "" {
		errs = append(errs, errors.New(`"directory" and "file" exclude each other: set one`))
	}
	if o.Priority != "" && priorityValue(o.Priority) < 0 {
		errs = append(errs, fmt.Errorf(`"priority": %q is not a syslog priority: use 0-7 or one of %s`, o.Priority, strings.Join(Priorities, ", ")))
	}
	for _, m := range o.Match {
		if m == "+" {
			continue // journalctl's OR between match groups
		}
		if !matchRe.MatchString(m) {
			errs = append(errs, fmt.Errorf(`"match": %q is not FIELD=value with an upper-case field name, like _TRANSPORT=kernel`, m))
		}
	}
	switch o.Seek {
	case "", SeekTail, SeekHead:
	case SeekCursor:
		if o.Cursor == "" {
			errs = append(errs, errors.New(`"seek": "cursor" needs a "cursor" to start after`))
		}
	default:
		errs = append(errs, fmt.Errorf(`"seek": %q: use tail, head or cursor`, o.Seek))
	}
	for _, u := range o.Units {
		if u == "" || strings.ContainsAny(u, " \t\n") {
			errs = append(errs, fmt.Errorf(`"units": %q is not a unit name`, u))
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
		a = append(a, "--follow")
	}
	if o.Directory != "" {
		a = append(a, "--directory="+o.Directory)
	}
	if o.File != "" {
		a = append(a, "--file="+o.File)
	}
	switch {
	case o.Cursor != "":
		a = append(a, "--after-cursor="+o.Cursor)
	case o.Seek == SeekHead:
		// journalctl starts at the head when given no position.
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
	if err := o.Validate(); err != nil {
		return nil, err
	}
	bin := o.Journalctl
	if bin == "" {
		bin = "journalctl"
	}
	path, err := exec.LookPath(bin)
	if err != nil {
		return nil, ErrNoJournalctl
	}
	for _, p := range []string{o.Directory, o.File} {
		if p == "" {
			continue
		}
		if _, err := os.Stat(p); err != nil {
			return nil, fmt.Errorf("journal %s: %w", p, err)
		}
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
