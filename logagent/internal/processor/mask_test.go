package processor

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"
	"time"
)

func TestMaskBuiltins(t *testing.T) {
	tests := []struct {
		builtin, in, want string
	}{
		{"email", "user bob@example.com logged in", "user *** logged in"},
		{"email", "to: a.b+tag@mail.example.co.uk, cc x_y@sub-domain.io.", "to: ***, cc ***."},
		{"email", "<alice@example.org>", "<***>"},
		{"email", "not an address: a@b, @example.com, user@localhost, a@b.c1", "not an address: a@b, @example.com, user@localhost, a@b.c1"},
		{"email", "x@@example.com .a@example.com", "x@@example.com .***"},
		{"email", "caf\xff\xfebob@example.com", "caf\xff\xfe***"},

		// 4111 1111 1111 1111 and 5500 0000 0000 0004 are Luhn-valid test cards; 4111 1111 1111 1112 is not.
		{"credit_card", "card 4111111111111111 ok", "card *** ok"},
		{"credit_card", "card 4111-1111-1111-1111 ok", "card *** ok"},
		{"credit_card", "card 4111 1111 1111 1111 exp 12/28", "card *** exp 12/28"},
		{"credit_card", "card 4111 1111 1111 1111 2026", "card *** 2026"},
		{"credit_card", "ref 12 4111 1111 1111 1111", "ref 12 ***"},
		{"credit_card", "5500000000000004,5500000000000004", "***,***"},
		{"credit_card", "order 4111111111111112 id", "order 4111111111111112 id"},
		{"credit_card", "twenty digits 41111111111111111111", "twenty digits 41111111111111111111"},
		{"credit_card", "twelve 411111111113", "twelve 411111111113"},
		{"credit_card", "in a word x4111111111111111 or 4111111111111111y", "in a word x4111111111111111 or 4111111111111111y"},
		{"credit_card", "double separators 4111--1111-1111-1111", "double separators 4111--1111-1111-1111"},
		{"credit_card", "ts 1732183200123 ms", "ts 1732183200123 ms"}, // 13 digits, Luhn fails
		{"credit_card", "4111111111111111", "***"},
		{"credit_card", "4111 1111 1111 1111 at the start", "*** at the start"},
		{"credit_card", "at the end 4111-1111-1111-1111", "at the end ***"},
		{"credit_card", "12 4111111111111111", "12 ***"},
		{"credit_card", "124111111111111111", "124111111111111111"},
		{"credit_card", "4111111111111111 12", "*** 12"},
		{"credit_card", "1.4111111111111111:7", "1.***:7"},
		{"credit_card", "thirteen 4222222222222.", "thirteen ***."},
		{"credit_card", "twelve 422222222222 and 1 2", "twelve 422222222222 and 1 2"},
		{"credit_card", "nineteen 6011 0009 9013 9424 009", "nineteen ***"},
		{"credit_card", "nineteen6011000990139424009 glued", "nineteen6011000990139424009 glued"},
		{"credit_card", "twenty 60110009901394240090", "twenty 60110009901394240090"},
		{"credit_card", "             4111111111111111", "             ***"},
		{"credit_card", "- - - - - - - 4111 1111 1111 1111 - -", "- - - - - - - *** - -"},
		{"credit_card", "10.0.0.1 - - [21/Nov/2026:10:00:00 +0100] 200 5123 4111111111111111", "10.0.0.1 - - [21/Nov/2026:10:00:00 +0100] 200 5123 ***"},

		{"secrets", "login user=bob password=hunter2 ok", "login user=bob password=*** ok"},
		{"secrets", "GET /cb?code=1&access_token=abc.def&x=2", "GET /cb?code=1&access_token=***&x=2"},
		{"secrets", `{"user":"bob","Password": "p@ss \"w\"","n":1}`, `{"user":"bob","Password": "***","n":1}`},
		{"secrets", "Authorization: Bearer eyJhbGciOi.x.y rest", "Authorization: Bearer *** rest"},
		{"secrets", "authorization=Basic dXNlcjpwYXNz", "authorization=Basic ***"},
		{"secrets", "Authorization: abc123 &x", "Authorization: *** &x"},
		{"secrets", "Authorization: Bearer", "Authorization: ***"},
		{"secrets", "db_password: s3cret; X-Api-Key: k1", "db_password: ***; X-Api-Key: ***"},
		{"secrets", "mytoken=visible passwords=x", "mytoken=visible passwords=x"},
		{"secrets", "DB_PASSWORD=x API_TOKEN: y SECRETS=z at the end token=", "DB_PASSWORD=*** API_TOKEN: *** SECRETS=z at the end token="},
		{"secrets", "the line ends in password=hunter2", "the line ends in password=***"},
		// Spaces after the separator are skipped ("password = x" must not
		// leak), so an empty value masks the next word: safe, if eager.
		{"secrets", "token= and password = x", "token= *** password = ***"},
		{"secrets", "time 10:00:00 url https://x", "time 10:00:00 url https://x"},

		{"ipv4", "from 10.0.0.5:8080 to 192.168.1.255.", "from ***:8080 to ***."},
		{"ipv4", "version 1.2.3.4.5 256.1.1.1 1.2.3 a1.2.3.4", "version 1.2.3.4.5 256.1.1.1 1.2.3 a1.2.3.4"},
		{"ipv4", "0.0.0.0", "***"},
	}
	for _, tt := range tests {
		c := mustParse(t, `[{"type":"mask","builtins":["`+tt.builtin+`"]}]`)
		if l, _ := run(c, tt.in); l.Message != tt.want {
			t.Errorf("%s(%q) = %q, want %q", tt.builtin, tt.in, l.Message, tt.want)
		}
	}
}

