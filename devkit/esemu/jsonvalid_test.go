package esemu

import (
	"encoding/json"
	"strings"
	"testing"
)

var validJSONCases = []struct {
	in   string
	want bool
}{
	{"", false},
	{" \t\r\n", false},
	{"{}", true},
	{"[]", true},
	{" { } ", true},
	{"\v{}", false}, // only four bytes are JSON whitespace
	{"{}\f", false},
	{"{} x", false},
	{"{}{}", false},
	{"{},", false},
	{`{"a":1}`, true},
	{`{"a":1,}`, false},
	{`{"a":1,,"b":2}`, false},
	{`{"a" : 1 , "b" : [ 1 , 2 ] }`, true},
	{`{"a"}`, false},
	{`{"a":}`, false},
	{`{a:1}`, false},
	{`{1:1}`, false},
	{`{"a":1]`, false},
	{`[1}`, false},
	{`[1,]`, false},
	{`[,1]`, false},
	{`[1 2]`, false},
	{`{"a":1`, false},
	{`[`, false},
	{`]`, false},
	{`[[[]],[{}],{"a":[{"b":null}]}]`, true},
	// numbers
	{"0", true},
	{"-0", true},
	{"01", false},
	{"-01", false},
	{"-", false},
	{"+1", false},
	{"1.", false},
	{".5", false},
	{"1.5", true},
	{"-1.50e+10", true},
	{"1e", false},
	{"1e+", false},
	{"1e-5", true},
	{"1E5", true},
	{"1e5.5", false},
	{"0x10", false},
	{"1.5.5", false},
	{"123456789012345678901234567890", true},
	{`[0,-0,1,-1,0.0,1e0]`, true},
	{`{"a":01}`, false},
	{`{"a":-}`, false},
	{"Infinity", false},
	{"NaN", false},
	// literals
	{"true", true},
	{"false", true},
	{"null", true},
	{"tru", false},
	{"nulll", false},
	{"fals", false},
	{"True", false},
	{"[true,false,null]", true},
	{"[truefalse]", false},
	// strings
	{`""`, true},
	{`"abc"`, true},
	{`"abc`, false},
	{`"`, false},
	{`"\u12"`, false},
	{`"\u12g4"`, false},
	{`"\u00e9\uD83D\uDE00\uFFFF"`, true},
	{`"\uD800"`, true}, // a lone surrogate: json.Valid does not pair them
	{`"\x"`, false},
	{`"\'"`, false},
	{`"\/"`, true},
	{`"\"\\\/\b\f\n\r\t"`, true},
	{`"\`, false},
	{`"\"`, false},
	{"\"a\tb\"", false},
	{"\"a\nb\"", false},
	{"\"a\x00b\"", false},
	{"\"a\x1fb\"", false},
	{"\"a\x7fb\"", true},
	{"\"\xff\xfe\"", true}, // invalid UTF-8 inside a string is accepted, as json.Valid does
	{"\"\xc3\"", true},
	{"\"é日本\"", true},
	{"\xff", false}, // outside a string it is not
	{"{\"a\":1}\xff", false},
	{"{\"a\":1\x00}", false},
	{"\x00", false},
	{`"a long plain run past eight bytes"`, true},
	{`"a long plain run past eight bytes\"with a quote"`, true},
	{"\"a long plain run past eight\x01bytes\"", false},
	{`"abcdefg\"abcdefgh"`, true},
	{`"abcdefgh\`, false},
	{`"abcdefgh\u0041"`, true},
	{`"abcdefgh\u004"`, false},
	{`{"message":"GET /api HTTP/1.1 200 \"-\" \"curl/8.5\"","host":{"name":"web-1"},"offset":350}`, true},
}

func TestValidJSON(t *testing.T) {
	for _, c := range validJSONCases {
		if got := validJSON([]byte(c.in)); got != c.want {
			t.Errorf("validJSON(%q) = %v, want %v", c.in, got, c.want)
		}
		if std := json.Valid([]byte(c.in)); std != c.want {
			t.Errorf("the table disagrees with json.Valid(%q) = %v", c.in, std)
		}
	}
}

func TestValidJSONDepth(t *testing.T) {
	nested := func(depth int, open, close, inner string) []byte {
		return []byte(strings.Repeat(open, depth) + inner + strings.Repeat(close, depth))
	}
	for _, c := range []struct {
		name string
		in   []byte
	}{
		{"arrays 1000", nested(1000, "[", "]", "1")},
		{"objects 1000", nested(1000, `{"a":`, "}", "{}")},
		{"arrays 10000", nested(10000, "[", "]", "")},
		{"arrays 10000 with a value", nested(9999, "[", "]", "[1]")},
		{"arrays 10001", nested(10001, "[", "]", "")},
		{"arrays 10000 and an empty object", nested(10000, "[", "]", "{}")},
		{"objects 10001", nested(10000, `{"a":`, "}", "{}")},
		{"unclosed 1000", []byte(strings.Repeat("[", 1000))},
	} {
		got, want := validJSON(c.in), json.Valid(c.in)
		if got != want {
			t.Errorf("%s: validJSON = %v, json.Valid = %v", c.name, got, want)
		}
	}
	if !validJSON(nested(1000, "[", "]", "")) {
		t.Error("1000 nested arrays rejected")
	}
}

// TestValidJSONStringBytes puts every byte value at every offset of an
// 8-byte step, after plain bytes and after bytes that are not ASCII, since
// the 8-bytes-per-step scan of strings must find the first byte to look at
// exactly.
func TestValidJSONStringBytes(t *testing.T) {
	for _, fill := range []string{"abcdefghijklmnop", "\x80\xff\xc3\xa9~~~~\xe6\x97\xa5!!!!!!"} {
		for pos := 0; pos < 16; pos++ {
			for c := 0; c < 256; c++ {
				in := []byte(`"` + fill + `"`)
				in[1+pos] = byte(c)
				if got, want := validJSON(in), json.Valid(in); got != want {
					t.Errorf("validJSON(%q) = %v, json.Valid = %v", in, got, want)
				}
			}
		}
	}
}

func TestCheckObject(t *testing.T) {
	for _, c := range []struct {
		in   string
		want string // the error's type, "" for none
	}{
		{`{"a":1}`, ""},
		{" \v{}\u00a0", ""}, // the source is trimmed of Unicode space first
		{"", "mapper_parsing_exception"},
		{"  ", "mapper_parsing_exception"},
		{`[]`, "mapper_parsing_exception"},
		{`"s"`, "mapper_parsing_exception"},
		{`1`, "mapper_parsing_exception"},
		{`null`, "mapper_parsing_exception"},
		{`{"a":1,}`, "mapper_parsing_exception"},
		{`{"a":1}{}`, "mapper_parsing_exception"},
	} {
		e := checkObject([]byte(c.in))
		got := ""
		if e != nil {
			got = e.Type
		}
		if got != c.want {
			t.Errorf("checkObject(%q) = %q, want %q", c.in, got, c.want)
		}
	}
}

func FuzzValid(f *testing.F) {
	for _, c := range validJSONCases {
		f.Add([]byte(c.in))
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		if got, want := validJSON(in), json.Valid(in); got != want {
			t.Errorf("validJSON(%q) = %v, json.Valid = %v", in, got, want)
		}
	})
}

// BenchmarkCheckObject validates one agent-shaped source, the blackhole's
// cost per document.
func BenchmarkCheckObject(b *testing.B) {
	body := bulkBody(0, 2)
	src := body[strings.IndexByte(string(body), '\n')+1:]
	src = src[:strings.IndexByte(string(src), '\n')]
	b.SetBytes(int64(len(src)))
	for b.Loop() {
		if e := checkObject(src); e != nil {
			b.Fatal(e)
		}
	}
}
