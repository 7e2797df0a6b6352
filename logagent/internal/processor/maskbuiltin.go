package processor

import (
	"encoding/binary"
	"math/bits"
	"strings"
	"unsafe"
)

// The built-in masks are hand-written scanners rather than regular
// expressions: they run on every line, and a regexp would cost more than
// the rest of the agent's work on it.

func isDigit(c byte) bool { return '0' <= c && c <= '9' }
func isAlpha(c byte) bool { return 'a' <= c|0x20 && c|0x20 <= 'z' }
func isAlnum(c byte) bool { return isDigit(c) || isAlpha(c) }

// nextEmail finds local@domain.tld: local of letters, digits and ._%+-,
// a domain of labels (letters, digits, -) with a top level of two or
// more letters.
func nextEmail(s string, from int) (int, int) {
	for {
		at := indexByteFrom(s, '@', from)
		if at < 0 {
			return -1, -1
		}
		start := at
		for start > from && isEmailLocal(s[start-1]) {
			start--
		}
		for start < at && s[start] == '.' { // a local part does not start with a dot
			start++
		}
		end := at + 1
		for end < len(s) && (isAlnum(s[end]) || s[end] == '-' || s[end] == '.') {
			end++
		}
		for end > at+1 && (s[end-1] == '.' || s[end-1] == '-') { // "mail me at a@b.com."
			end--
		}
		if start < at && hasTLD(s[at+1:end]) {
			return start, end
		}
		from = at + 1
	}
}

func isEmailLocal(c byte) bool {
	return isAlnum(c) || c == '.' || c == '_' || c == '%' || c == '+' || c == '-'
}

// hasTLD reports whether domain is label(.label)* ending in a top level
// of two or more letters.
func hasTLD(domain string) bool {
	dot := -1
	for i := len(domain) - 1; i >= 0; i-- {
		if domain[i] == '.' {
			dot = i
			break
		}
	}
	if dot <= 0 || len(domain)-dot-1 < 2 || domain[dot-1] == '.' {
		return false
	}
	for i := dot + 1; i < len(domain); i++ {
		if !isAlpha(domain[i]) {
			return false
		}
	}
	return true
}

// indexByteFrom is the index of the first c at or after from, or -1.
func indexByteFrom(s string, c byte, from int) int {
	if from >= len(s) {
		return -1
	}
	if i := strings.IndexByte(s[from:], c); i >= 0 {
		return from + i
	}
	return -1
}

// nextCard finds a payment card number: 13 to 19 digits, in groups
// separated by single spaces or dashes, not part of a longer word or
// number, whose Luhn check digit is right (so most order ids, phone
// numbers and timestamps are left alone). Of the group ends that qualify,
// the longest wins; a number that does not qualify is tried again from its
// next group ("ref 12 4111 1111 1111 1111").
func nextCard(s string, from int) (int, int) { return scanCards(s, from, true) }

// scanCards is nextCard; skipShort says whether to pass over the stretches
// without 13 bytes of digits and separators in a row (cardRunStart), which
// cannot hold a card, in one go: an nginx line has a dozen short numbers,
// each of which cost a digit search and a look at its run. Tests compare
// it with the byte-wise walk, which must find the same.
func scanCards(s string, from int, skipShort bool) (int, int) {
	i := from
	for i < len(s) {
		if skipShort {
			i = cardRunStart(s, i)
		}
		if i = nextDigit(s, i); i == len(s) {
			break
		}
		if i > 0 && isAlnum(s[i-1]) { // inside a word or a longer number
			for i < len(s) && isAlnum(s[i]) {
				i++
			}
			continue
		}
		if len(s)-i < 13 { // too short for a card
			return -1, -1
		}
		if n := runEnd(s, i); n.digits < 13 { // the common case: too few digits, skip the run
			i = n.end
			for i < len(s) && isAlnum(s[i]) {
				i++
			}
			continue
		}
		start, digits, firstGroupEnd := i, 0, -1
		var ends [20]int // ends[n] is where the number ends after n digits, if a group ends there
		j := i
		for j < len(s) && digits <= 19 {
			c := s[j]
			if isDigit(c) {
				digits++
				j++
				continue
			}
			if (c == ' ' || c == '-') && j+1 < len(s) && isDigit(s[j+1]) {
				if digits <= 19 {
					ends[digits] = j
				}
				if firstGroupEnd < 0 {
					firstGroupEnd = j
				}
				j++
				continue
			}
			break
		}
		if digits <= 19 && (j == len(s) || !isAlnum(s[j])) {
			ends[digits] = j
		}
		for n := 19; n >= 13; n-- {
			if end := ends[n]; end > 0 && luhn(s[start:end]) {
				return start, end
			}
		}
		if firstGroupEnd < 0 {
			i = j
			for i < len(s) && isAlnum(s[i]) {
				i++
			}
		} else {
			i = firstGroupEnd + 1
		}
	}
	return -1, -1
}

