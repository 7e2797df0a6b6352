package esemu

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"strings"
)

// maxBulkLine bounds a single NDJSON line; ES bounds the whole request by
// http.max_content_length (100mb), so no valid line is longer.
const maxBulkLine = 100 << 20

// bulkAction is one parsed action of a bulk request.
type bulkAction struct {
	kind          string // index, create, delete or update
	index         string
	id            string
	idGiven       bool   // "_id" was present, possibly empty
	source        []byte // the line after the action; nil for delete
	ifSeqNo       *int64
	ifPrimaryTerm *int64
	version       *int64
	versionType   string
	line          int
}

// bulkParser reads a bulk body the way ES's BulkRequestParser does: an action
// line, then (except for delete) a source line. Every error it reports fails
// the whole request, before any item is executed, exactly as in ES.
type bulkParser struct {
	sc           *bufio.Scanner
	tail         *lastByteReader
	defaultIndex string
	line         int
	lex          lexer
	// keep is set when the caller keeps actions beyond the next call: each
	// gets its own memory and a copy of its source. Blackhole mode is done
	// with an action before it asks for the next, and gets one action,
	// reused, whose source points into the scanner's buffer.
	keep bool
	// droppedTail is set when the body ended with an action whose source line
	// is missing, which ES silently ignores.
	droppedTail bool
	// reused is the action handed out again and again when !keep, and
	// lastIndex the last _index value read: six allocations per document were
	// a tenth of the blackhole's CPU (the mallocs and the GC they caused).
	reused    bulkAction
	lastIndex string
	buf       []byte // the scanner's first buffer, for release

}

// lastByteReader remembers the last byte read, to tell whether the body ended
// with a newline as ES requires.
type lastByteReader struct {
	r    io.Reader
	last byte
	n    int64
}

func (l *lastByteReader) Read(p []byte) (int, error) {
	n, err := l.r.Read(p)
	if n > 0 {
		l.last = p[n-1]
		l.n += int64(n)
	}
	return n, err
}

func newBulkParser(body io.Reader, defaultIndex string, keep bool) *bulkParser {
	tail := &lastByteReader{r: body}
	sc := bufio.NewScanner(tail)
	buf := getBulkBuffer(scanBufferSize)
	sc.Buffer(buf, maxBulkLine)
	return &bulkParser{sc: sc, tail: tail, defaultIndex: defaultIndex, keep: keep, buf: buf}
}

// release recycles the line buffer once neither the parser nor any source
// it returned without a copy is used any more.
func (p *bulkParser) release() {
	putBulkBuffer(p.buf)
	p.buf = nil
}

// readError maps a failure to read a request body; a body over the size
// limit gets ES's 413.
func readError(err error) *esError {
	var tooBig *http.MaxBytesError
	if errors.As(err, &tooBig) || errors.Is(err, bufio.ErrTooLong) {
		return newError(http.StatusRequestEntityTooLarge, "content_too_long_exception", "request body is too large")
	}
	return badBulk("read request body: %v", err)
}

func badBulk(format string, args ...any) *esError {
	return errBadRequest(format, args...)
}

// readLine returns the next line without its terminator, or ok=false at the end.
func (p *bulkParser) readLine() ([]byte, bool, *esError) {
	if !p.sc.Scan() {
		if err := p.sc.Err(); err != nil {
			return nil, false, readError(err)
		}
		return nil, false, nil
	}
	p.line++
	return bytes.TrimSuffix(p.sc.Bytes(), []byte{'\r'}), true, nil
}

