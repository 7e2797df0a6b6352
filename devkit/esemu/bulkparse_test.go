package esemu

import (
	"bytes"
	"fmt"
	"strings"
	"testing"
)

// TestBulkParserNames reads actions across changing and escaped action,
// parameter and index names, both when the caller keeps every action and
// when the parser reuses one.
func TestBulkParserNames(t *testing.T) {
	var body strings.Builder
	for i := range 150 {
		index := fmt.Sprintf("idx-%d", i/10)
		if i%7 == 0 {
			index = `id\u0078-` + fmt.Sprint(i/10) // the same name, escaped
		}
		fmt.Fprintf(&body, `{"%s":{"_index":"%s","_\u0069d":"%d"}}`+"\n", []string{"index", "create", "upd\\u0061te"}[i%3], index, i)
		fmt.Fprintf(&body, `{"doc":{"a":%d},"doc_as_upsert":true}`+"\n", i)
	}
	check := func(i int, a *bulkAction) {
		t.Helper()
		kind := []string{"index", "create", "update"}[i%3]
		if a.kind != kind || a.index != fmt.Sprintf("idx-%d", i/10) || a.id != fmt.Sprint(i) || a.line != 2*i+1 ||
			string(a.source) != fmt.Sprintf(`{"doc":{"a":%d},"doc_as_upsert":true}`, i) {
			t.Errorf("action %d: %+v", i, a)
		}
	}
	for _, keep := range []bool{false, true} {
		p := newBulkParser(strings.NewReader(body.String()), "default", keep)
		var actions []*bulkAction
		for {
			a, e := p.next()
			if e != nil {
				t.Fatal(e)
			}
			if a == nil {
				break
			}
			check(len(actions), a)
			actions = append(actions, a)
		}
		if len(actions) != 150 {
			t.Fatalf("keep %v: %d actions", keep, len(actions))
		}
		if keep {
			for i, a := range actions {
				check(i, a)
			}
		}
	}
}

// BenchmarkBulkParser reads the actions of a 1000-document bulk as the
// blackhole does, without HTTP, to see the parser's own cost.
func BenchmarkBulkParser(b *testing.B) {
	body := bulkBody(0, 1000)
	b.SetBytes(int64(len(body)))
	for b.Loop() {
		p := newBulkParser(bytes.NewReader(body), "", false)
		for {
			a, e := p.next()
			if e != nil {
				b.Fatal(e)
			}
			if a == nil {
				break
			}
		}
		p.release()
	}
}
