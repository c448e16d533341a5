/*
  intake.h: the queue of durable requests that server threads hand to the
  Go library without entering Go (intake.c, drained by intake.go).
*/
#ifndef QC_INTAKE_H
#define QC_INTAKE_H

/* Go files define QC_TYPES_ONLY before including this (cgo declares the
   exported functions itself); intake.c gets the prototypes. */
#include "queue_core.h"

enum { QC_REQ_APPEND = 1, QC_REQ_REMOVE = 2, QC_REQ_END = 3 };

/* One queued request: the arguments of the *_async call. Allocated by the
   call, freed by the intake goroutine once it has copied the fields. The
   pointers belong to the caller and stay valid until done(arg) returns. */
typedef struct qc_req {
  struct qc_req *next;
  int kind;
  uint64_t table, session;
  const unsigned char *buf;
  const uint32_t *lens;
  const uint64_t *ids;
  int n;
  qc_done_fn done;
  void *arg;
  int *rc;
  uint64_t *value;
  qc_err *e;
} qc_req;

/* Blocks until requests are queued and returns them all, oldest first. */
qc_req *qc_intake_take(void);

#endif