// next returns the next action, nil at the end of the body.
func (p *bulkParser) next() (*bulkAction, *esError) {
	for {
		line, ok, e := p.readLine()
		if e != nil {
			return nil, e
		}
		if !ok {
			return nil, p.checkTerminated()
		}
		a, skip, e := p.action(line)
		if e != nil {
			return nil, e
		}
		if skip {
			continue // ES ignores blank lines where it expects an action
		}
		if a.kind == "delete" {
			return a, nil
		}
		src, ok, e := p.readLine()
		if e != nil {
			return nil, e
		}
		if !ok {
			if e := p.checkTerminated(); e != nil {
				return nil, e
			}
			p.droppedTail = true
			return nil, nil
		}
		if p.keep {
			src = append([]byte(nil), src...)
		}
		a.source = src
		return a, nil
	}
}

func (p *bulkParser) checkTerminated() *esError {
	if p.tail.n > 0 && p.tail.last != '\n' {
		return badBulk(`The bulk request must be terminated by a newline [\n]`)
	}
	return nil
}

// action parses an action/metadata line such as {"index":{"_id":"1"}}.
func (p *bulkParser) action(line []byte) (*bulkAction, bool, *esError) {
	lx := &p.lex
	lx.reset(line, p.line)
	tok, err := lx.next()
	if err != nil {
		return nil, false, parseErr(err)
	}
	if tok == tokEOF {
		return nil, true, nil
	}
	if tok != tokStartObject {
		return nil, false, badBulk("Malformed action/metadata line [%d], expected START_OBJECT but found [%s]", p.line, tok)
	}
	if tok, err = lx.next(); err != nil {
		return nil, false, parseErr(err)
	}
	if tok != tokFieldName {
		return nil, false, badBulk("Malformed action/metadata line [%d], expected FIELD_NAME but found [%s]", p.line, tok)
	}
	a := p.newAction()
	*a = bulkAction{kind: knownName(lx.text), index: p.defaultIndex, line: p.line}
	if tok, err = lx.next(); err != nil {
		return nil, false, parseErr(err)
	}
	switch tok {
	case tokStartObject:
		if e := p.params(a); e != nil {
			return nil, false, e
		}
	case tokEndObject:
	default:
		return nil, false, badBulk("Malformed action/metadata line [%d], expected START_OBJECT or END_OBJECT but found [%s]", p.line, tok)
	}
	switch a.kind {
	case "index", "create", "delete", "update":
	default:
		return nil, false, badBulk("Malformed action/metadata line [%d], expected field [create], [delete], [index] or [update] but found [%s]", p.line, a.kind)
	}
	return a, false, nil
}

// params reads the metadata object of an action, rejecting unknown keys as ES does.
func (p *bulkParser) params(a *bulkAction) *esError {
	lx := &p.lex
	for {
		tok, err := lx.next()
		if err != nil {
			return parseErr(err)
		}
		if tok == tokEndObject {
			return nil
		}
		name := knownName(lx.text)
		if tok, err = lx.next(); err != nil {
			return parseErr(err)
		}
		switch tok {
		case tokStartArray, tokStartObject:
			if name == "_source" && tok == tokStartObject {
				if err := lx.skipValue(tok); err != nil {
					return parseErr(err)
				}
				continue
			}
			return badBulk("Malformed action/metadata line [%d], expected a simple value for field [%s] but found [%s]", p.line, name, tok)
		case tokNull:
			continue
		}
		if e := p.setParam(a, name, p.paramValue(name, lx.text), tok); e != nil {
			return e
		}
	}
}

// newAction returns a zeroed action to fill in.
func (p *bulkParser) newAction() *bulkAction {
	if p.keep {
		return new(bulkAction)
	}
	p.reused = bulkAction{}
	return &p.reused
}

// knownName returns the action and parameter names of bulk action lines as
// constants, without allocating, and any other name as a new string.
func knownName(b []byte) string {
	for _, n := range bulkNames {
		if string(b) == n {
			return n
		}
	}
	return string(b)
}

var bulkNames = []string{
	"index", "create", "delete", "update",
	"_index", "_id", "_type", "routing", "pipeline", "require_alias", "retry_on_conflict", "_source",
	"op_type", "version", "version_type", "if_seq_no", "if_primary_term",
}

