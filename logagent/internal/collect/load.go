package collect

import (
	"bytes"
	"cmp"
	"encoding/json"
	"errors"
	"slices"
	"strings"
)

// Problems are every problem of a rejected collect config, in entry order.
type Problems []error

func (p Problems) Error() string {
	msgs := make([]string, len(p))
	for i, err := range p {
		msgs[i] = err.Error()
	}
	return strings.Join(msgs, "; ")
}

func (p Problems) Unwrap() []error { return p }

// Load is the one verdict on a collect config: the agent applies it to a
// config from etcd or its cache, and `logagent validate` and `put` give it
// before a config is written, so both accept and reject the same configs
// with the same problems. It parses data (Parse) and applies the host's
// policy (Check). On rejection, err is Problems listing every bad entry,
// not only the first: when Parse rejects the whole, each entry is parsed
// alone to find all the bad ones; a problem between entries (a duplicate
// path) is Parse's own error. entries is nil exactly when err is not.
func (p Policy) Load(data []byte) ([]Entry, error) {
	entries, err := Parse(data)
	if err == nil {
		var problems Problems
		for i, e := range entries {
			if perr := p.Check([]Entry{e}); perr != nil {
				problems = append(problems, renumber(perr, i+1))
			}
		}
		if len(problems) > 0 {
			return nil, problems
		}
		return entries, nil
	}
	var raws []json.RawMessage
	if errors.Is(err, ErrSyntax) || json.Unmarshal(bytes.TrimSpace(data), &raws) != nil {
		return nil, Problems{err}
	}
	var problems Problems
	entryFailed := false
	for i, raw := range raws {
		one, perr := Parse(append(append([]byte("["), raw...), ']'))
		if perr == nil {
			perr = p.Check(one)
		} else {
			entryFailed = true
		}
		if perr != nil {
			problems = append(problems, renumber(perr, i+1))
		}
	}
	if !entryFailed { // Parse's problem lies between entries (a duplicate)
		problems = append(problems, err)
		slices.SortStableFunc(problems, func(a, b error) int { return cmp.Compare(indexOf(a), indexOf(b)) })
	}
	return nil, problems
}

// renumber gives a problem found in an entry checked alone the entry's
// index in the whole config.
func renumber(err error, index int) error {
	var ce *Error
	if errors.As(err, &ce) {
		c := *ce
		c.Index = index
		return &c
	}
	return err
}

func indexOf(err error) int {
	var ce *Error
	if errors.As(err, &ce) {
		return ce.Index
	}
	return 0
}
