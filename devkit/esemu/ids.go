package esemu

import (
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"sync/atomic"
	"time"
)

var idSequence atomic.Uint32

// newID generates a 20-character URL-safe id like ES's auto-generated ids:
// 15 bytes of millisecond timestamp, a sequence number and randomness,
// base64url encoded without padding. The timestamp prefix keeps ids roughly
// time-ordered, as ES's are.
func newID() string {
	var b [15]byte
	ms := uint64(time.Now().UnixMilli())
	binary.BigEndian.PutUint64(b[0:8], ms<<16)
	seq := idSequence.Add(1)
	b[6], b[7], b[8] = byte(seq>>16), byte(seq>>8), byte(seq)
	_, _ = rand.Read(b[9:])
	return base64.RawURLEncoding.EncodeToString(b[:])
}