// paramValue returns a parameter's value as a string; a bulk names the same
// index on most lines, so the last _index value is kept and reused.
func (p *bulkParser) paramValue(name string, b []byte) string {
	if name != "_index" {
		return string(b)
	}
	if string(b) != p.lastIndex {
		p.lastIndex = string(b)
	}
	return p.lastIndex
}

func (p *bulkParser) setParam(a *bulkAction, name, value string, tok tokenKind) *esError {
	switch tok {
	case tokTrue:
		value = "true"
	case tokFalse:
		value = "false"
	}
	number := func() (*int64, *esError) {
		n, err := strconv.ParseInt(value, 10, 64)
		if err != nil {
			return nil, badBulk("Action/metadata line [%d]: failed to parse [%s] value [%s] as a long", p.line, name, value)
		}
		return &n, nil
	}
	var e *esError
	switch name {
	case "_index":
		a.index = value
	case "_id":
		a.id, a.idGiven = value, true
	case "_type", "routing", "pipeline", "require_alias", "retry_on_conflict", "_source":
		// Accepted as ES does; types are gone in 7.x and the rest do not
		// change the outcome on a single-shard, pipeline-less node.
	case "op_type":
		if a.kind == "index" && value == "create" {
			a.kind = "create"
		}
	case "version":
		a.version, e = number()
	case "version_type":
		a.versionType = value
	case "if_seq_no":
		a.ifSeqNo, e = number()
	case "if_primary_term":
		a.ifPrimaryTerm, e = number()
	default:
		return badBulk("Action/metadata line [%d] contains an unknown parameter [%s]", p.line, name)
	}
	return e
}

func parseErr(err error) *esError {
	var se *syntaxError
	if errors.As(err, &se) && se.eof {
		return newError(http.StatusBadRequest, "json_e_o_f_exception", "%s", err.Error())
	}
	return newError(http.StatusBadRequest, "json_parse_exception", "%s", err.Error())
}

// validate applies the checks of ES's BulkRequest.validate, which reject the
// whole request with an action_request_validation_exception.
func validateActions(actions []*bulkAction) *esError {
	var problems []string
	if len(actions) == 0 {
		problems = append(problems, "no requests added")
	}
	for _, a := range actions {
		problems = append(problems, actionProblems(a)...)
	}
	if len(problems) == 0 {
		return nil
	}
	var b strings.Builder
	b.WriteString("Validation Failed: ")
	for i, pr := range problems {
		fmt.Fprintf(&b, "%d: %s;", i+1, pr)
	}
	return newError(http.StatusBadRequest, "action_request_validation_exception", "%s", b.String())
}

func actionProblems(a *bulkAction) []string {
	var out []string
	if a.index == "" {
		out = append(out, "index is missing")
	}
	if a.kind != "index" && a.kind != "create" && a.id == "" {
		out = append(out, "id is missing")
	}
	if a.idGiven && a.id == "" {
		out = append(out, "if _id is specified it must not be empty")
	}
	if len(a.id) > 512 {
		out = append(out, fmt.Sprintf("id [%s] is too long, must be no longer than 512 bytes but was: %d", a.id, len(a.id)))
	}
	switch a.versionType {
	case "", "internal":
		if a.version != nil && a.kind != "create" {
			out = append(out, "internal versioning can not be used for optimistic concurrency control. Please use `if_seq_no` and `if_primary_term` instead")
		}
	case "external", "external_gte":
		if a.version == nil {
			out = append(out, "an external version must be provided with version_type ["+a.versionType+"]")
		}
		if a.ifSeqNo != nil {
			out = append(out, "compare and write operations can not use versioning")
		}
	default:
		out = append(out, "version type ["+a.versionType+"] is not supported")
	}
	if (a.ifSeqNo != nil) != (a.ifPrimaryTerm != nil) {
		out = append(out, "ifSeqNo is set, but primary term is [0]")
	}
	return out
}
