package main

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestCheckDeliveryExactlyOnce(t *testing.T) {
	c := checkDelivery([]uint64{1, 2, 3, 4}, []uint64{3, 1}, []uint64{4, 2})
	require.True(t, c.OK(), c.String())
	require.Equal(t, 4, c.Expected)
	require.Equal(t, 2, c.Consumed)
	require.Equal(t, 2, c.Remaining)
}

func TestCheckDeliveryLost(t *testing.T) {
	c := checkDelivery([]uint64{1, 2, 3}, []uint64{1}, []uint64{3})
	require.False(t, c.OK())
	require.Equal(t, 1, c.Lost)
	require.Contains(t, c.String(), "lost 2")
}

func TestCheckDeliveryDuplicatedAcrossConsumedAndRemaining(t *testing.T) {
	c := checkDelivery([]uint64{1, 2}, []uint64{1, 2}, []uint64{2})
	require.False(t, c.OK())
	require.Equal(t, 1, c.Duplicate)
	require.Equal(t, 0, c.Lost)
}

func TestCheckDeliveryDuplicatedConsume(t *testing.T) {
	c := checkDelivery([]uint64{5}, []uint64{5, 5, 5}, nil)
	require.Equal(t, 2, c.Duplicate)
}

func TestCheckDeliveryForeign(t *testing.T) {
	c := checkDelivery([]uint64{1}, []uint64{1, 0}, []uint64{9})
	require.False(t, c.OK())
	require.Equal(t, 2, c.Foreign)
}

func TestCheckDeliveryEmpty(t *testing.T) {
	require.True(t, checkDelivery(nil, nil, nil).OK())
}

func TestMessageRoundTrip(t *testing.T) {
	for _, size := range []int{headerSize, 100, 4096} {
		b := make([]byte, size)
		encodeMessage(b, 1<<40+7, 123456789)
		id, sent, err := decodeMessage(b)
		require.NoError(t, err)
		require.Equal(t, uint64(1<<40+7), id)
		require.Equal(t, int64(123456789), sent)
	}
	_, _, err := decodeMessage(make([]byte, headerSize-1))
	require.Error(t, err)
	require.Zero(t, messageID([]byte("short")))
}