// cardRunStart returns where the first run of at least 13 bytes that
// could be digits or separators starts at or after i (clipped to i), or
// len(s): a card's 13 or more digits and the single spaces or dashes
// between them are such a run, and the walk over anything before it finds
// nothing to mask and steps over it without reaching into it (its skips
// stop at a byte that is no digit or separator, or run through a word's
// letters and digits, where the walk from inside the run would skip the
// same). 8 bytes at a time: the run so far carries from word to word.
func cardRunStart(s string, i int) int {
	const need = 13
	b := unsafe.Slice(unsafe.StringData(s), len(s))
	run := 0 // card bytes in a row just before i, back to at most where we started
	for ; i+8 <= len(b); i += 8 {
		m := cardBytes(binary.LittleEndian.Uint64(b[i:]))
		if m == highs {
			if run += 8; run >= need {
				return i + 8 - run
			}
			continue
		}
		other := ^m & highs
		if run+bits.TrailingZeros64(other)/8 >= need {
			return i - run
		}
		run = bits.LeadingZeros64(other) / 8
	}
	for ; i < len(b); i++ {
		if cardBytes(uint64(b[i])) != 0 {
			if run++; run >= need {
				return i + 1 - run
			}
		} else {
			run = 0
		}
	}
	return len(b)
}

const ones, highs = 0x0101010101010101, 0x8080808080808080

// cardBytes has the high bit set of each byte of x that is a digit, a
// space or a dash, and also of '!', '$', '%', '(', ')' and ',' (the bytes
// that, like ' ' and '-', are 0x2d once 0x0d is or-ed in: a cheaper test,
// and cardRunStart may find more runs than hold cards, never fewer). No
// carry crosses bytes.
func cardBytes(x uint64) uint64 {
	low := x &^ highs                 // each byte's low 7 bits: adding below cannot carry
	atLeast0 := low + ones*(0x80-'0') // high bit set where the byte is >= '0'
	above9 := low + ones*(0x80-'9'-1) // high bit set where the byte is > '9'
	sep := (x | ones*0x0d) ^ ones*'-' // 0 where the byte is ' ' or '-' (or one of the others)
	return (atLeast0&^above9 | ^(sep&^highs + ^uint64(highs) | sep)) &^ x & highs
}

type digitRun struct{ end, digits int }

// runEnd measures the run of digits and single separators at s[i], up to
// its 13th digit: enough to tell whether it can hold a card. (Measuring
// all of it from every group made "1 1 1 …" quadratic.)
func runEnd(s string, i int) digitRun {
	digits := 0
	for i < len(s) && digits < 13 {
		if c := s[i]; isDigit(c) {
			digits++
		} else if !(c == ' ' || c == '-') || i+1 == len(s) || !isDigit(s[i+1]) {
			break
		}
		i++
	}
	return digitRun{i, digits}
}

// nextDigit is the index of the first digit at or after i, or len(s). It
// passes over 8 bytes without a digit at a time: most of a line is not
// digits, and a card or an address starts with one.
func nextDigit(s string, i int) int {
	for ; i+8 <= len(s); i += 8 {
		x := uint64(s[i]) | uint64(s[i+1])<<8 | uint64(s[i+2])<<16 | uint64(s[i+3])<<24 |
			uint64(s[i+4])<<32 | uint64(s[i+5])<<40 | uint64(s[i+6])<<48 | uint64(s[i+7])<<56
		low := x &^ highs                     // each byte's low 7 bits: adding below cannot carry
		atLeast0 := low + ones*(0x80-'0')     // high bit set where the byte is >= '0'
		above9 := low + ones*(0x80-'9'-1)     // high bit set where the byte is > '9'
		if (atLeast0&^above9&^x)&highs != 0 { // some ASCII byte in '0'..'9'
			break
		}
	}
	for i < len(s) && !isDigit(s[i]) {
		i++
	}
	return i
}

// luhn checks the digits of s (other bytes are separators).
func luhn(s string) bool {
	sum, double := 0, false
	for i := len(s) - 1; i >= 0; i-- {
		if !isDigit(s[i]) {
			continue
		}
		d := int(s[i] - '0')
		if double {
			d *= 2
			if d > 9 {
				d -= 9
			}
		}
		sum += d
		double = !double
	}
	return sum%10 == 0
}

// nextIPv4 finds a dotted quad of numbers 0 to 255, not part of a longer
// dotted number or word.
func nextIPv4(s string, from int) (int, int) {
	for i := from; i < len(s); i++ {
		if i = nextDigit(s, i); i == len(s) {
			break
		}
		if i > 0 && (isAlnum(s[i-1]) || s[i-1] == '.') {
			continue
		}
		j, ok := i, true
		for part := 0; part < 4 && ok; part++ {
			if part > 0 {
				if j >= len(s) || s[j] != '.' {
					ok = false
					break
				}
				j++
			}
			n, k := 0, j
			for k < len(s) && isDigit(s[k]) && k-j < 3 {
				n = n*10 + int(s[k]-'0')
				k++
			}
			ok = k > j && n <= 255
			j = k
		}
		if !ok || j < len(s) && (isAlnum(s[j]) || s[j] == '.' && j+1 < len(s) && isDigit(s[j+1])) {
			continue
		}
		return i, j
	}
	return -1, -1
}

