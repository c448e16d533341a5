package main

import (
	"encoding/binary"
	"fmt"
)

// headerSize is the size of the header every payload starts with: the
// message's unique id and the time it was sent, so that any consumer of any
// system can tell which message it got and how long delivery took without a
// side channel.
const headerSize = 16

// encodeMessage fills buf (len(buf) is the message size, at least
// headerSize) with id, the send time in nanoseconds since the run's epoch,
// and a filler that does not compress to nothing.
func encodeMessage(buf []byte, id uint64, sentNanos int64) {
	binary.BigEndian.PutUint64(buf[0:8], id)
	binary.BigEndian.PutUint64(buf[8:16], uint64(sentNanos))
	for i := headerSize; i < len(buf); i++ {
		buf[i] = byte('a' + (uint64(i)+id)%26)
	}
}

// decodeMessage returns the id and send time carried by a payload.
func decodeMessage(p []byte) (id uint64, sentNanos int64, err error) {
	if len(p) < headerSize {
		return 0, 0, fmt.Errorf("payload of %d bytes is shorter than the %d-byte header", len(p), headerSize)
	}
	return binary.BigEndian.Uint64(p[0:8]), int64(binary.BigEndian.Uint64(p[8:16])), nil
}

// messageID returns the id carried by a payload (0 if it has no header).
func messageID(p []byte) uint64 {
	id, _, err := decodeMessage(p)
	if err != nil {
		return 0
	}
	return id
}
