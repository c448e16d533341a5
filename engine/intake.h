/*
  intake.h: the queue of durable requests that server threads hand to the
  Go library without entering Go (intake.c, drained by intake.go).
*/
#ifndef QC_INTAKE_H
#define QC_INTAKE_H

/* Go files define QC_TYPES_ONLY before including this (cgo declares the
   exported functions itself); intake.c gets the prototypes. */
#include "queue_core.h"

/* Blocks until requests are queued and returns them all, oldest first
   (linked through next). */
qc_request *qc_intake_take(void);

#endif
