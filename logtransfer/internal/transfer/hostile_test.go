package transfer

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/logcollect/logcollect/devkit/testkit"
	"github.com/logcollect/logcollect/logtransfer/internal/document"
	tt "github.com/logcollect/logcollect/logtransfer/internal/transfertest"
)

// TestHostileRecordsNeitherWedgeNorVanish produces, between good records,
// what any producer on the topic could send: event.ids Elasticsearch refuses
// as _id (over 512 bytes in ASCII, and in UTF-8 with fewer than 512
// characters), an id of exactly 512 bytes (still fine), invalid and deeply
// nested JSON, timestamps at the ends of the range, a value near Kafka's
// size limit. Every record must end up indexed or dead-lettered exactly
// once, the offsets committed past all of them; a second group reading the
// topic again (redelivery) must not add a document.
func TestHostileRecordsNeitherWedgeNorVanish(t *testing.T) {
	k := tt.Kafka(t, map[string]int32{"web_log": 1}, "")
	es := tt.ES(t, false)
	good := tt.Records("web-h", 20, time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC))
	agent := func(ts, id string) []byte {
		return []byte(fmt.Sprintf(`{"@timestamp":%q,"message":"m","event":{"id":%q}}`, ts, id))
	}
	longASCII := strings.Repeat("x", 600)
	longUTF8 := strings.Repeat("é", 300) // 300 characters, 600 bytes
	hostile := [][]byte{
		agent("2026-06-01T00:00:00Z", longASCII),
		agent("2026-06-01T00:00:01Z", longUTF8),
		agent("2026-06-01T00:00:02Z", strings.Repeat("y", 512)),
		[]byte(`{"@timestamp":"2026-06-01T00:00:03Z","event":{"id":"broken"`),
		[]byte(`{"@timestamp":"2026-06-01T00:00:04Z","event":{"id":"deep"},"a":` + strings.Repeat(`[`, 5000) + strings.Repeat(`]`, 5000) + `}`),
		agent("9999-12-31T23:59:59Z", "far-future"),
		agent("0001-01-01T00:00:00Z", "far-past"),
		agent("2026-06-01T00:00:05Z", strings.Repeat("z", 400)+"\n"),
		[]byte(`{"@timestamp":"2026-06-01T00:00:06Z","message":"` + strings.Repeat("big ", 200_000) + `","event":{"id":"big"}}`),
	}
	values := append(append(append([][]byte{}, good[:10]...), hostile...), good[10:]...)
	tt.Produce(t, k.Addr(), "web_log", values)
	total := int64(len(values))

	r := start(t, testConfig(k.Addr(), es.URL(), "g-hostile", "web_log"))
	tt.Eventually(t, 60*time.Second, "the good records indexed", countIs(t, es, "logcollect-web_log-2026.06.01", 20+3)) // + the 512-byte id, the trailing newline, the big one
	tt.Eventually(t, 60*time.Second, "offsets committed past every record", committedIs(t, k.Addr(), "g-hostile", "web_log", 1, total))
	// Refused ids: dead-lettered under their derived id, saying why.
	for _, bad := range []string{longASCII, longUTF8} {
		id := document.DerivedID(bad)
		doc, found, err := es.Get("logcollect-dead-letter", id)
		if err != nil || !found {
			t.Fatalf("dead letter %s: found %v, %v", id, found, err)
		}
		reason := fmt.Sprint(doc["error"].(map[string]any)["reason"])
		if !strings.Contains(reason, "600 bytes long") || !strings.Contains(reason, "at most 512 bytes") {
			t.Errorf("dead letter reason %q does not say why", reason)
		}
		if orig := doc["event"].(map[string]any)["original"]; !strings.Contains(fmt.Sprint(orig), bad) {
			t.Errorf("event.original of %s lost the record", id)
		}
	}
	if doc, found, _ := es.Get("logcollect-dead-letter", "deep"); !found || fmt.Sprint(doc["error"].(map[string]any)["type"]) != "too_deeply_nested" {
		t.Errorf("the record nested 5000 levels deep was not dead-lettered as too_deeply_nested: %v", doc)
	}
	if _, found, _ := es.Get("logcollect-web_log-2026.06.01", strings.Repeat("y", 512)); !found {
		t.Error("a record with a 512-byte id was not indexed under it")
	}
	// Elasticsearch indexes years 0001 and 9999 in their own daily index;
	// the emulator (bleve) refuses dates outside 1677-2262 per document,
	// so there they are dead-lettered. Either way: present, once.
	for index, id := range map[string]string{"logcollect-web_log-9999.12.31": "far-future", "logcollect-web_log-0001.01.01": "far-past"} {
		_, indexed, _ := es.Get(index, id)
		_, dead, _ := es.Get("logcollect-dead-letter", id)
		if indexed == dead {
			t.Errorf("%s: in %s %v, dead-lettered %v; want exactly one", id, index, indexed, dead)
		}
	}
	wantIndexed, wantDL := countDocs(t, es)
	if wantIndexed+wantDL != int(total) || wantDL < 2 {
		t.Errorf("%d indexed + %d dead-lettered, want %d records in all, at least 2 dead-lettered", wantIndexed, wantDL, total)
	}
	r.stop(t)

	// Redelivery: another group reads everything again.
	r2 := start(t, testConfig(k.Addr(), es.URL(), "g-hostile-2", "web_log"))
	time.Sleep(2 * time.Second) // let the group form before asking for its offsets
	tt.Eventually(t, 60*time.Second, "second group committed", committedIs(t, k.Addr(), "g-hostile-2", "web_log", 1, total))
	r2.stop(t)
	if indexed, dl := countDocs(t, es); indexed != wantIndexed || dl != wantDL {
		t.Errorf("after redelivery %d indexed + %d dead-lettered, want %d + %d (no duplicates)", indexed, dl, wantIndexed, wantDL)
	}
}

func countDocs(t *testing.T, es *testkit.ES) (indexed, deadLettered int) {
	t.Helper()
	return tt.Count(t, es, "logcollect-web_log-*"), tt.Count(t, es, "logcollect-dead-letter")
}
