package esemu

import (
	"encoding/json"
	"strconv"
	"strings"
	"unicode"

	"github.com/blevesearch/bleve/v2/search/query"
)

// The query_string query is parsed here with Lucene's classic syntax rules
// rather than handed to bleve's own query-string parser, whose syntax and
// semantics differ (bleve has no AND/OR/NOT keywords and no ranges in brackets).

type occur int

const (
	occurShould occur = iota
	occurMust
	occurMustNot
)

// qsNode is a parsed query_string expression.
type qsNode interface{}

type qsClause struct {
	occur occur
	node  qsNode
}

type qsBool struct{ clauses []qsClause }

type qsTerm struct {
	field    string // "" means the default fields
	text     string
	phrase   bool
	wildcard bool
	regexp   bool
	fuzzy    int // -1 when not fuzzy
}

type qsRange struct {
	field        string
	lo, hi       string // "" or "*" is open
	incLo, incHi bool
}

// qsToken is a lexical token of the query string.
type qsToken struct {
	kind string // term, phrase, regexp, (, ), :, +, -, AND, OR, NOT, range, cmp, ^, ~
	text string
	// for ranges
	lo, hi       string
	incLo, incHi bool
	escaped      bool // the term contained escapes, so * and ? are literal where escaped
}

type qsParser struct {
	toks       []qsToken
	pos        int
	defaultAnd bool
}

func (p *qsParser) peek() *qsToken {
	if p.pos < len(p.toks) {
		return &p.toks[p.pos]
	}
	return nil
}

func (p *qsParser) take() *qsToken {
	t := p.peek()
	if t != nil {
		p.pos++
	}
	return t
}

// lexQueryString splits a Lucene query string into tokens.
func lexQueryString(s string) ([]qsToken, *esError) {
	var toks []qsToken
	rs := []rune(s)
	i := 0
	atTermStart := func() bool {
		return len(toks) == 0 || toks[len(toks)-1].kind != "term" || i == 0 || unicode.IsSpace(rs[i-1]) || rs[i-1] == '('
	}
	for i < len(rs) {
		c := rs[i]
		switch {
		case unicode.IsSpace(c):
			i++
		case c == '(' || c == ')' || c == ':':
			toks = append(toks, qsToken{kind: string(c)})
			i++
		case (c == '+' || c == '-' || c == '!') && atTermStart():
			toks = append(toks, qsToken{kind: map[rune]string{'+': "+", '-': "-", '!': "-"}[c]})
			i++
		case c == '&' && i+1 < len(rs) && rs[i+1] == '&':
			toks = append(toks, qsToken{kind: "AND"})
			i += 2
		case c == '|' && i+1 < len(rs) && rs[i+1] == '|':
			toks = append(toks, qsToken{kind: "OR"})
			i += 2
		case c == '^' || c == '~':
			j := i + 1
			for j < len(rs) && (unicode.IsDigit(rs[j]) || rs[j] == '.') {
				j++
			}
			toks = append(toks, qsToken{kind: string(c), text: string(rs[i+1 : j])})
			i = j
		case c == '"':
			j := i + 1
			var b strings.Builder
			for j < len(rs) && rs[j] != '"' {
				if rs[j] == '\\' && j+1 < len(rs) {
					j++
				}
				b.WriteRune(rs[j])
				j++
			}
			if j >= len(rs) {
				return nil, qsError(s, "Lexical error: unterminated quoted phrase")
			}
			toks = append(toks, qsToken{kind: "phrase", text: b.String()})
			i = j + 1
		case c == '/' && atTermStart():
			j := i + 1
			for j < len(rs) && rs[j] != '/' {
				if rs[j] == '\\' {
					j++
				}
				j++
			}
			if j >= len(rs) {
				return nil, qsError(s, "Lexical error: unterminated regular expression")
			}
			toks = append(toks, qsToken{kind: "regexp", text: string(rs[i+1 : j])})
			i = j + 1
		case c == '[' || c == '{':
			t, next, e := lexRange(s, rs, i)
			if e != nil {
				return nil, e
			}
			toks = append(toks, t)
			i = next
		case (c == '>' || c == '<') && len(toks) > 0 && toks[len(toks)-1].kind == ":":
			op := string(c)
			i++
			if i < len(rs) && rs[i] == '=' {
				op += "="
				i++
			}
			toks = append(toks, qsToken{kind: "cmp", text: op})
		default:
			var b strings.Builder
			escaped := false
			for i < len(rs) {
				c := rs[i]
				if c == '\\' && i+1 < len(rs) {
					escaped = true
					b.WriteRune(rs[i+1])
					i += 2
					continue
				}
				if unicode.IsSpace(c) || strings.ContainsRune(`():^~"[]{}`, c) {
					break
				}
				b.WriteRune(c)
				i++
			}
			word := b.String()
			switch {
			case !escaped && (word == "AND" || word == "OR" || word == "NOT"):
				toks = append(toks, qsToken{kind: word})
			case word == "":
				return nil, qsError(s, "Encountered unexpected character '"+string(c)+"'")
			default:
				toks = append(toks, qsToken{kind: "term", text: word, escaped: escaped})
			}
		}
	}
	return toks, nil
}

