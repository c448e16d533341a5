package main

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestLedgerExactlyOnce(t *testing.T) {
	l := newLedger()
	l.ack(1, 2, 3)
	l.deliver(1)
	l.deliver(2)
	l.deliver(3)
	r := l.check()
	require.NoError(t, r.exactlyOnce())
	require.NoError(t, r.atLeastOnce())
	require.Equal(t, 3, r.Delivered)
}

func TestLedgerLostMessage(t *testing.T) {
	l := newLedger()
	l.ack(1, 2)
	l.deliver(1)
	require.Equal(t, 1, l.missing())
	r := l.check()
	require.Equal(t, []int64{2}, r.Lost)
	require.Error(t, r.exactlyOnce())
	require.Error(t, r.atLeastOnce())
}

func TestLedgerDuplicateAllowedOnlyAcrossCrash(t *testing.T) {
	l := newLedger()
	l.ack(7)
	l.deliver(7)
	l.deliver(7)
	r := l.check()
	require.Equal(t, []int64{7}, r.Duplicated)
	require.Error(t, r.exactlyOnce())
	require.NoError(t, r.atLeastOnce())
}

func TestLedgerPhantomAndUncertain(t *testing.T) {
	l := newLedger()
	l.maybe(5)   // the INSERT's connection died: the row may exist
	l.deliver(5) // it did
	l.deliver(9) // never sent
	r := l.check()
	require.Equal(t, []int64{9}, r.Phantom)
	require.Error(t, r.atLeastOnce())
	// An uncertain message that later got acknowledged is no longer uncertain.
	l.ack(5)
	require.Equal(t, 0, l.check().Uncertain)
}

// A row delivered again after its removal was acknowledged breaks both
// guarantees, crash or not; a redelivery of a row still owned does not.
func TestLedgerAcknowledgedRemovalComesBack(t *testing.T) {
	l := newLedger()
	l.ack(1, 2)
	l.deliver(1)
	l.consume(1)
	l.deliver(2)
	l.deliver(2) // owned at a crash: allowed across a crash
	require.NoError(t, l.check().atLeastOnce())
	l.deliver(1)
	r := l.check()
	require.Equal(t, []int64{1}, r.Returned)
	require.Error(t, r.atLeastOnce())
	require.Error(t, r.exactlyOnce())
}
