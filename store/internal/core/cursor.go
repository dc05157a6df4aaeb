package core

import (
	"encoding/base64"
	"encoding/binary"
	"strconv"

	"github.com/wxgate/wxgate/store"
)

const cursorVersion = 1

// EncodeCursor returns the opaque cursor that continues after the message
// received at receivedMicro (Unix microseconds) with id.
func EncodeCursor(receivedMicro int64, id string) string {
	b := make([]byte, 0, 9+len(id))
	b = append(b, cursorVersion)
	b = binary.BigEndian.AppendUint64(b, uint64(receivedMicro))
	b = append(b, id...)
	return base64.RawURLEncoding.EncodeToString(b)
}

// DecodeCursor parses a cursor made by EncodeCursor, or returns
// store.ErrInvalidCursor.
func DecodeCursor(s string) (receivedMicro int64, id string, err error) {
	if len(s) > base64.RawURLEncoding.EncodedLen(9+store.IDLen) {
		return 0, "", store.ErrInvalidCursor
	}
	b, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil || len(b) != 9+store.IDLen || b[0] != cursorVersion {
		return 0, "", store.ErrInvalidCursor
	}
	id = string(b[9:])
	if !store.ValidID(id) {
		return 0, "", store.ErrInvalidCursor
	}
	return int64(binary.BigEndian.Uint64(b[1:9])), id, nil
}

// Args collects a query's arguments; Add returns the placeholder of the
// one it adds ($1, $2, ...: both dialects take them).
type Args []any

// Add appends v and returns its placeholder.
func (a *Args) Add(v any) string {
	*a = append(*a, v)
	return "$" + strconv.Itoa(len(*a))
}
