package main

/*
#define QC_TYPES_ONLY
#include "queue_core.h"

// The callback registered by qc_init. It points into ha_queue.so, which is
// linked -z nodelete, so it stays valid for the life of the process.
static qc_notify_fn qc_notify_target;

static void qc_set_notify(qc_notify_fn f)
{
  __atomic_store_n(&qc_notify_target, f, __ATOMIC_RELEASE);
}

static void qc_call_notify(uint64_t token)
{
  qc_notify_fn f = __atomic_load_n(&qc_notify_target, __ATOMIC_ACQUIRE);
  if (f)
    f(token);
}
*/
import "C"

// notify wakes the waiting connection identified by token. core calls it
// from its own goroutine after releasing its locks.
func notify(token uint64) { C.qc_call_notify(C.uint64_t(token)) }

func setNotify(f C.qc_notify_fn) { C.qc_set_notify(f) }
