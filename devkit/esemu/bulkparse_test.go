package esemu

import (
	"fmt"
	"strings"
	"testing"
)

// TestBulkParserActionsAreDistinct reads more actions than one block of
// spare actions holds, across changing and escaped index names, and checks
// that no action shares another's fields.
func TestBulkParserActionsAreDistinct(t *testing.T) {
	var body strings.Builder
	for i := range 150 {
		index := fmt.Sprintf("idx-%d", i/10)
		if i%7 == 0 {
			index = `id\u0078-` + fmt.Sprint(i/10) // the same name, escaped
		}
		fmt.Fprintf(&body, `{"%s":{"_index":"%s","_id":"%d"}}`+"\n", []string{"index", "create", "upd\\u0061te"}[i%3], index, i)
		body.WriteString(`{"doc":{"a":1},"doc_as_upsert":true}` + "\n")
	}
	p := newBulkParser(strings.NewReader(body.String()), "default", false)
	var actions []*bulkAction
	for {
		a, e := p.next()
		if e != nil {
			t.Fatal(e)
		}
		if a == nil {
			break
		}
		actions = append(actions, a)
	}
	if len(actions) != 150 {
		t.Fatalf("%d actions", len(actions))
	}
	for i, a := range actions {
		kind := []string{"index", "create", "update"}[i%3]
		if a.kind != kind || a.index != fmt.Sprintf("idx-%d", i/10) || a.id != fmt.Sprint(i) || a.line != 2*i+1 {
			t.Errorf("action %d: %+v", i, a)
		}
	}
}