func lexRange(s string, rs []rune, i int) (qsToken, int, *esError) {
	t := qsToken{kind: "range", incLo: rs[i] == '['}
	j := i + 1
	var parts []string
	var cur strings.Builder
	for j < len(rs) && rs[j] != ']' && rs[j] != '}' {
		switch {
		case unicode.IsSpace(rs[j]):
			if cur.Len() > 0 {
				parts = append(parts, cur.String())
				cur.Reset()
			}
		case rs[j] == '"':
			j++
			for j < len(rs) && rs[j] != '"' {
				cur.WriteRune(rs[j])
				j++
			}
		case rs[j] == '\\' && j+1 < len(rs):
			j++
			cur.WriteRune(rs[j])
		default:
			cur.WriteRune(rs[j])
		}
		j++
	}
	if cur.Len() > 0 {
		parts = append(parts, cur.String())
	}
	if j >= len(rs) || len(parts) != 3 || parts[1] != "TO" {
		return t, 0, qsError(s, "Cannot parse range: expected [lower TO upper]")
	}
	t.lo, t.hi, t.incHi = parts[0], parts[2], rs[j] == ']'
	return t, j + 1, nil
}

func qsError(q, msg string) *esError {
	return newError(400, "query_shard_exception", "Failed to parse query [%s]", q).
		causedBy(newError(400, "parse_exception", "Cannot parse '%s': %s", q, msg))
}

// parseQuery implements Lucene's Query production with its addClause rules,
// which give AND/OR their classic (not boolean-algebra) meaning.
func (p *qsParser) parseQuery(field string, src string) (qsNode, *esError) {
	var clauses []qsClause
	first := true
	for {
		t := p.peek()
		if t == nil || t.kind == ")" {
			break
		}
		conj := ""
		if !first && (t.kind == "AND" || t.kind == "OR") {
			conj = t.kind
			p.take()
		}
		mod := ""
		if t := p.peek(); t != nil && (t.kind == "+" || t.kind == "-" || t.kind == "NOT") {
			mod = map[string]string{"+": "+", "-": "-", "NOT": "-"}[t.kind]
			p.take()
		}
		node, e := p.parseClause(field, src)
		if e != nil {
			return nil, e
		}
		clauses = p.addClause(clauses, conj, mod, node)
		first = false
	}
	if len(clauses) == 1 && clauses[0].occur != occurMustNot {
		return clauses[0].node, nil
	}
	return &qsBool{clauses: clauses}, nil
}

func (p *qsParser) addClause(clauses []qsClause, conj, mod string, node qsNode) []qsClause {
	if n := len(clauses); n > 0 {
		last := &clauses[n-1]
		if conj == "AND" && last.occur != occurMustNot {
			last.occur = occurMust
		}
		if p.defaultAnd && conj == "OR" && last.occur != occurMustNot {
			last.occur = occurShould
		}
	}
	prohibited := mod == "-"
	var required bool
	if !p.defaultAnd {
		required = mod == "+" || (conj == "AND" && !prohibited)
	} else {
		required = !prohibited && conj != "OR"
	}
	o := occurShould
	switch {
	case prohibited:
		o = occurMustNot
	case required:
		o = occurMust
	}
	return append(clauses, qsClause{occur: o, node: node})
}