func TestLuhn(t *testing.T) {
	for _, tt := range []struct {
		digits string
		want   bool
	}{
		{"4111111111111111", true},
		{"4111 1111 1111 1111", true},
		{"79927398713", true},
		{"79927398710", false},
		{"0000000000000", true}, // all zeros passes Luhn: nothing a log would call a card, but checked like one
		{"378282246310005", true},
		{"6011111111111117", true},
		{"6011111111111118", false},
	} {
		if got := luhn(tt.digits); got != tt.want {
			t.Errorf("luhn(%s) = %v", tt.digits, got)
		}
	}
}

func TestMaskPatternAndFields(t *testing.T) {
	c := mustParse(t, `[{"type":"parse","format":"logfmt"},
		{"type":"mask","pattern":"session=([0-9a-f]{4})[0-9a-f]+","replacement":"session=${1}…"},
		{"type":"mask","builtins":["secrets","email"],"replacement":"[redacted]"}]`)
	l, _ := run(c, `user=bob@example.com password=hunter2 note="session=deadbeef99"`)
	if want := `user=[redacted] password=[redacted] note="session=dead…"`; l.Message != want {
		t.Errorf("message = %q, want %q", l.Message, want)
	}
	want := fields(str("user", "[redacted]"), str("password", "[redacted]"), str("note", "session=dead…"))
	if !equalFields(l.Parsed, want) {
		t.Errorf("parsed = %v, want %v", l.Parsed, want)
	}
}

func TestMaskEmptyReplacement(t *testing.T) {
	c := mustParse(t, `[{"type":"mask","builtins":["ipv4"],"replacement":""}]`)
	if l, _ := run(c, "from 10.0.0.5 ok"); l.Message != "from  ok" {
		t.Errorf("got %q", l.Message)
	}
}

func TestMaskHostileInput(t *testing.T) {
	c := mustParse(t, `[{"type":"mask","builtins":["email","credit_card","secrets","ipv4"]}]`)
	for _, in := range []string{
		strings.Repeat("@", 1<<16),
		strings.Repeat("a@", 1<<15),
		strings.Repeat("1 ", 1<<18),
		strings.Repeat("1-", 1<<18) + "1",
		strings.Repeat("1.", 1<<15),
		strings.Repeat("password=", 1<<12),
		strings.Repeat("\xff", 1<<16),
		"password=", "token:", `"secret":"`, "4111 ", "a@b.",
	} {
		start := time.Now()
		l, _ := run(c, in) // must end (in linear time) and not panic
		if d := time.Since(start); d > 2*time.Second {
			t.Errorf("%.20q (%d bytes): %v", in, len(in), d)
		}
		if len(l.Flags) != 0 {
			t.Errorf("%.20q: flags %v", in, l.Flags)
		}
	}
}

