package producer

import (
	"errors"
	"unsafe"
)

// messageOverhead is what a record costs besides its key, value and event id
// bytes: the Message itself and the caller's pointer to it.
const messageOverhead = int64(unsafe.Sizeof(Message{})) + 8

// heldBytes is the memory a record holds until Kafka acknowledged it. The
// key is shared by a file's records, so counting it per record errs on the
// safe side.
func heldBytes(m *Message) int64 {
	return int64(len(m.Key)+len(m.Value)+len(m.EventID)) + messageOverhead
}

// errSinkClosed is returned to senders waiting when the sink closes.
var errSinkClosed = errors.New("kafka sink closed")
