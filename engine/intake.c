/*
  intake.c: the server threads' side of qc_submit.

  qc_submit is plain C: it links the caller's request into a list and
  returns QC_PENDING without entering Go. Entering Go from a server thread
  (a cgo callback) needs one of the scheduler's Ps; with many connections
  the threads queue for them and the P is handed between threads, two
  context switches per call. One goroutine (intake.go) takes every queued
  request at once and hands each to its table's committer instead.

  When the intake goroutine is asleep (the server is not busy) the calling
  thread enters Go itself instead (qc_intake_direct): one cgo call with an
  idle P is cheaper than waking the intake thread.

  mu guards head, tail and waiting. No Go code runs with mu held.
*/
#include <pthread.h>
#include <stdlib.h>
#include "intake.h"

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static qc_request *head, *tail;
static int waiting; /* the intake goroutine sleeps in qc_intake_take */

/* intake.go (exported from Go; _cgo_export.h would clash with the const
   qualifiers of queue_core.h) */
extern void qc_intake_direct(qc_request *r);

int qc_submit(qc_request *r)
{
  if (!r || !r->done)
    return QC_EINVAL;
  r->next = NULL;
  r->rc = QC_ERR;
  r->value = 0;
  r->err.msg[0] = 0;
  pthread_mutex_lock(&mu);
  if (waiting && !head) {
    /* The intake goroutine is asleep: the server is not busy, and waking
       it would add a thread hand-off to this statement's latency. Enter Go
       directly instead (a P is then most likely idle). */
    pthread_mutex_unlock(&mu);
    qc_intake_direct(r);
    return QC_PENDING;
  }
  if (tail)
    tail->next = r;
  else
    head = r;
  tail = r;
  int wake = waiting;
  waiting = 0;
  if (wake)
    pthread_cond_signal(&cv);
  pthread_mutex_unlock(&mu);
  return QC_PENDING;
}

qc_request *qc_intake_take(void)
{
  pthread_mutex_lock(&mu);
  while (!head) {
    waiting = 1;
    pthread_cond_wait(&cv, &mu);
  }
  waiting = 0;
  qc_request *r = head;
  head = tail = NULL;
  pthread_mutex_unlock(&mu);
  return r;
}
