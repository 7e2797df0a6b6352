package esemu

import (
	"net/http"
	"strconv"
	"strings"
)

// validateIndexName applies the rules of Elasticsearch's
// MetadataCreateIndexService, in the same order, so that the same names are
// rejected with the same reasons.
func validateIndexName(name string) *esError {
	fail := func(reason string) *esError {
		return newError(http.StatusBadRequest, "invalid_index_name_exception",
			"Invalid index name [%s], %s", name, reason).forIndex(name, "")
	}
	if name == "" {
		return fail("must not be empty")
	}
	if strings.ContainsAny(name, "\\/*?\"<>| ,") {
		return fail(`must not contain the following characters [ , ", *, \, <, |, ,, >, /, ?]`)
	}
	if strings.Contains(name, "#") {
		return fail("must not contain '#'")
	}
	if strings.Contains(name, ":") {
		return fail("must not contain ':'")
	}
	if strings.HasPrefix(name, "_") || strings.HasPrefix(name, "-") || strings.HasPrefix(name, "+") {
		return fail("must not start with '_', '-', or '+'")
	}
	if len(name) > 255 {
		return fail("index name is too long, (" + strconv.Itoa(len(name)) + " > 255)")
	}
	if name == "." || name == ".." {
		return fail("must not be '.' or '..'")
	}
	if strings.ToLower(name) != name {
		return fail("must be lowercase")
	}
	return nil
}

// isPattern reports whether an index expression names more than one index.
func isPattern(expr string) bool {
	return expr == "_all" || expr == "*" || strings.Contains(expr, "*")
}

// matchPattern matches ES wildcard expressions, where only '*' is special.
// It is used for index patterns, template patterns and field name patterns.
func matchPattern(pattern, name string) bool {
	star := strings.IndexByte(pattern, '*')
	if star < 0 {
		return pattern == name
	}
	if !strings.HasPrefix(name, pattern[:star]) {
		return false
	}
	name = name[star:]
	rest := pattern[star+1:]
	if rest == "" {
		return true
	}
	for i := 0; i <= len(name); i++ {
		if matchPattern(rest, name[i:]) {
			return true
		}
	}
	return false
}
