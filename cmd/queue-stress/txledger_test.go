package main

import (
	"testing"

	"github.com/stretchr/testify/require"
)

func TestTxLedgerAcceptsTransactionalHistory(t *testing.T) {
	l := newTxLedger()
	l.set(txPending, 1, 2, 3)
	l.set(txRolledBack, 3) // ROLLBACK TO SAVEPOINT
	l.set(txCommitting, 1, 2)
	l.set(txCommitted, 1, 2)
	l.deliver(1)
	l.rollbackConsume(1) // consumer rolled back: the row comes back
	l.deliver(1)
	l.deliver(2)
	l.commitConsume(1, 2)
	require.Zero(t, l.missing())
	r := l.check()
	require.NoError(t, r.ok())
	require.Equal(t, 2, r.Committed)
	require.Equal(t, 1, r.RolledBack)
	require.Equal(t, 1, r.ConsumeRollbacks)
}

func TestTxLedgerCatchesEachViolation(t *testing.T) {
	cases := map[string]func(l *txLedger){
		"lost": func(l *txLedger) {},
		"twice": func(l *txLedger) {
			l.deliver(1)
			l.commitConsume(1)
			l.commitConsume(1)
		},
		"rolled back delivered": func(l *txLedger) {
			l.set(txRolledBack, 2)
			l.deliver(2)
		},
		"uncommitted delivered": func(l *txLedger) {
			l.set(txPending, 3)
			l.deliver(3)
			l.set(txRolledBack, 3)
		},
		"delivered after its committed consume": func(l *txLedger) {
			l.deliver(1)
			l.commitConsume(1)
			l.deliver(1)
		},
		"unknown": func(l *txLedger) { l.deliver(99) },
		"consumed but not committed": func(l *txLedger) {
			l.set(txRolledBack, 4)
			l.commitConsume(4)
		},
	}
	for name, f := range cases {
		t.Run(name, func(t *testing.T) {
			l := newTxLedger()
			l.set(txCommitted, 1)
			if name != "lost" {
				// message 1 is consumed once unless the case says otherwise
				if name != "twice" && name != "delivered after its committed consume" {
					l.deliver(1)
					l.commitConsume(1)
				}
			}
			f(l)
			require.Error(t, l.check().ok())
		})
	}
}
