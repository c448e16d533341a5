package main

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// A recovery list never holds more transactions than its caller has room
// for in its count: short xids fit several to a record's room, and those
// past the count would be marked listed without reaching the server.
func TestListPreparedStopsAtItsCount(t *testing.T) {
	preparedMu.Lock()
	saved := prepared
	prepared = map[string]*preparedSet{"a": {}, "b": {}, "c": {}}
	preparedMu.Unlock()
	t.Cleanup(func() {
		preparedMu.Lock()
		prepared = saved
		preparedMu.Unlock()
	})
	const record = 2 + 256 // QC_XA_RECORD_MAX
	out := make([]byte, record)
	require.Equal(t, 3, listPrepared(out, 1))
	require.Equal(t, []byte{1, 0, 'a'}, out[:3])
	require.Equal(t, 6, listPrepared(out, 2))
	require.Equal(t, []byte{1, 0, 'b', 1, 0, 'c'}, out[:6])
	require.Equal(t, 0, listPrepared(out, 2), "each is listed once")
	// A record that does not fit waits for the next call.
	prepared["d"] = &preparedSet{}
	require.Equal(t, 0, listPrepared(out[:2], 1))
	require.Equal(t, 3, listPrepared(out, 1))
}