func (p *qsParser) parseClause(field, src string) (qsNode, *esError) {
	t := p.take()
	if t == nil {
		return nil, qsError(src, "Encountered \"<EOF>\"")
	}
	if t.kind == "term" {
		if next := p.peek(); next != nil && next.kind == ":" {
			p.take()
			field = t.text
			t = p.take()
			if t == nil {
				return nil, qsError(src, "Encountered \"<EOF>\" after field name")
			}
		}
	}
	switch t.kind {
	case "(":
		node, e := p.parseQuery(field, src)
		if e != nil {
			return nil, e
		}
		if c := p.take(); c == nil || c.kind != ")" {
			return nil, qsError(src, "Encountered \"<EOF>\", expected \")\"")
		}
		p.skipBoost()
		return node, nil
	case "term", "phrase", "regexp":
		term := &qsTerm{field: field, text: t.text, phrase: t.kind == "phrase", regexp: t.kind == "regexp", fuzzy: -1}
		if t.kind == "term" && !t.escaped && strings.ContainsAny(t.text, "*?") {
			term.wildcard = true
		}
		if next := p.peek(); next != nil && next.kind == "~" {
			p.take()
			if !term.phrase {
				term.fuzzy = 2
				if n, err := strconv.Atoi(next.text); err == nil {
					term.fuzzy = n
				}
			}
		}
		p.skipBoost()
		return term, nil
	case "range":
		p.skipBoost()
		return &qsRange{field: field, lo: t.lo, hi: t.hi, incLo: t.incLo, incHi: t.incHi}, nil
	case "cmp":
		v := p.take()
		if v == nil || (v.kind != "term" && v.kind != "phrase") {
			return nil, qsError(src, "expected a value after "+t.text)
		}
		r := &qsRange{field: field, lo: "*", hi: "*"}
		switch t.text {
		case ">":
			r.lo = v.text
		case ">=":
			r.lo, r.incLo = v.text, true
		case "<":
			r.hi = v.text
		case "<=":
			r.hi, r.incHi = v.text, true
		}
		return r, nil
	}
	return nil, qsError(src, "Encountered \" \""+t.kind+"\" \"")
}

func (p *qsParser) skipBoost() {
	if next := p.peek(); next != nil && next.kind == "^" {
		p.take()
	}
}

// queryStringOptions are the parameters of query_string this emulator honours.
type queryStringOptions struct {
	Query           string   `json:"query"`
	DefaultField    string   `json:"default_field"`
	Fields          []string `json:"fields"`
	DefaultOperator string   `json:"default_operator"`
	Lenient         *bool    `json:"lenient"`
	AnalyzeWildcard bool     `json:"analyze_wildcard"`
}

func (b *queryBuilder) queryString(kind string, body json.RawMessage) (query.Query, *esError) {
	if kind == "simple_query_string" {
		return nil, errBadRequest("[simple_query_string] is not supported by the emulator; use query_string")
	}
	var o queryStringOptions
	if err := decodeJSON(body, &o); err != nil {
		return nil, errParsing("[query_string] malformed query: %v", err)
	}
	return b.luceneQuery(o)
}

// luceneQuery parses and translates a query in Lucene syntax; the q= URL
// parameter of _search uses it too.
func (b *queryBuilder) luceneQuery(o queryStringOptions) (query.Query, *esError) {
	toks, e := lexQueryString(o.Query)
	if e != nil {
		return nil, e
	}
	p := &qsParser{toks: toks, defaultAnd: strings.EqualFold(o.DefaultOperator, "and")}
	node, e := p.parseQuery("", o.Query)
	if e != nil {
		return nil, e
	}
	if p.pos < len(p.toks) {
		return nil, qsError(o.Query, "Encountered \" \")\" \")\"")
	}
	defaults := o.Fields
	if len(defaults) == 0 && o.DefaultField != "" {
		defaults = []string{o.DefaultField}
	}
	lenient := len(defaults) == 0 || (len(defaults) == 1 && defaults[0] == "*")
	if o.Lenient != nil {
		lenient = *o.Lenient
	}
	c := &qsConverter{b: b, defaults: b.expandFields(defaults), lenient: lenient, defaultAnd: p.defaultAnd}
	return c.convert(node)
}

type qsConverter struct {
	b          *queryBuilder
	defaults   []string
	lenient    bool
	defaultAnd bool
}

