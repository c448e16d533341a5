/*
  intake.c: the server threads' side of the asynchronous durable operations.

  qc_append_async, qc_remove_async and qc_end_async are plain C: they queue
  the request here and return QC_PENDING without entering Go. Entering Go
  from a server thread (a cgo callback) needs one of the scheduler's Ps, of
  which there are as many as cores; with many connections the threads queue
  for them and the P is handed between threads, two context switches per
  call. One goroutine (intake.go) takes every queued request at once and
  hands it to its table's committer instead.

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
static qc_req *head, *tail;
static int waiting; /* the intake goroutine sleeps in qc_intake_take */

/* intake.go (exported from Go; _cgo_export.h would clash with the const
   qualifiers of queue_core.h) */
extern void qc_intake_direct(qc_req *r);

static int push(qc_req *r)
{
  r->next = NULL;
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

qc_req *qc_intake_take(void)
{
  pthread_mutex_lock(&mu);
  while (!head) {
    waiting = 1;
    pthread_cond_wait(&cv, &mu);
  }
  waiting = 0;
  qc_req *r = head;
  head = tail = NULL;
  pthread_mutex_unlock(&mu);
  return r;
}

static qc_req *new_req(int kind, qc_done_fn done, void *arg, int *rc, qc_err *e)
{
  qc_req *r = calloc(1, sizeof(*r));
  if (!r)
    return NULL;
  r->kind = kind;
  r->done = done;
  r->arg = arg;
  r->rc = rc;
  r->e = e;
  return r;
}

int qc_append_async(uint64_t table, uint64_t session, const unsigned char *buf,
                    const uint32_t *lens, int nrows, qc_done_fn done, void *arg,
                    int *rc, uint64_t *first_id, qc_err *e)
{
  if (!done || !rc)
    return QC_EINVAL;
  qc_req *r = new_req(QC_REQ_APPEND, done, arg, rc, e);
  if (!r)
    return QC_ERR;
  r->table = table;
  r->session = session;
  r->buf = buf;
  r->lens = lens;
  r->n = nrows;
  r->value = first_id;
  return push(r);
}

int qc_remove_async(uint64_t table, const uint64_t *ids, int n, qc_done_fn done,
                    void *arg, int *rc, uint64_t *removed, qc_err *e)
{
  if (!done || !rc)
    return QC_EINVAL;
  qc_req *r = new_req(QC_REQ_REMOVE, done, arg, rc, e);
  if (!r)
    return QC_ERR;
  r->table = table;
  r->ids = ids;
  r->n = n;
  r->value = removed;
  return push(r);
}

int qc_end_async(uint64_t session, qc_done_fn done, void *arg, int *rc, qc_err *e)
{
  if (!done || !rc)
    return QC_EINVAL;
  qc_req *r = new_req(QC_REQ_END, done, arg, rc, e);
  if (!r)
    return QC_ERR;
  r->session = session;
  return push(r);
}