func equalFields(a, b []recordField) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func TestNextDigit(t *testing.T) {
	for n := 0; n <= 20; n++ {
		for pos := 0; pos <= n; pos++ {
			for _, other := range []byte{'a', '/', ':', 0x80 + '5', 0xff, ' ', '0' - 1, '9' + 1} {
				b := bytes.Repeat([]byte{other}, n)
				if pos < n {
					b[pos] = '7'
				}
				for from := 0; from <= n; from++ {
					want := n
					if pos < n && pos >= from {
						want = pos
					}
					if got := nextDigit(string(b), from); got != want {
						t.Fatalf("nextDigit(%q, %d) = %d, want %d", b, from, got, want)
					}
				}
			}
		}
	}
}

// The mask skips parsed fields that are pieces of a message it found
// nothing in (isolatedIn). That is sound only if no built-in finds
// anything in such a piece: checked here on random lines made of what the
// built-ins look at.
func TestBuiltinsFindNothingInAPieceOfACleanMessage(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	atoms := []string{"4111", "1111", "5500", "0000", "0004", "1", "12", "255", "10", ".", "-", " ", "@", "a", "bob",
		"example", "com", "password", "token", "Authorization", "Bearer", "=", ":", `"`, "'", "[", "]", "&", "x", "_", "/", "\xff"}
	for range 50000 {
		var b strings.Builder
		for range 1 + rng.IntN(12) {
			b.WriteString(atoms[rng.IntN(len(atoms))])
		}
		msg := b.String()
		for name, bm := range builtinMasks {
			if start, _ := bm.next(msg, 0); start >= 0 {
				continue
			}
			for i := 0; i < len(msg); i++ {
				for j := i + 1; j <= len(msg); j++ {
					piece := msg[i:j]
					if !isolatedIn(msg, piece) {
						continue
					}
					if start, end := bm.next(piece, 0); start >= 0 {
						t.Fatalf("%s finds %q in %q, a piece of %q where it finds nothing", name, piece[start:end], piece, msg)
					}
				}
			}
		}
	}
}

// nextCard passes over stretches that cannot hold a card in one go; it
// must find exactly what the walk over every number finds, from every
// starting point (maskAll resumes after a match).
func TestCardSkipFindsWhatTheWalkFinds(t *testing.T) {
	rng := rand.New(rand.NewPCG(9, 10))
	atoms := []string{"4111", "1111", "5500", "0000", "0004", "4222222222222", "6011", "0009", "9013", "9424", "009",
		"1", "12", "7", " ", " ", "-", "--", "  ", "x", "ab", ".", ":", "/", "é", "\xff", "\x80"}
	for range 100000 {
		var b strings.Builder
		for range 1 + rng.IntN(24) {
			b.WriteString(atoms[rng.IntN(len(atoms))])
		}
		s := b.String()
		for from := 0; from <= len(s); from++ {
			gs, ge := scanCards(s, from, true)
			ws, we := scanCards(s, from, false)
			if gs != ws || ge != we {
				t.Fatalf("scanCards(%q, %d): skipping finds %d:%d, the walk %d:%d", s, from, gs, ge, ws, we)
			}
		}
	}
}

func TestCardRunStart(t *testing.T) {
	for n := 0; n <= 40; n++ {
		for pos := 0; pos <= n; pos++ {
			for length := 12; length <= 14; length++ {
				if pos+length > n {
					continue
				}
				b := bytes.Repeat([]byte{'x'}, n)
				for k := pos; k < pos+length; k++ {
					b[k] = "1 -"[k%3]
				}
				for from := 0; from <= n; from++ {
					want := n
					if length >= 13 && from < pos+length-12 {
						want = max(pos, from)
					}
					if got := cardRunStart(string(b), from); got != want {
						t.Fatalf("cardRunStart(%q, %d) = %d, want %d", b, from, got, want)
					}
				}
			}
		}
	}
}

// FuzzCardSkip: TestCardSkipFindsWhatTheWalkFinds on arbitrary bytes.
func FuzzCardSkip(f *testing.F) {
	for _, s := range []string{nginxLine, "4111 1111 1111 1111", "12 4111-1111-1111-1111 x", "1 1 1 1 1 1 1 1 1 1 1 1 1 1 4111111111111111"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		for from := 0; from <= len(s); from++ {
			gs, ge := scanCards(s, from, true)
			ws, we := scanCards(s, from, false)
			if gs != ws || ge != we {
				t.Fatalf("scanCards(%q, %d): skipping finds %d:%d, the walk %d:%d", s, from, gs, ge, ws, we)
			}
		}
	})
}