// secretKeys are the key names whose values the secrets mask hides; a key
// matches when it ends in one of them after a non-letter ("db_password",
// "X-Api-Key").
var secretKeys = []string{"password", "passwd", "secret", "token", "apikey", "api_key", "api-key", "authorization"}

// secretKeysEndingWith returns the secret keys that end in c (any case),
// nil for most bytes.
func secretKeysEndingWith(c byte) []string { return secretKeysByEnd[c] }

var secretKeysByEnd = func() (by [256][]string) {
	for _, k := range secretKeys {
		c := k[len(k)-1]
		by[c] = append(by[c], k)
		by[c&^0x20] = by[c] // the upper case letter (secretKeys end in letters)
	}
	return by
}()

func isSecretKey(key string) bool {
	// Most keys do not end like one, and are not looked at further: this
	// much is inlined.
	return key != "" && secretKeysEndingWith(key[len(key)-1]) != nil && endsInSecretKey(key)
}

func endsInSecretKey(key string) bool {
	for _, k := range secretKeysEndingWith(key[len(key)-1]) {
		if n := len(key) - len(k); n >= 0 && equalFoldASCII(key[n:], k) && (n == 0 || !isAlpha(key[n-1])) {
			return true
		}
	}
	return false
}

func equalFoldASCII(a, b string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := 0; i < len(a); i++ {
		if a[i]|0x20 != b[i]|0x20 { // b is lower case letters, '_' or '-'
			return false
		}
	}
	return true
}

// nextSecret finds the value of key=value, key: value and "key":"value"
// where the key names a secret (password=…, token=…, "api_key": "…").
// For Authorization the scheme is kept: "Authorization: Bearer ***".
func nextSecret(s string, from int) (int, int) {
	// The next '=' and ':' come from IndexByte (vectorised), each looked
	// for again only once passed.
	eq, colon := indexByteFrom(s, '=', from), indexByteFrom(s, ':', from)
	for eq >= 0 || colon >= 0 {
		i := eq
		if i < 0 || colon >= 0 && colon < i {
			i, colon = colon, indexByteFrom(s, ':', colon+1)
		} else {
			eq = indexByteFrom(s, '=', eq+1)
		}
		if !endsLikeSecretKey(s, i) { // the times and URLs of most lines: their key is not read
			continue
		}
		key := keyBefore(s, i)
		if key == "" || !isSecretKey(key) {
			continue
		}
		j := i + 1
		for j < len(s) && s[j] == ' ' {
			j++
		}
		if equalFoldASCII(key[len(key)-min(len(key), len("authorization")):], "authorization") {
			// "Bearer x": skip the scheme, mask the credentials; without
			// credentials after it, the word is what to hide.
			k := j
			for k < len(s) && isAlpha(s[k]) {
				k++
			}
			if k > j && k < len(s) && s[k] == ' ' {
				for k < len(s) && s[k] == ' ' {
					k++
				}
				if start, end := valueSpan(s, k); end > start {
					return start, end
				}
			}
		}
		start, end := valueSpan(s, j)
		if end > start {
			return start, end
		}
	}
	return -1, -1
}

// endsLikeSecretKey reports whether the byte that keyBefore(s, sep) would
// end with is a secret key's last letter (isSecretKey's first test).
func endsLikeSecretKey(s string, sep int) bool {
	end := keyEnd(s, sep)
	return end > 0 && secretKeysEndingWith(s[end-1]) != nil
}

// keyEnd is where the key before s[sep] ends: before the spaces and a
// closing quote that precede sep.
func keyEnd(s string, sep int) int {
	end := sep
	for end > 0 && s[end-1] == ' ' {
		end--
	}
	if end > 0 && (s[end-1] == '"' || s[end-1] == '\'') {
		end--
	}
	return end
}

// keyBefore returns the key that ends just before s[sep] (skipping
// spaces and a closing quote), or "".
func keyBefore(s string, sep int) string {
	end := keyEnd(s, sep)
	start := end
	for start > 0 && (isAlnum(s[start-1]) || s[start-1] == '_' || s[start-1] == '-') {
		start--
	}
	return s[start:end]
}

// valueSpan returns the value starting at s[i]: a quoted string's
// contents, or a bare word up to a space or a separator.
func valueSpan(s string, i int) (int, int) {
	if i >= len(s) {
		return i, i
	}
	if q := s[i]; q == '"' || q == '\'' {
		j := i + 1
		for j < len(s) && s[j] != q {
			if s[j] == '\\' {
				j++
			}
			j++
		}
		return i + 1, min(j, len(s))
	}
	j := i
	for j < len(s) {
		switch s[j] {
		case ' ', '\t', '&', ',', ';', '"', '\'', '}', ')', ']':
			return i, j
		}
		j++
	}
	return i, j
}
