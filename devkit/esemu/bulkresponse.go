package esemu

import (
	"encoding/json"
	"slices"
	"strconv"
	"unicode/utf8"
)

// bulkResponse builds a _bulk response by appending bytes: bulk responses
// are the emulator's hottest output (one item per document) and reflection
// based encoding would dominate blackhole throughput.
type bulkResponse struct {
	buf          []byte
	errors       bool
	items        int
	forceRefresh bool
}

// newBulkResponse builds a response in buf (nil for a new one), with room
// for about sizeHint items.
func newBulkResponse(buf []byte, sizeHint int) *bulkResponse {
	r := &bulkResponse{buf: slices.Grow(buf[:0], 64+sizeHint*180)}
	r.buf = append(r.buf, `{"took":0000000000,"errors":false,"items":[`...)
	return r
}

func (r *bulkResponse) add(res *writeResult) {
	if r.items > 0 {
		r.buf = append(r.buf, ',')
	}
	r.items++
	b := append(r.buf, `{"`...)
	b = append(b, res.kind...)
	b = append(b, `":{"_index":`...)
	b = appendJSONString(b, res.index)
	b = append(b, `,"_type":"_doc","_id":`...)
	if res.id == "" {
		b = append(b, "null"...)
	} else {
		b = appendJSONString(b, res.id)
	}
	if res.err != nil {
		r.errors = true
		b = append(b, `,"status":`...)
		b = strconv.AppendInt(b, int64(res.status), 10)
		b = append(b, `,"error":`...)
		enc, err := json.Marshal(res.err)
		if err != nil {
			enc = []byte(`{"type":"exception","reason":"unencodable error"}`)
		}
		b = append(b, enc...)
		r.buf = append(b, "}}"...)
		return
	}
	b = append(b, `,"_version":`...)
	b = strconv.AppendInt(b, res.version, 10)
	b = append(b, `,"result":"`...)
	b = append(b, res.result...)
	b = append(b, `","_shards":{"total":`...)
	b = strconv.AppendInt(b, int64(res.shards), 10)
	if res.shards == 0 {
		b = append(b, `,"successful":0,"failed":0}`...)
	} else {
		b = append(b, `,"successful":1,"failed":0}`...)
	}
	if r.forceRefresh && res.result != "noop" {
		b = append(b, `,"forced_refresh":true`...)
	}
	b = append(b, `,"_seq_no":`...)
	b = strconv.AppendInt(b, res.seqNo, 10)
	b = append(b, `,"_primary_term":1,"status":`...)
	b = strconv.AppendInt(b, int64(res.status), 10)
	r.buf = append(b, "}}"...)
}

// finish fills in took and errors and closes the document. The header was
// written with fixed-width placeholders so it can be patched in place.
func (r *bulkResponse) finish(tookMillis int64) []byte {
	head := []byte(`{"took":` + strconv.FormatInt(tookMillis, 10) + `,"errors":` + strconv.FormatBool(r.errors) + `,"items":[`)
	const placeholder = len(`{"took":0000000000,"errors":false,"items":[`)
	out := r.buf[placeholder-len(head):]
	copy(out, head)
	return append(out, "]}\n"...)
}

// appendJSONString appends s as a JSON string literal. Plain runs are
// appended whole: a byte at a time was 4 % of the blackhole's CPU (every item
// repeats its index name and id).
func appendJSONString(b []byte, s string) []byte {
	b = append(b, '"')
	start := 0
	for i := 0; i < len(s); {
		c := s[i]
		if c >= 0x20 && c != '"' && c != '\\' && c < utf8.RuneSelf {
			i++
			continue
		}
		if c >= utf8.RuneSelf {
			r, size := utf8.DecodeRuneInString(s[i:])
			if r != utf8.RuneError || size != 1 {
				i += size // valid UTF-8 is copied as it is
				continue
			}
		}
		b = append(b, s[start:i]...)
		switch c {
		case '"':
			b = append(b, `\"`...)
		case '\\':
			b = append(b, `\\`...)
		case '\n':
			b = append(b, `\n`...)
		case '\r':
			b = append(b, `\r`...)
		case '\t':
			b = append(b, `\t`...)
		default:
			if c >= utf8.RuneSelf {
				b = append(b, `\ufffd`...)
			} else {
				b = append(b, `\u00`...)
				b = append(b, "0123456789abcdef"[c>>4], "0123456789abcdef"[c&0xf])
			}
		}
		i++
		start = i
	}
	b = append(b, s[start:]...)
	return append(b, '"')
}