func (c *qsConverter) convert(n qsNode) (query.Query, *esError) {
	switch x := n.(type) {
	case *qsBool:
		var must, should, mustNot []query.Query
		for _, cl := range x.clauses {
			q, e := c.convert(cl.node)
			if e != nil {
				return nil, e
			}
			switch cl.occur {
			case occurMust:
				must = append(must, q)
			case occurMustNot:
				mustNot = append(mustNot, q)
			default:
				should = append(should, q)
			}
		}
		// A purely negative query matches everything else, as ES arranges.
		return combineBool(must, nil, should, mustNot, -1), nil
	case *qsTerm:
		return c.term(x)
	case *qsRange:
		return c.rangeNode(x)
	}
	return none(), nil
}

// fieldsFor resolves the fields a clause targets.
func (c *qsConverter) fieldsFor(field string) ([]string, bool) {
	if field == "" {
		return c.defaults, c.lenient
	}
	if strings.Contains(field, "*") {
		return c.b.expandFields([]string{field}), true
	}
	return []string{field}, c.lenient
}

func (c *qsConverter) term(t *qsTerm) (query.Query, *esError) {
	if t.field == "_exists_" {
		return c.b.exists(t.text), nil
	}
	if t.text == "*" && !t.phrase {
		if t.field == "" {
			return query.NewMatchAllQuery(), nil
		}
		return c.b.exists(t.field), nil
	}
	fields, lenient := c.fieldsFor(t.field)
	var out []query.Query
	for _, f := range fields {
		q, e := c.termOn(f, t, lenient)
		if e != nil {
			return nil, e
		}
		if !isNone(q) {
			out = append(out, q)
		}
	}
	switch len(out) {
	case 0:
		return none(), nil
	case 1:
		return out[0], nil
	}
	return query.NewDisjunctionQuery(out), nil
}

func (c *qsConverter) termOn(field string, t *qsTerm, lenient bool) (query.Query, *esError) {
	if field == "_id" {
		return query.NewDocIDQuery([]string{t.text}), nil
	}
	fm := c.b.m.lookup(field)
	if fm == nil || fm.isObject() {
		return none(), nil
	}
	fam := fm.family()
	textual := fam == "text" || fam == "keyword"
	switch {
	case t.phrase:
		return c.b.phrase(field, t.text)
	case (t.wildcard || t.regexp || t.fuzzy >= 0) && !textual:
		if lenient {
			return none(), nil
		}
		return nil, failedToCreate("Can only use wildcard, regexp and fuzzy queries on keyword and text fields - not on [%s] which is of type [%s]", field, fm.Type)
	case t.regexp:
		q := query.NewRegexpQuery(t.text)
		q.SetField(field)
		return q, nil
	case t.wildcard:
		text := t.text
		if fam == "text" {
			text = strings.ToLower(text) // ES normalizes wildcard terms on text fields
		}
		q := query.NewWildcardQuery(text)
		q.SetField(field)
		return q, nil
	case t.fuzzy >= 0:
		text := t.text
		if fam == "text" {
			text = strings.ToLower(text)
		}
		q := query.NewFuzzyQuery(text)
		q.SetField(field)
		q.SetFuzziness(min(t.fuzzy, 2))
		return q, nil
	}
	op := "or"
	if c.defaultAnd {
		op = "and"
	}
	q, e := c.b.match(field, t.text, op, nil, "", lenient)
	if e != nil && lenient {
		return none(), nil
	}
	return q, e
}

func (c *qsConverter) rangeNode(r *qsRange) (query.Query, *esError) {
	fields, lenient := c.fieldsFor(r.field)
	bound := func(s string) any {
		if s == "*" || s == "" {
			return nil
		}
		return s
	}
	var out []query.Query
	for _, f := range fields {
		q, e := c.b.rangeOn(f, bound(r.lo), bound(r.hi), r.incLo, r.incHi, "", "")
		if e != nil {
			if lenient {
				continue
			}
			return nil, e
		}
		if !isNone(q) {
			out = append(out, q)
		}
	}
	switch len(out) {
	case 0:
		return none(), nil
	case 1:
		return out[0], nil
	}
	return query.NewDisjunctionQuery(out), nil
}
