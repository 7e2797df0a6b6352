package esemu

import (
	"slices"
	"testing"
)

// The _field_names of a document are one field with a term per name; a
// name containing NUL falls back to one field per name.
func TestFieldNamesOneField(t *testing.T) {
	f := func(names []string, wantJoined bool) {
		t.Helper()
		joined, ok := joinFieldNames(names)
		if ok != wantJoined {
			t.Fatalf("joinFieldNames(%q) ok = %v, want %v", names, ok, wantJoined)
		}
		if !ok {
			return
		}
		var got []string
		for _, tok := range (fieldNamesAnalyzer{}).Analyze(joined) {
			got = append(got, string(tok.Term))
		}
		if !slices.Equal(got, names) {
			t.Errorf("tokens %q, want %q", got, names)
		}
	}
	f([]string{"a"}, true)
	f([]string{"@timestamp", "host", "host.name", "message", "message.keyword"}, true)
	f([]string{"a", "b\x00c"}, false)
}
