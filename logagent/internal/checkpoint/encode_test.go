package checkpoint

import (
	"encoding/json"
	"math/rand/v2"
	"reflect"
	"strings"
	"testing"
	"time"
)

// TestAppendJSONMatchesEncodingJSON writes random states with the store's
// encoder and with encoding/json: both must decode to the same state, and
// where no string needs HTML escaping (the only place the encoders differ)
// the bytes must be the same.
func TestAppendJSONMatchesEncodingJSON(t *testing.T) {
	rng := rand.New(rand.NewPCG(11, 12))
	pick := func(alphabet []string) string {
		var sb strings.Builder
		for range rng.IntN(12) {
			sb.WriteString(alphabet[rng.IntN(len(alphabet))])
		}
		return sb.String()
	}
	plain := []string{"a", "Z", "0", "/", ".", "-", "_", ":", "|", " ", "é", "日本", "😀"}
	odd := append(plain, `"`, `\`, "\n", "\t", "\x00", "\x1f", "<", ">", "&", "\u2028", "\xff")
	zones := []*time.Location{time.UTC, time.FixedZone("x", 5*3600+1800)}
	for round := range 300 {
		alphabet := plain
		if round%2 == 1 {
			alphabet = odd
		}
		st := state{Version: 1 + rng.IntN(3), Files: map[Key]Entry{}, Seen: map[string]string{}}
		for range rng.IntN(6) {
			e := Entry{ID: pick(alphabet), Path: pick(alphabet), Device: rng.Uint64(), Inode: rng.Uint64(),
				FPLen: rng.IntN(1025), FP: pick(alphabet), Offset: rng.Int64(),
				Updated: time.Unix(rng.Int64N(4e9), rng.Int64N(1e9)).In(zones[rng.IntN(len(zones))])}
			if rng.IntN(2) == 0 { // no birth time: omitted
				e.Born = rng.Int64()
			}
			if rng.IntN(2) == 0 { // entries without a tail omit both fields
				e.TailOff, e.Tail = rng.Int64(), pick(alphabet)
			}
			if rng.IntN(2) == 0 { // entries from before counts were kept have none
				e.Counts = &Counts{Since: rng.Int64(), Events: rng.Uint64(), Dropped: rng.Uint64()}
			}
			st.Files[keyOf(pick(alphabet))] = e
		}
		for range rng.IntN(3) {
			st.Seen[pick(alphabet)] = pick(alphabet)
		}
		switch rng.IntN(3) {
		case 0: // omitted
		case 1:
			st.Cursors = map[Key]Cursor{}
		default:
			st.Cursors = map[Key]Cursor{keyOf(pick(alphabet)): {Cursor: pick(alphabet), Source: pick(alphabet), Topic: pick(alphabet), Updated: time.Unix(rng.Int64N(4e9), 0)}}
		}
		switch rng.IntN(3) {
		case 0: // omitted
		case 1:
			st.Topics = map[string]string{}
		default:
			st.Topics = map[string]string{pick(alphabet): pick(alphabet)}
		}
		if round%50 == 0 {
			st.Seen = nil
		}
		ours := st.appendJSON(nil)
		theirs, err := json.Marshal(st)
		if err != nil {
			t.Fatal(err)
		}
		var a, b state
		if err := json.Unmarshal(ours, &a); err != nil {
			t.Fatalf("round %d: our encoding does not decode: %v\n%s", round, err, ours)
		}
		if err := json.Unmarshal(theirs, &b); err != nil {
			t.Fatal(err)
		}
		if !reflect.DeepEqual(a, b) {
			t.Fatalf("round %d: decoded states differ\nours:   %s\ntheirs: %s", round, ours, theirs)
		}
		if round%2 == 0 && string(ours) != string(theirs) {
			t.Fatalf("round %d: bytes differ\nours:   %s\ntheirs: %s", round, ours, theirs)
		}
	}
}

// keyOf reads s as checkpoints.json's keys are read: a key of a known form,
// or kept as it is.
func keyOf(s string) Key {
	var k Key
	_ = k.UnmarshalText([]byte(s))
	return k
}

// BenchmarkEncode1000 encodes the state of 1,000 followed files, as every
// Save does: go test -run XXX -bench Encode ./internal/checkpoint/
func BenchmarkEncode1000(b *testing.B) {
	st := state{Version: 1, Files: map[Key]Entry{}, Seen: map[string]string{"/var/log/app/*.log|t": "2026-11-21T00:00:00Z"}}
	for i := range 1000 {
		st.Files[FileKey(2049, uint64(100000+i), "app")] = Entry{ID: "0123456789abcdef01234567", Path: "/var/log/app/app-" + strings.Repeat("x", 8) + ".log",
			Device: 2049, Inode: uint64(100000 + i), FPLen: 1024, FP: "00112233445566778899aabbccddeeff", Offset: int64(i) * 12345, Updated: time.Now().UTC()}
	}
	b.Run("appendJSON", func(b *testing.B) {
		var buf []byte
		for b.Loop() {
			buf = st.appendJSON(buf[:0])
		}
	})
	b.Run("encoding/json", func(b *testing.B) {
		for b.Loop() {
			if _, err := json.Marshal(st); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// TestAppendEntryWritesEveryField fills every field of an Entry and checks
// that the store's encoder writes it: a field added to Entry and not to
// appendEntry is lost at every save (Born was, until this test).
func TestAppendEntryWritesEveryField(t *testing.T) {
	var e Entry
	v := reflect.ValueOf(&e).Elem()
	for i := range v.NumField() {
		f := v.Field(i)
		switch f.Kind() {
		case reflect.String:
			f.SetString("x" + v.Type().Field(i).Name)
		case reflect.Int, reflect.Int64:
			f.SetInt(int64(1000 + i))
		case reflect.Uint64:
			f.SetUint(uint64(2000 + i))
		case reflect.Pointer:
			f.Set(reflect.ValueOf(&Counts{Since: 1, Events: 2, Dropped: 3}))
		case reflect.Struct:
			f.Set(reflect.ValueOf(time.Unix(1e9, 5).UTC()))
		default:
			t.Fatalf("field %s: kind %s not covered by this test", v.Type().Field(i).Name, f.Kind())
		}
	}
	var back Entry
	if err := json.Unmarshal(appendEntry(nil, e), &back); err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back, e) {
		t.Fatalf("encoded and decoded:\n%+v\nwant\n%+v", back, e)
	}
}
