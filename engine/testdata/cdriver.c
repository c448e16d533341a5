/*
  cdriver.c: exercises libqueue_core.so (ABI version 2) through its C header
  only, the way ha_queue.so uses it: durable work through qc_submit with a
  done callback that signals a condition the calling thread waits on in C,
  queue_wait through qc_wait (+ notify, qc_wait_end), counters read with
  atomic loads. Built and run by cdriver_test.go in a scratch directory
  (table paths are relative to the working directory, as in the server's
  data directory); the library is built with -tags queuetest.
    cdriver          the full ABI walk; exit status 0 when every check passed
    cdriver panic    QUEUE_CORE_TEST_PANIC=qc_table_open is set: the panic
                     must come back as QC_EPANIC and the library keep working
*/
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>
#include "queue_core.h"


/* Drop, rename and truncate are qc_admin operations. */
static int table_drop(const char *path, qc_err *e)
{
  return qc_admin(QC_ADMIN_DROP, path, NULL, 0, NULL, e);
}

static int table_rename(const char *from, const char *to, qc_err *e)
{
  return qc_admin(QC_ADMIN_RENAME, from, (char *) to, strlen(to) + 1, NULL, e);
}

static int table_truncate(uint64_t t, qc_err *e)
{
  return qc_admin(QC_ADMIN_TRUNCATE, NULL, (char *) &t, sizeof(t), NULL, e);
}

static int failures;

#define CHECK(cond)                                                          \
  do {                                                                       \
    if (!(cond)) {                                                           \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      __atomic_add_fetch(&failures, 1, __ATOMIC_RELAXED);                    \
    }                                                                        \
  } while (0)

/* e is the qc_err in scope: its message is printed on a mismatch */
#define CHECK_RC(expr, want)                                                 \
  do {                                                                       \
    int rc_ = (expr);                                                        \
    if (rc_ != (want)) {                                                     \
      fprintf(stderr, "%s:%d: %s returned %d, want %d (%s)\n", __FILE__,     \
              __LINE__, #expr, rc_, (int) (want), e.msg);                     \
      __atomic_add_fetch(&failures, 1, __ATOMIC_RELAXED);                    \
    }                                                                        \
  } while (0)

#define LOAD(p) __atomic_load_n(&(p), __ATOMIC_ACQUIRE)

static void sleep_ms(long ms)
{
  struct timespec ts = { ms / 1000, (ms % 1000) * 1000000L };
  nanosleep(&ts, NULL);
}

static void deadline(struct timespec *dl, int sec)
{
  clock_gettime(CLOCK_REALTIME, dl);
  dl->tv_sec += sec;
}

/* ---- notify: counts calls per token ---- */
#define NTOK 256
static pthread_mutex_t nmu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t ncv = PTHREAD_COND_INITIALIZER;
static int notified;            /* all calls */
static int tok_calls[NTOK];     /* calls per token (token < NTOK) */
static uint64_t last_token;

static void on_notify(uint64_t token)
{
  pthread_mutex_lock(&nmu);
  notified++;
  last_token = token;
  if (token < NTOK)
    tok_calls[token]++;
  pthread_cond_broadcast(&ncv);
  pthread_mutex_unlock(&nmu);
}

static int tok_count(uint64_t token)
{
  pthread_mutex_lock(&nmu);
  int n = tok_calls[token];
  pthread_mutex_unlock(&nmu);
  return n;
}

/* waits up to 10 s for token's notify count to reach n */
static int wait_token(uint64_t token, int n)
{
  struct timespec dl;
  deadline(&dl, 10);
  pthread_mutex_lock(&nmu);
  while (tok_calls[token] < n)
    if (pthread_cond_timedwait(&ncv, &nmu, &dl) == ETIMEDOUT)
      break;
  int got = tok_calls[token];
  pthread_mutex_unlock(&nmu);
  return got >= n;
}

/* ---- durable requests, as the handler's Queue_done ---- */
typedef struct req_t {
  qc_request r;
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int calls;
} req_t;

/* the done callback: only signals */
static void on_done(void *arg)
{
  req_t *q = arg;
  pthread_mutex_lock(&q->mu);
  q->calls++;
  pthread_cond_broadcast(&q->cv);
  pthread_mutex_unlock(&q->mu);
}

static void req_init(req_t *q, int kind)
{
  memset(q, 0, sizeof(*q));
  q->r.kind = kind;
  q->r.done = on_done;
  q->r.arg = q;
  pthread_mutex_init(&q->mu, NULL);
  pthread_cond_init(&q->cv, NULL);
}

static void req_destroy(req_t *q)
{
  pthread_cond_destroy(&q->cv);
  pthread_mutex_destroy(&q->mu);
}

static int req_calls(req_t *q)
{
  pthread_mutex_lock(&q->mu);
  int n = q->calls;
  pthread_mutex_unlock(&q->mu);
  return n;
}

/* waits in C for done (30 s at most: a request that never completes would
   leave the library writing into this stack frame, so that ends the run)
   and returns the request's status */
static int req_wait(req_t *q)
{
  struct timespec dl;
  deadline(&dl, 30);
  pthread_mutex_lock(&q->mu);
  while (q->calls == 0)
    if (pthread_cond_timedwait(&q->cv, &q->mu, &dl) == ETIMEDOUT)
      break;
  int n = q->calls;
  pthread_mutex_unlock(&q->mu);
  if (n == 0) {
    fprintf(stderr, "cdriver: request kind %d never completed\n", q->r.kind);
    fflush(NULL);
    _exit(3);
  }
  return q->r.rc;
}

/* qc_submit, then the wait for done; a final return of qc_submit is
   returned as is (done must then never be called) */
static int req_run(req_t *q)
{
  int rc = qc_submit(&q->r);
  if (rc != QC_PENDING)
    return rc;
  return req_wait(q);
}

/* payload of a table (id INT NOT NULL, v VARCHAR(10) NULL): one null byte,
   the int's 4 bytes, then v packed (1 length byte + data) unless NULL */
static uint32_t make_row(unsigned char *p, int32_t id, const char *v)
{
  uint32_t n = 0;
  p[n++] = v ? 0 : 2;
  memcpy(p + n, &id, 4);
  n += 4;
  if (v) {
    p[n++] = (unsigned char) strlen(v);
    memcpy(p + n, v, strlen(v));
    n += (uint32_t) strlen(v);
  }
  return n;
}

static int32_t row_key(const unsigned char *p)
{
  int32_t id;
  memcpy(&id, p + 1, 4);
  return id;
}

/* one durable append of n rows; *first gets the first row id */
static int append_rows(uint64_t t, const unsigned char *buf, const uint32_t *lens, int n,
                       uint64_t *first, qc_err *e)
{
  req_t q;
  req_init(&q, QC_REQ_APPEND);
  q.r.table = t;
  q.r.buf = buf;
  q.r.lens = lens;
  q.r.n = n;
  int rc = req_run(&q);
  if (first)
    *first = q.r.value;
  if (e)
    *e = q.r.err;
  req_destroy(&q);
  return rc;
}

/* appends one row (key, v); returns its row id, 0 on failure */
static uint64_t append_one(uint64_t t, int32_t key, const char *v)
{
  qc_err e = {{0}};
  unsigned char buf[64];
  uint32_t len = make_row(buf, key, v);
  uint64_t id = 0;
  CHECK_RC(append_rows(t, buf, &len, 1, &id, &e), QC_OK);
  return id;
}

/* one append carrying a relay mark */
static int append_relay(uint64_t t, int32_t key, int slot, char mode, uint64_t src, qc_err *e)
{
  unsigned char buf[64];
  uint32_t len = make_row(buf, key, "r");
  req_t q;
  req_init(&q, QC_REQ_APPEND);
  q.r.table = t;
  q.r.buf = buf;
  q.r.lens = &len;
  q.r.n = 1;
  q.r.relay_slot = slot;
  q.r.relay_mode = mode;
  q.r.relay_rowid = src;
  int rc = req_run(&q);
  *e = q.r.err;
  req_destroy(&q);
  return rc;
}

static int remove_ids(uint64_t t, const uint64_t *ids, int n, uint64_t *removed, qc_err *e)
{
  req_t q;
  req_init(&q, QC_REQ_REMOVE);
  q.r.table = t;
  q.r.ids = ids;
  q.r.n = n;
  q.r.value = 12345;
  int rc = req_run(&q);
  if (removed)
    *removed = q.r.value;
  if (e)
    *e = q.r.err;
  req_destroy(&q);
  return rc;
}

/* queue_end */
static int end_session(uint64_t s)
{
  req_t q;
  req_init(&q, QC_REQ_END);
  q.r.session = s;
  int rc = req_run(&q);
  req_destroy(&q);
  return rc;
}

/* queue_wait as the SQL function does it: the previous row's removal is
   queued by qc_wait and waited for here, in C. *consuming and *crc (the
   removal's status, QC_OK when there was nothing to consume) are reported. */
static int do_wait(uint64_t s, const char *const *paths, const char *const *conds, int n,
                   uint64_t token, qc_owned *got, int *consuming, int *crc, qc_err *e)
{
  req_t q;
  req_init(&q, QC_REQ_END);
  q.r.session = s;
  int cons = -7;
  int rc = qc_wait(s, paths, conds, n, 0, token, &q.r, &cons, got, e);
  CHECK(cons == 0 || cons == 1);
  int c = QC_OK;
  if (cons == 1)
    c = req_wait(&q);
  else
    CHECK(req_calls(&q) == 0);
  if (consuming)
    *consuming = cons;
  if (crc)
    *crc = c;
  req_destroy(&q);
  return rc;
}

/* ids of the rows a scan returns, in order; row buffers start NULL */
static int scan_ids(uint64_t t, uint64_t s, int mode, uint64_t *ids, int max)
{
  qc_err e = {{0}};
  uint64_t c = 0;
  int n = 0;
  qc_row row = { NULL, 0, 0, 0 };
  CHECK_RC(qc_scan_open(t, s, mode, &c), QC_OK);
  CHECK(c != 0);
  for (;;) {
    int rc = qc_scan_next(c, &row, &e);
    if (rc == QC_EOF)
      break;
    CHECK_RC(rc, QC_OK);
    if (rc != QC_OK || n == max)
      break;
    CHECK(row.buf != NULL && row.cap >= row.len);
    ids[n++] = row.id;
  }
  CHECK_RC(qc_scan_close(c), QC_OK);
  free(row.buf);
  return n;
}

/* a number line ("name N") of the engine status text, -1 if missing */
static long status_num(const char *name)
{
  qc_err e = {{0}};
  size_t len = 0;
  char small[8];
  CHECK_RC(qc_admin(QC_ADMIN_STATUS, NULL, small, sizeof(small), &len, &e), QC_ERANGE);
  char *text = malloc(len + 1);
  CHECK_RC(qc_admin(QC_ADMIN_STATUS, NULL, text, len + 1, &len, &e), QC_OK);
  CHECK(strlen(text) == len);
  long v = -1;
  size_t nl = strlen(name);
  for (const char *p = text; p && *p; p = strchr(p, '\n'), p = p ? p + 1 : NULL)
    if (strncmp(p, name, nl) == 0 && p[nl] == ' ') {
      v = strtol(p + nl + 1, NULL, 10);
      break;
    }
  free(text);
  return v;
}

/* the library's counters (QC_ADMIN_COUNTERS) */
static qc_counters counters_now(void)
{
  qc_err e = {{0}};
  qc_counters c;
  size_t len = 0;
  CHECK_RC(qc_admin(QC_ADMIN_COUNTERS, NULL, (char *)&c, sizeof(c) - 1, &len, &e), QC_ERANGE);
  CHECK(len == sizeof(c));
  memset(&c, 0, sizeof(c));
  CHECK_RC(qc_admin(QC_ADMIN_COUNTERS, NULL, (char *)&c, sizeof(c), &len, &e), QC_OK);
  CHECK(len == sizeof(c));
  return c;
}

/* the entry of path in QC_ADMIN_TABLES; 0 if not listed */
static int table_info(const char *path, qc_table_info *out)
{
  qc_err e = {{0}};
  size_t len = 0;
  int rc = qc_admin(QC_ADMIN_TABLES, NULL, NULL, 0, &len, &e);
  CHECK(rc == QC_ERANGE || (rc == QC_OK && len == 0));
  CHECK(len % sizeof(qc_table_info) == 0);
  qc_table_info *all = malloc(len + sizeof(qc_table_info));
  CHECK_RC(qc_admin(QC_ADMIN_TABLES, NULL, (char *)all, len + sizeof(qc_table_info), &len, &e), QC_OK);
  int found = 0;
  for (size_t i = 0; i < len / sizeof(qc_table_info); i++)
    if (strcmp(all[i].path, path) == 0) {
      *out = all[i];
      found = 1;
    }
  free(all);
  return found;
}

static int status_has(const char *needle)
{
  qc_err e = {{0}};
  char text[16384];
  size_t len = 0;
  CHECK_RC(qc_admin(QC_ADMIN_STATUS, "ignored", text, sizeof(text), &len, &e), QC_OK);
  return strstr(text, needle) != NULL;
}

/* ---- concurrency ---- */
#define CONC_THREADS 8
#define CONC_PER 60
#define CONSUMERS 4

typedef struct conc_arg {
  uint64_t table;
  int bad;
  uint64_t ids[CONC_PER];
} conc_arg;

/* one connection INSERTing rows one statement at a time */
static void *conc_appender(void *p)
{
  conc_arg *a = p;
  for (int i = 0; i < CONC_PER; i++) {
    unsigned char buf[32];
    uint32_t len = make_row(buf, 1000 + i, "c");
    req_t q;
    req_init(&q, QC_REQ_APPEND);
    q.r.table = a->table;
    q.r.buf = buf;
    q.r.lens = &len;
    q.r.n = 1;
    if (req_run(&q) != QC_OK)
      a->bad++;
    a->ids[i] = q.r.value;
    req_destroy(&q);
  }
  return NULL;
}

typedef struct cons_arg {
  const char *path;
  uint64_t token;
  int bad;
  int n;
  uint64_t ids[CONC_THREADS * CONC_PER + 16];
} cons_arg;

/* one connection in a queue_wait loop until the queue is empty */
static void *conc_consumer(void *p)
{
  cons_arg *a = p;
  uint64_t s = 0;
  if (qc_session_new(&s) != QC_OK) {
    a->bad++;
    return NULL;
  }
  const char *paths[1] = { a->path };
  qc_owned got;
  memset(&got, 0, sizeof(got));
  for (;;) {
    qc_err e = {{0}};
    int consuming = 0, crc = QC_OK;
    int rc = do_wait(s, paths, NULL, 1, a->token, &got, &consuming, &crc, &e);
    if (crc != QC_OK)
      a->bad++;
    if (rc == QC_PENDING) {
      /* nothing free now: the other consumers own what is left */
      rc = qc_wait_end(s, &got, &e);
      if (rc != QC_OK)
        a->bad++;
    } else if (rc != QC_OK) {
      a->bad++;
      break;
    }
    if (got.idx < 0)
      break;
    if (got.row.len < 5 || row_key(got.row.buf) < 1000 || a->n == (int) (sizeof(a->ids) / sizeof(a->ids[0])))
      a->bad++;
    else
      a->ids[a->n++] = got.row.id;
  }
  /* owner mode without a row: queue_end leaves it */
  if (end_session(s) != QC_OK)
    a->bad++;
  if (qc_session_free(s) != QC_OK)
    a->bad++;
  free(got.row.buf);
  return NULL;
}

static int cmp_u64(const void *x, const void *y)
{
  uint64_t a = *(const uint64_t *) x, b = *(const uint64_t *) y;
  return a < b ? -1 : a > b;
}

static int distinct_nonzero(uint64_t *v, int n)
{
  qsort(v, n, sizeof(v[0]), cmp_u64);
  for (int i = 0; i < n; i++)
    if (v[i] == 0 || (i > 0 && v[i] == v[i - 1]))
      return 0;
  return 1;
}

/* ---- panic mode ---- */
static int panic_mode(void)
{
  qc_err e = {{0}};
  CHECK_RC(qc_init(QC_ABI_VERSION, on_notify), QC_OK);
  long h0 = status_num("handles");
  CHECK(h0 >= 0);
  mkdir("db", 0770);
  qc_column col = { "id", 3, 0, 0, 0, 1, 4, -1 };
  CHECK_RC(qc_table_create("./db/p", &col, 1, &e), QC_OK);
  uint64_t t = 0;
  const qc_table_counters *ctr = NULL;
  CHECK_RC(qc_table_open("./db/p", &t, &ctr, &e), QC_EPANIC);
  CHECK(strstr(e.msg, "forced panic in qc_table_open") != NULL);
  CHECK(t == 0 && ctr == NULL);
  /* the library is still usable after a recovered panic */
  CHECK_RC(qc_init(QC_ABI_VERSION + 1, on_notify), QC_EINVAL);
  uint64_t s = 0;
  CHECK_RC(qc_session_new(&s), QC_OK);
  CHECK(s != 0);
  const char *paths[1] = { "./db/p" };
  qc_owned got;
  memset(&got, 0, sizeof(got));
  int consuming = 0;
  CHECK_RC(do_wait(s, paths, NULL, 1, 7, &got, &consuming, NULL, &e), QC_PENDING);
  CHECK_RC(qc_wait_end(s, &got, &e), QC_OK);
  CHECK(got.idx == -1);
  CHECK_RC(qc_abort(s), QC_OK);
  CHECK_RC(qc_session_free(s), QC_OK);
  char text[256];
  size_t len = 0;
  CHECK_RC(qc_admin(QC_ADMIN_STATS, "./db/p", text, sizeof(text), &len, &e), QC_OK);
  CHECK(strncmp(text, "rows_written: 0\n", 16) == 0);
  CHECK(status_num("handles") == h0);
  CHECK_RC(table_drop("./db/p", &e), QC_OK);
  CHECK_RC(qc_shutdown(), QC_OK);
  printf("cdriver panic: %d failures\n", failures);
  return failures ? 1 : 0;
}

int main(int argc, char **argv)
{
  qc_err e = {{0}};
  setvbuf(stdout, NULL, _IONBF, 0);
  if (argc > 1 && strcmp(argv[1], "panic") == 0)
    return panic_mode();

  /* --- library --- */
  CHECK_RC(qc_init(QC_ABI_VERSION - 1, on_notify), QC_EINVAL);
  CHECK_RC(qc_init(99, on_notify), QC_EINVAL);
  CHECK_RC(qc_init(QC_ABI_VERSION, on_notify), QC_OK);
  CHECK_RC(qc_init(QC_ABI_VERSION, on_notify), QC_OK); /* idempotent */
  long h0 = status_num("handles");
  CHECK(h0 == 0);
  CHECK(status_num("go_entries") > 0);
  CHECK(status_num("open_tables") == 0);
  CHECK(counters_now().sys_sync == 0);
  CHECK(counters_now().open_tables == 0);
  mkdir("db", 0770);

  /* --- tables --- */
  qc_column cols[2] = {
    { "id", 3 /* LONG */, 0, 0, 0, 1, 4, -1 },
    { "v", 15 /* VARCHAR */, 0, 2, 0, -1, 11, 0 },
  };
  CHECK_RC(qc_table_create("./db/t", cols, 2, &e), QC_OK);
  CHECK_RC(qc_table_create("./db/t", cols, 2, &e), QC_EEXIST);
  CHECK_RC(qc_table_create(NULL, cols, 2, &e), QC_EINVAL);
  CHECK_RC(qc_table_create("./db/x", NULL, 2, &e), QC_EINVAL);
  struct stat st;
  CHECK(stat("db/t.queue", &st) == 0 && S_ISDIR(st.st_mode));
  CHECK(stat("db/t.qcol", &st) == 0);

  uint64_t t = 0, t2 = 0, missing = 0;
  const qc_table_counters *ct = NULL, *ct2 = NULL, *cmiss = NULL;
  CHECK_RC(qc_table_open("./db/t", &t, &ct, &e), QC_OK);
  CHECK(t != 0 && ct != NULL);
  CHECK_RC(qc_table_open("db/t", &t2, &ct2, &e), QC_OK); /* same table, other spelling */
  CHECK(t2 != 0 && t2 != t && ct2 != NULL);
  uint64_t t3 = 0;
  CHECK_RC(qc_table_open("./db/t", &t3, NULL, &e), QC_OK); /* counters may be NULL */
  CHECK(t3 != 0);
  CHECK_RC(qc_table_close(t3), QC_OK);
  CHECK_RC(qc_table_close(t3), QC_EBADF);
  e.msg[0] = 0;
  CHECK_RC(qc_table_open("./db/missing", &missing, &cmiss, &e), QC_ENOENT);
  CHECK(e.msg[0] != 0);
  CHECK(missing == 0 && cmiss == NULL);
  CHECK(status_num("handles") == h0 + 2);
  CHECK(status_num("open_tables") == 1);

  uint64_t tid = LOAD(ct->table_id);
  CHECK(tid != 0);
  CHECK(LOAD(ct2->table_id) == tid);
  CHECK(LOAD(ct->rows) == 0);
  CHECK(LOAD(ct->create_time) > 0);
  CHECK(LOAD(ct->update_time) == 0);
  uint64_t epoch0 = LOAD(ct->owner_epoch);
  uint64_t bytes0 = LOAD(ct->data_bytes);

  /* --- durable appends through qc_submit --- */
  unsigned char buf[256];
  uint32_t lens[3], offs[3];
  uint32_t off = 0;
  offs[0] = off; lens[0] = make_row(buf + off, 1, "one"); off += lens[0];
  offs[1] = off; lens[1] = make_row(buf + off, 2, NULL);  off += lens[1];
  offs[2] = off; lens[2] = make_row(buf + off, 3, "three");
  uint64_t first = 0;
  CHECK_RC(append_rows(t, buf, lens, 3, &first, &e), QC_OK);
  CHECK(first == 1);
  /* the counters are current once done has been called */
  CHECK(LOAD(ct->rows) == 3);
  CHECK(LOAD(ct2->rows) == 3);
  CHECK(LOAD(ct->data_bytes) > bytes0);
  CHECK(LOAD(ct->avg_row) > 0);
  CHECK(LOAD(ct->update_time) > 0);
  CHECK(LOAD(ct->owner_epoch) == epoch0);
  {
    qc_counters c = counters_now();
    CHECK(c.sys_sync > 0 && c.sys_write > 0 && c.syncs > 0);
    CHECK(c.rows_written == 3 && c.append == 1 && c.rows_queued == 3);
    CHECK(c.open_tables == 1 && c.io_errors == 0 && c.go_entries > 0);
    qc_table_info ti;
    CHECK(table_info("./db/t", &ti));
    CHECK(ti.open == 1 && ti.rows_queued == 3 && ti.rows_written == 3 && ti.segments >= 1);
    CHECK(ti.bytes_live > 0 && ti.bytes_total >= ti.bytes_live);
    CHECK(ti.oldest_age >= 0 && ti.oldest_age < 60);
    CHECK(c.sync_off == 0);
  }
  {
    /* settings (QC_ADMIN_SET) */
    CHECK_RC(qc_admin(QC_ADMIN_SET, "compact_live_percent=60", NULL, 0, NULL, &e), QC_OK);
    CHECK(status_has("compact_live_percent=60 "));
    CHECK_RC(qc_admin(QC_ADMIN_SET, "compact_live_percent=100", NULL, 0, NULL, &e), QC_EINVAL);
    CHECK_RC(qc_admin(QC_ADMIN_SET, "segment_size=1024", NULL, 0, NULL, &e), QC_EINVAL);
    CHECK_RC(qc_admin(QC_ADMIN_SET, "compact_rest_ms=x", NULL, 0, NULL, &e), QC_EINVAL);
    CHECK_RC(qc_admin(QC_ADMIN_SET, "nosuch=1", NULL, 0, NULL, &e), QC_EINVAL);
    CHECK_RC(qc_admin(QC_ADMIN_SET, "sync", NULL, 0, NULL, &e), QC_EINVAL);
    CHECK_RC(qc_admin(QC_ADMIN_SET, NULL, NULL, 0, NULL, &e), QC_EINVAL);
    CHECK(status_has("compact_live_percent=60 "));
    CHECK_RC(qc_admin(QC_ADMIN_SET, "compact_live_percent=50", NULL, 0, NULL, &e), QC_OK);
    CHECK_RC(qc_admin(QC_ADMIN_SET, "sync=off", NULL, 0, NULL, &e), QC_OK);
    CHECK(counters_now().sync_off == 1);
    CHECK(status_has("DURABILITY IS OFF"));
    CHECK_RC(qc_admin(QC_ADMIN_SET, "sync=fdatasync", NULL, 0, NULL, &e), QC_OK);
    CHECK(counters_now().sync_off == 0);
    CHECK(!status_has("DURABILITY IS OFF"));
  }
  {
    /* results are written before done; done is called exactly once */
    req_t q;
    req_init(&q, QC_REQ_APPEND);
    q.r.table = t;
    q.r.buf = buf;
    q.r.lens = lens;
    q.r.n = 1;
    q.r.rc = 77;
    q.r.value = 77;
    CHECK_RC(qc_submit(&q.r), QC_PENDING);
    CHECK_RC(req_wait(&q), QC_OK);
    CHECK(q.r.value == 4);
    sleep_ms(50);
    CHECK(req_calls(&q) == 1);
    req_destroy(&q);
    uint64_t four = 4;
    CHECK_RC(remove_ids(t, &four, 1, NULL, &e), QC_OK);

    /* final returns of qc_submit: done never called */
    CHECK_RC(qc_submit(NULL), QC_EINVAL);
    req_init(&q, QC_REQ_APPEND);
    q.r.table = t;
    q.r.buf = buf;
    q.r.lens = lens;
    q.r.n = 1;
    q.r.done = NULL;
    q.r.rc = 99;
    CHECK_RC(qc_submit(&q.r), QC_EINVAL);
    sleep_ms(50);
    CHECK(req_calls(&q) == 0 && q.r.rc == 99);
    req_destroy(&q);

    /* argument errors come through done */
    CHECK_RC(append_rows(t, buf, lens, 0, NULL, &e), QC_EINVAL);
    CHECK_RC(append_rows(t, buf, NULL, 1, NULL, &e), QC_EINVAL);
    CHECK(e.msg[0] != 0);
    CHECK_RC(append_rows(t, NULL, lens, 1, NULL, &e), QC_EINVAL);
    CHECK_RC(remove_ids(t, NULL, 2, NULL, &e), QC_EINVAL);
    req_init(&q, 9 /* no such kind */);
    CHECK_RC(req_run(&q), QC_EINVAL);
    req_destroy(&q);
    CHECK(LOAD(ct->rows) == 3);
  }

  /* --- scans: row buffers start NULL or small and are grown by realloc --- */
  {
    uint64_t c = 0;
    qc_row row = { NULL, 0, 0, 0 };
    CHECK_RC(qc_scan_open(t, 0, QC_SCAN_VISIBLE, &c), QC_OK);
    for (int i = 0; i < 3; i++) {
      CHECK_RC(qc_scan_next(c, &row, &e), QC_OK);
      CHECK(row.id == (uint64_t) i + 1);
      CHECK(row.buf != NULL && row.cap >= row.len);
      CHECK(row.len == lens[i] && memcmp(row.buf, buf + offs[i], lens[i]) == 0);
    }
    CHECK_RC(qc_scan_next(c, &row, &e), QC_EOF);
    CHECK_RC(qc_scan_next(c, &row, &e), QC_EOF);
    CHECK_RC(qc_scan_close(c), QC_OK);
    CHECK_RC(qc_scan_close(c), QC_EBADF);
    CHECK_RC(qc_scan_next(c, &row, &e), QC_EBADF);
    free(row.buf);

    /* a 2-byte malloc'd buffer */
    row.buf = malloc(2);
    row.cap = 2;
    row.len = 0;
    CHECK_RC(qc_scan_open(t, 0, QC_SCAN_ALL, &c), QC_OK);
    CHECK_RC(qc_scan_next(c, &row, &e), QC_OK);
    CHECK(row.id == 1 && row.cap >= lens[0] && row.len == lens[0]);
    CHECK(memcmp(row.buf, buf, lens[0]) == 0);
    /* a buffer that fits is used as it is */
    free(row.buf);
    row.buf = malloc(64);
    row.cap = 64;
    unsigned char *keep = row.buf;
    CHECK_RC(qc_scan_next(c, &row, &e), QC_OK);
    CHECK(row.id == 2 && row.buf == keep && row.cap == 64 && row.len == lens[1]);
    CHECK(memcmp(row.buf, buf + offs[1], lens[1]) == 0 && row.buf[0] == 2);
    CHECK_RC(qc_scan_next(c, NULL, &e), QC_EINVAL);
    CHECK_RC(qc_scan_close(c), QC_OK);
    free(row.buf);

    CHECK_RC(qc_scan_open(t, 0, 7 /* no such mode */, &c), QC_EINVAL);
    CHECK_RC(qc_scan_open(t, 0, QC_SCAN_VISIBLE, NULL), QC_EINVAL);
    CHECK_RC(qc_scan_open(t, 987654, QC_SCAN_VISIBLE, &c), QC_EBADF); /* stale session */
  }

  /* --- qc_get / removals --- */
  {
    qc_row row = { NULL, 0, 0, 0 };
    CHECK_RC(qc_get(t2, 3, &row, &e), QC_OK);
    CHECK(row.id == 3 && row.len == lens[2] && memcmp(row.buf, buf + offs[2], lens[2]) == 0);
    CHECK_RC(qc_get(t, 99, &row, &e), QC_ENOENT);
    CHECK_RC(qc_get(t, 4, &row, &e), QC_ENOENT); /* removed above */
    CHECK_RC(qc_get(t, 1, NULL, &e), QC_EINVAL);
    uint64_t ids[2] = { 2, 99 }, removed = 0;
    CHECK_RC(remove_ids(t, ids, 2, &removed, &e), QC_OK);
    CHECK(removed == 1);
    CHECK_RC(qc_get(t, 2, &row, &e), QC_ENOENT);
    CHECK(LOAD(ct->rows) == 2);
    CHECK(LOAD(ct->free_bytes) > 0);
    /* already removed: ignored */
    CHECK_RC(remove_ids(t, ids, 2, &removed, &e), QC_OK);
    CHECK(removed == 0);
    CHECK_RC(remove_ids(t, ids, 0, &removed, &e), QC_OK);
    CHECK(removed == 0);
    CHECK(LOAD(ct->rows) == 2);
    CHECK(LOAD(ct->owner_epoch) == epoch0);
    free(row.buf);
  }

  const char *paths[1] = { "./db/t" };
  const char *all[1] = { NULL };
  qc_owned got;
  memset(&got, 0, sizeof(got));
  int consuming = -1, crc = -1;

  /* --- sessions: take, owner-mode visibility, abort, consume, end --- */
  uint64_t s = 0;
  CHECK_RC(qc_session_new(&s), QC_OK);
  CHECK(s != 0);
  CHECK_RC(qc_session_new(NULL), QC_EINVAL);
  CHECK_RC(qc_abort(s), QC_ESTATE);
  CHECK_RC(qc_wait_end(s, &got, &e), QC_ESTATE);
  uint64_t seen[16];
  CHECK_RC(do_wait(s, paths, all, 1, 40, &got, &consuming, &crc, &e), QC_OK);
  CHECK(consuming == 0);
  CHECK(got.idx == 0 && got.row.id == 1);
  CHECK(got.table_id == tid);
  CHECK(got.epoch == LOAD(ct->owner_epoch));
  CHECK(got.row.buf != NULL && got.row.len == lens[0] && memcmp(got.row.buf, buf, lens[0]) == 0);
  CHECK(scan_ids(t, s, QC_SCAN_VISIBLE, seen, 16) == 1 && seen[0] == 1); /* the owner sees its row only */
  CHECK(scan_ids(t, 0, QC_SCAN_VISIBLE, seen, 16) == 1 && seen[0] == 3); /* others do not see it */
  CHECK(scan_ids(t2, s, QC_SCAN_ALL, seen, 16) == 2 && seen[0] == 1 && seen[1] == 3); /* a table copy does */
  CHECK(LOAD(ct->rows) == 2); /* owned rows included */
  /* queue_abort gives the row back at its position */
  CHECK_RC(qc_abort(s), QC_OK);
  CHECK_RC(qc_abort(s), QC_ESTATE);
  CHECK(scan_ids(t, 0, QC_SCAN_VISIBLE, seen, 16) == 2 && seen[0] == 1 && seen[1] == 3);
  CHECK(scan_ids(t, s, QC_SCAN_VISIBLE, seen, 16) == 2);
  CHECK_RC(do_wait(s, paths, all, 1, 40, &got, &consuming, &crc, &e), QC_OK);
  CHECK(consuming == 0 && got.row.id == 1); /* an aborted row is delivered first again */
  /* the next qc_wait consumes row 1 and takes row 3 */
  CHECK_RC(do_wait(s, paths, all, 1, 40, &got, &consuming, &crc, &e), QC_OK);
  CHECK(consuming == 1 && crc == QC_OK);
  CHECK(got.idx == 0 && got.row.id == 3 && got.table_id == tid);
  CHECK(got.row.len == lens[2] && memcmp(got.row.buf, buf + offs[2], lens[2]) == 0);
  CHECK(scan_ids(t, 0, QC_SCAN_ALL, seen, 16) == 1 && seen[0] == 3); /* row 1 is gone */
  {
    qc_row row = { NULL, 0, 0, 0 };
    CHECK_RC(qc_get(t, 1, &row, &e), QC_ENOENT);
    free(row.buf);
  }
  CHECK(LOAD(ct->rows) == 1);
  CHECK(LOAD(ct->owner_epoch) == epoch0); /* the owner's own removal */
  /* queue_end: done, owner mode left, row gone */
  CHECK_RC(end_session(s), QC_OK);
  CHECK_RC(qc_abort(s), QC_ESTATE);
  CHECK(LOAD(ct->rows) == 0);
  CHECK(scan_ids(t, 0, QC_SCAN_ALL, seen, 16) == 0);
  CHECK_RC(end_session(s), QC_OK); /* nothing owned */
  CHECK(LOAD(ct->owner_epoch) == epoch0);

  /* --- conditions --- */
  {
    uint64_t r4 = append_one(t, 4, "four");
    uint64_t r5 = append_one(t, 5, NULL);
    CHECK(r4 == 5 && r5 == 6);
    const char *id5[1] = { "id = 5" };
    CHECK_RC(do_wait(s, paths, id5, 1, 41, &got, &consuming, &crc, &e), QC_OK);
    CHECK(got.idx == 0 && got.row.id == r5 && row_key(got.row.buf) == 5 && got.row.buf[0] == 2);
    CHECK_RC(end_session(s), QC_OK);
    const char *bad[1] = { "id = )" };
    e.msg[0] = 0;
    CHECK_RC(do_wait(s, paths, bad, 1, 41, &got, &consuming, &crc, &e), QC_EINVAL);
    CHECK(strstr(e.msg, "position") != NULL);
    CHECK_RC(qc_abort(s), QC_ESTATE); /* owner mode left, nothing taken */
    const char *nope[1] = { "./db/nope" };
    e.msg[0] = 0;
    CHECK_RC(do_wait(s, nope, all, 1, 41, &got, &consuming, &crc, &e), QC_ENOENT);
    CHECK(e.msg[0] != 0);
    CHECK_RC(qc_wait(s, paths, all, 0, 0, 41, NULL, &consuming, &got, &e), QC_EINVAL);
    CHECK_RC(qc_wait(987654, paths, all, 1, 0, 41, NULL, &consuming, &got, &e), QC_EBADF);
    /* an empty condition is every row */
    const char *empty[1] = { "" };
    CHECK_RC(do_wait(s, paths, empty, 1, 41, &got, &consuming, &crc, &e), QC_OK);
    CHECK(got.row.id == r4 && row_key(got.row.buf) == 4);
    CHECK_RC(end_session(s), QC_OK);
    CHECK(LOAD(ct->rows) == 0);
  }

  /* --- a pending wait is handed the next row: notify, then qc_wait_end --- */
  {
    int before = tok_count(42);
    CHECK_RC(do_wait(s, paths, all, 1, 42, &got, &consuming, &crc, &e), QC_PENDING);
    CHECK(consuming == 0);
    /* one wait at a time */
    CHECK_RC(do_wait(s, paths, all, 1, 42, &got, &consuming, &crc, &e), QC_ESTATE);
    unsigned char rb[64];
    uint32_t rl = make_row(rb, 6, "six");
    uint64_t id6 = 0;
    CHECK_RC(append_rows(t, rb, &rl, 1, &id6, &e), QC_OK);
    CHECK(wait_token(42, before + 1));
    CHECK(last_token == 42);
    memset(&got, 0xff, offsetof(qc_owned, row)); /* the row buffer is kept */
    CHECK_RC(qc_wait_end(s, &got, &e), QC_OK);
    CHECK(got.idx == 0 && got.row.id == id6 && got.table_id == tid);
    CHECK(got.row.len == rl && memcmp(got.row.buf, rb, rl) == 0);
    CHECK_RC(qc_wait_end(s, &got, &e), QC_ESTATE);
    CHECK(scan_ids(t, s, QC_SCAN_VISIBLE, seen, 16) == 1 && seen[0] == id6);
    CHECK_RC(end_session(s), QC_OK);
    sleep_ms(100);
    CHECK(tok_count(42) == before + 1); /* once */
  }

  /* --- a wait that times out: owner mode without a row, no late notify --- */
  {
    int before = tok_count(43);
    CHECK_RC(do_wait(s, paths, all, 1, 43, &got, &consuming, &crc, &e), QC_PENDING);
    CHECK_RC(qc_wait_end(s, &got, &e), QC_OK);
    CHECK(got.idx == -1);
    uint64_t id7 = append_one(t, 7, "seven");
    sleep_ms(200);
    CHECK(tok_count(43) == before);
    /* in owner mode without a row a session sees nothing */
    CHECK(scan_ids(t, s, QC_SCAN_VISIBLE, seen, 16) == 0);
    CHECK(scan_ids(t, 0, QC_SCAN_VISIBLE, seen, 16) == 1 && seen[0] == id7);
    /* the next wait has nothing to consume and takes the row */
    CHECK_RC(do_wait(s, paths, all, 1, 43, &got, &consuming, &crc, &e), QC_OK);
    CHECK(consuming == 0 && got.row.id == id7);

    /* --- owner_epoch: another remover deletes the owned row --- */
    uint64_t ep = got.epoch;
    CHECK(ep == LOAD(ct->owner_epoch));
    uint64_t removed = 0;
    CHECK_RC(remove_ids(t2, &id7, 1, &removed, &e), QC_OK);
    CHECK(removed == 1);
    CHECK(LOAD(ct->owner_epoch) != ep);
    CHECK(LOAD(ct2->owner_epoch) != ep);
    CHECK(LOAD(ct->rows) == 0);
    /* the ownership is inert: the next wait consumes nothing */
    CHECK_RC(do_wait(s, paths, all, 1, 44, &got, &consuming, &crc, &e), QC_PENDING);
    CHECK(consuming == 0);
    CHECK_RC(qc_wait_end(s, &got, &e), QC_OK);
    CHECK(got.idx == -1);
    CHECK_RC(qc_abort(s), QC_OK); /* owner mode without a row: left */
    CHECK_RC(qc_abort(s), QC_ESTATE);
  }

  /* --- the DELETE interlock: no row is handed out while one runs --- */
  {
    uint64_t id8 = append_one(t, 8, "eight");
    int before = tok_count(45);
    CHECK_RC(qc_delete_bracket(t, 1), QC_OK);
    CHECK_RC(do_wait(s, paths, all, 1, 45, &got, &consuming, &crc, &e), QC_PENDING);
    sleep_ms(50);
    CHECK(tok_count(45) == before);
    CHECK_RC(qc_delete_bracket(t, 0), QC_OK);
    CHECK(wait_token(45, before + 1));
    CHECK_RC(qc_wait_end(s, &got, &e), QC_OK);
    CHECK(got.idx == 0 && got.row.id == id8);
    CHECK_RC(qc_abort(s), QC_OK); /* given back */
    CHECK(scan_ids(t, 0, QC_SCAN_VISIBLE, seen, 16) == 1 && seen[0] == id8);
    uint64_t removed = 0;
    CHECK_RC(remove_ids(t, &id8, 1, &removed, &e), QC_OK);
    CHECK(removed == 1);
    CHECK_RC(qc_delete_bracket(987654, 1), QC_EBADF);
  }

  /* --- relay marks (queue_set_srcid) --- */
  {
    uint64_t rows0 = LOAD(ct->rows);
    CHECK_RC(append_relay(t, 10, 1, 'a', 10, &e), QC_OK);
    CHECK_RC(append_relay(t, 11, 1, 'a', 10, &e), QC_SKIPPED); /* duplicate source row */
    CHECK_RC(append_relay(t, 11, 1, 'a', 9, &e), QC_SKIPPED);
    CHECK(LOAD(ct->rows) == rows0 + 1);                         /* nothing written */
    CHECK_RC(append_relay(t, 12, 1, 'w', 10, &e), QC_OK);       /* 'w' resets the mark */
    CHECK_RC(append_relay(t, 13, 1, 'w', 3, &e), QC_OK);
    CHECK_RC(append_relay(t, 14, 1, 'a', 4, &e), QC_OK);
    CHECK_RC(append_relay(t, 15, 2, 'a', 4, &e), QC_OK);        /* slots are independent */
    CHECK_RC(append_relay(t, 16, 1, 'a', 4, &e), QC_SKIPPED);
    CHECK(LOAD(ct->rows) == rows0 + 5);
    e.msg[0] = 0;
    CHECK_RC(append_relay(t, 17, 64, 'a', 1, &e), QC_EINVAL);
    CHECK(e.msg[0] != 0);
    CHECK_RC(append_relay(t, 17, -1, 'a', 1, &e), QC_EINVAL);
    CHECK_RC(append_relay(t, 17, 1, 'x', 1, &e), QC_EINVAL);
    CHECK(LOAD(ct->rows) == rows0 + 5);
    /* clear the table for what follows */
    uint64_t ids[16];
    int n = scan_ids(t, 0, QC_SCAN_ALL, ids, 16);
    CHECK(n == (int) rows0 + 5);
    uint64_t removed = 0;
    CHECK_RC(remove_ids(t, ids, n, &removed, &e), QC_OK);
    CHECK(removed == (uint64_t) n);
    CHECK(LOAD(ct->rows) == 0);
  }

  /* --- two tables, a big row, a row buffer grown by qc_wait --- */
  uint64_t b = 0;
  const qc_table_counters *cb = NULL;
  CHECK_RC(qc_table_create("./db/b", cols, 2, &e), QC_OK);
  CHECK_RC(qc_table_open("./db/b", &b, &cb, &e), QC_OK);
  CHECK(LOAD(cb->table_id) != 0 && LOAD(cb->table_id) != tid);
  {
    enum { BIG = 20000 };
    unsigned char *big = malloc(BIG);
    for (int i = 0; i < BIG; i++)
      big[i] = (unsigned char) (i * 7 + 3);
    make_row(big, 99, NULL);
    uint32_t bl = BIG;
    uint64_t bid = 0;
    CHECK_RC(append_rows(b, big, &bl, 1, &bid, &e), QC_OK);
    CHECK(bid == 1 && LOAD(cb->rows) == 1);
    CHECK(LOAD(cb->data_bytes) >= BIG);
    const char *two[2] = { "./db/t", "./db/b" };
    const char *conds[2] = { "id = 12345", NULL };
    size_t cap_before = got.row.cap;
    CHECK(cap_before < BIG);
    CHECK_RC(do_wait(s, two, conds, 2, 46, &got, &consuming, &crc, &e), QC_OK);
    CHECK(got.idx == 1 && got.table_id == LOAD(cb->table_id) && got.row.id == bid);
    CHECK(got.epoch == LOAD(cb->owner_epoch));
    CHECK(got.row.cap >= BIG && got.row.len == BIG && memcmp(got.row.buf, big, BIG) == 0);
    CHECK(scan_ids(b, s, QC_SCAN_VISIBLE, seen, 16) == 1 && seen[0] == bid);
    CHECK(scan_ids(t, s, QC_SCAN_VISIBLE, seen, 16) == 0); /* not the owned row's table */
    /* a plain scan grows a small buffer to the big row */
    qc_row row = { malloc(8), 8, 0, 0 };
    uint64_t c = 0;
    CHECK_RC(qc_scan_open(b, 0, QC_SCAN_ALL, &c), QC_OK);
    CHECK_RC(qc_scan_next(c, &row, &e), QC_OK);
    CHECK(row.id == bid && row.len == BIG && row.cap >= BIG && memcmp(row.buf, big, BIG) == 0);
    CHECK_RC(qc_scan_next(c, &row, &e), QC_EOF);
    CHECK_RC(qc_scan_close(c), QC_OK);
    free(row.buf);
    row.buf = NULL;
    row.cap = 0;
    CHECK_RC(qc_get(b, bid, &row, &e), QC_OK);
    CHECK(row.len == BIG && memcmp(row.buf, big, BIG) == 0);
    free(row.buf);
    /* a session freed while owning gives its row back */
    uint64_t s2 = 0;
    CHECK_RC(qc_session_new(&s2), QC_OK);
    CHECK_RC(qc_abort(s), QC_OK);
    qc_owned got2;
    memset(&got2, 0, sizeof(got2));
    const char *bpath[1] = { "./db/b" };
    CHECK_RC(do_wait(s2, bpath, all, 1, 47, &got2, &consuming, &crc, &e), QC_OK);
    CHECK(got2.row.id == bid && got2.row.len == BIG);
    CHECK(scan_ids(b, 0, QC_SCAN_VISIBLE, seen, 16) == 0);
    CHECK_RC(qc_session_free(s2), QC_OK);
    CHECK_RC(qc_session_free(s2), QC_EBADF);
    CHECK(scan_ids(b, 0, QC_SCAN_VISIBLE, seen, 16) == 1 && seen[0] == bid);
    free(got2.row.buf);
    /* a session freed with a pending wait is never notified */
    uint64_t s3 = 0;
    CHECK_RC(qc_session_new(&s3), QC_OK);
    memset(&got2, 0, sizeof(got2));
    int before = tok_count(48);
    CHECK_RC(do_wait(s3, paths, all, 1, 48, &got2, &consuming, &crc, &e), QC_PENDING);
    CHECK_RC(qc_session_free(s3), QC_OK);
    uint64_t id = append_one(t, 20, "late");
    sleep_ms(150);
    CHECK(tok_count(48) == before);
    CHECK(scan_ids(t, 0, QC_SCAN_VISIBLE, seen, 16) == 1 && seen[0] == id);
    CHECK_RC(remove_ids(t, &id, 1, NULL, &e), QC_OK);
    free(big);

    /* queue_stats text */
    char text[1024];
    size_t tlen = 0;
    CHECK_RC(qc_admin(QC_ADMIN_STATS, "./db/b", text, 4, &tlen, &e), QC_ERANGE);
    CHECK(tlen > 4);
    CHECK_RC(qc_admin(QC_ADMIN_STATS, "./db/b", text, tlen, &tlen, &e), QC_ERANGE); /* and the NUL */
    CHECK_RC(qc_admin(QC_ADMIN_STATS, "./db/b", text, sizeof(text), &tlen, &e), QC_OK);
    CHECK(strlen(text) == tlen);
    CHECK(strncmp(text, "rows_written: 1\n", 16) == 0);
    CHECK(strstr(text, "\nrestored_by_abort: 1\n") != NULL);
    CHECK(strstr(text, "\nrestored_by_close: 1\n") != NULL);
    CHECK_RC(qc_admin(QC_ADMIN_STATS, "db/b", text, sizeof(text), &tlen, &e), QC_OK);
    CHECK_RC(qc_admin(QC_ADMIN_STATS, "./db/t", text, sizeof(text), &tlen, &e), QC_OK);
    CHECK(strstr(text, "\nwait_timeout: 2\n") != NULL);
    CHECK_RC(qc_admin(QC_ADMIN_STATS, "./db/nope", text, sizeof(text), &tlen, &e), QC_ENOENT);
    CHECK_RC(qc_admin(QC_ADMIN_STATS, NULL, text, sizeof(text), &tlen, &e), QC_EINVAL);
    CHECK_RC(qc_admin(99, "./db/t", text, sizeof(text), &tlen, &e), QC_EINVAL);
    /* SHOW ENGINE QUEUE STATUS */
    CHECK(status_has("./db/t: rows=0"));
    CHECK(status_has("./db/b: rows=1"));
    CHECK(status_num("open_tables") == 2);
    CHECK(status_num("handles") == h0 + 4); /* t, t2, b, s */
    /* compaction */
    uint64_t free0 = LOAD(ct->free_bytes);
    CHECK(free0 > 0);
    CHECK_RC(qc_admin(QC_ADMIN_COMPACT, "./db/t", NULL, 0, NULL, &e), QC_OK);
    CHECK(LOAD(ct->free_bytes) <= free0);
    CHECK_RC(qc_admin(QC_ADMIN_COMPACT, "./db/b", NULL, 0, NULL, &e), QC_OK);
    CHECK(LOAD(cb->rows) == 1);
    CHECK_RC(qc_admin(QC_ADMIN_COMPACT, "./db/nope", NULL, 0, NULL, &e), QC_ENOENT);
    row.buf = NULL;
    row.cap = 0;
    CHECK_RC(qc_get(b, bid, &row, &e), QC_OK);
    CHECK(row.len == BIG && row_key(row.buf) == 99);
    free(row.buf);
  }

  /* --- rename keeps the open handle --- */
  {
    CHECK_RC(table_rename("./db/t", "./db/b", &e), QC_EEXIST);
    CHECK_RC(table_rename("./db/t", "./db/r", &e), QC_OK);
    CHECK_RC(qc_table_open("./db/t", &missing, NULL, &e), QC_ENOENT);
    CHECK(stat("db/r.queue", &st) == 0 && stat("db/r.qcol", &st) == 0);
    CHECK(stat("db/t.queue", &st) != 0 && stat("db/t.qcol", &st) != 0);
    CHECK(status_has("./db/r: rows=0"));
    CHECK(!status_has("./db/t:"));
    uint64_t id = append_one(t, 21, "renamed");
    CHECK(id != 0 && LOAD(ct->rows) == 1 && LOAD(ct->table_id) == tid);
    const char *rpath[1] = { "./db/r" };
    const char *tpath[1] = { "./db/t" };
    CHECK_RC(do_wait(s, tpath, all, 1, 49, &got, &consuming, &crc, &e), QC_ENOENT);
    CHECK_RC(do_wait(s, rpath, all, 1, 49, &got, &consuming, &crc, &e), QC_OK);
    CHECK(got.row.id == id && got.table_id == tid);
    /* rename with an owned row: the owner keeps it */
    CHECK_RC(table_rename("./db/r", "./db/r2", &e), QC_OK);
    CHECK_RC(table_rename("./db/r2", "./db/r", &e), QC_OK);
    uint64_t r2 = 0;
    const qc_table_counters *cr2 = NULL;
    CHECK_RC(qc_table_open("./db/r", &r2, &cr2, &e), QC_OK);
    CHECK(LOAD(cr2->table_id) == tid);
    CHECK_RC(qc_table_close(r2), QC_OK);

    /* --- truncate: ids restart at 1, owned rows lose their owner --- */
    uint64_t ep = LOAD(ct->owner_epoch);
    CHECK_RC(table_truncate(t, &e), QC_OK);
    CHECK(LOAD(ct->rows) == 0);
    CHECK(LOAD(ct->owner_epoch) != ep);
    CHECK(scan_ids(t, 0, QC_SCAN_ALL, seen, 16) == 0);
    CHECK_RC(end_session(s), QC_OK); /* the row is gone: nothing to do */
    CHECK(append_one(t, 22, "after") == 1);
    CHECK(LOAD(ct->rows) == 1);
    CHECK_RC(table_truncate(987654, &e), QC_EBADF);
    /* Bad arguments of the qc_admin forms. */
    uint32_t short_handle= 1;
    CHECK_RC(qc_admin(QC_ADMIN_TRUNCATE, NULL, (char *) &short_handle,
                      sizeof(short_handle), NULL, &e), QC_EINVAL);
    char unterminated[3]= {'a', 'b', 'c'};
    CHECK_RC(qc_admin(QC_ADMIN_RENAME, "./db/t", unterminated, sizeof(unterminated),
                      NULL, &e), QC_EINVAL);
    CHECK_RC(qc_admin(QC_ADMIN_RENAME, "./db/t", NULL, 0, NULL, &e), QC_EINVAL);
    CHECK_RC(qc_admin(QC_ADMIN_DROP, NULL, NULL, 0, NULL, &e), QC_EINVAL);
    CHECK_RC(qc_admin(QC_ADMIN_XA_RECOVER, NULL, NULL, 0, NULL, &e), QC_EINVAL);
    {
      /* No prepared transaction: an empty list, and an unknown xid. */
      unsigned char list[2 * QC_XA_RECORD_MAX];
      size_t used= 99;
      CHECK_RC(qc_admin(QC_ADMIN_XA_RECOVER, NULL, (char *) list, sizeof(list),
                        &used, &e), QC_OK);
      CHECK(used == 0);
      req_t r;
      req_init(&r, 0);
      CHECK_RC(qc_txn_end(0, QC_XA_COMMIT, (const unsigned char *) "nope", 4, &r.r),
               QC_ENOENT);
      CHECK_RC(qc_txn_end(0, QC_XA_ROLLBACK, (const unsigned char *) "nope", 4, &r.r),
               QC_ENOENT);
      CHECK(r.calls == 0); /* a final return: done is never called */
      req_destroy(&r);
    }
  }

  /* --- stale handles never crash --- */
  {
    qc_row row = { NULL, 0, 0, 0 };
    uint64_t c = 0;
    CHECK_RC(qc_table_close(123456), QC_EBADF);
    CHECK_RC(qc_table_close(0), QC_EBADF);
    CHECK_RC(qc_scan_open(123456, 0, QC_SCAN_ALL, &c), QC_EBADF);
    CHECK_RC(qc_scan_next(123456, &row, &e), QC_EBADF);
    CHECK_RC(qc_scan_close(123456), QC_EBADF);
    CHECK_RC(qc_get(123456, 1, &row, &e), QC_EBADF);
    CHECK_RC(qc_session_free(123456), QC_EBADF);
    CHECK_RC(qc_session_free(0), QC_EBADF);
    CHECK_RC(qc_abort(123456), QC_EBADF);
    CHECK_RC(qc_wait_end(123456, &got, &e), QC_EBADF);
    CHECK_RC(qc_delete_bracket(123456, 0), QC_EBADF);
    CHECK_RC(append_rows(123456, buf, lens, 1, NULL, &e), QC_EBADF);
    uint64_t one = 1;
    CHECK_RC(remove_ids(123456, &one, 1, NULL, &e), QC_EBADF);
    CHECK_RC(end_session(123456), QC_EBADF);
    CHECK_RC(table_truncate(t3, &e), QC_EBADF); /* closed handle */
    CHECK(row.buf == NULL);
  }

  /* --- concurrent appends and consumers --- */
  {
    static conc_arg args[CONC_THREADS];
    pthread_t th[CONC_THREADS];
    uint64_t rows0 = LOAD(ct->rows);
    for (int i = 0; i < CONC_THREADS; i++) {
      args[i].table = t;
      CHECK(pthread_create(&th[i], NULL, conc_appender, &args[i]) == 0);
    }
    static uint64_t all_ids[CONC_THREADS * CONC_PER];
    int k = 0;
    for (int i = 0; i < CONC_THREADS; i++) {
      pthread_join(th[i], NULL);
      CHECK(args[i].bad == 0);
      for (int j = 0; j < CONC_PER; j++)
        all_ids[k++] = args[i].ids[j];
    }
    CHECK(distinct_nonzero(all_ids, k));
    CHECK(LOAD(ct->rows) == rows0 + CONC_THREADS * CONC_PER);
    uint64_t one = 1;
    CHECK_RC(remove_ids(t, &one, 1, NULL, &e), QC_OK); /* leave only theirs */

    static cons_arg cargs[CONSUMERS];
    pthread_t ch[CONSUMERS];
    for (int i = 0; i < CONSUMERS; i++) {
      cargs[i].path = "./db/r";
      cargs[i].token = 100 + i;
      CHECK(pthread_create(&ch[i], NULL, conc_consumer, &cargs[i]) == 0);
    }
    static uint64_t taken[CONC_THREADS * CONC_PER + 64];
    int m = 0;
    for (int i = 0; i < CONSUMERS; i++) {
      pthread_join(ch[i], NULL);
      CHECK(cargs[i].bad == 0);
      for (int j = 0; j < cargs[i].n && m < (int) (sizeof(taken) / sizeof(taken[0])); j++)
        taken[m++] = cargs[i].ids[j];
    }
    CHECK(m == k); /* every row once */
    CHECK(distinct_nonzero(taken, m));
    CHECK(m == k && memcmp(taken, all_ids, sizeof(uint64_t) * k) == 0);
    CHECK(LOAD(ct->rows) == 0);
    CHECK(scan_ids(t, 0, QC_SCAN_ALL, seen, 16) == 0);
  }

  /* --- drop: waiters are told, handles report QC_ECLOSED --- */
  {
    const char *rpath[1] = { "./db/r" };
    append_one(t, 30, "x");
    uint64_t s4 = 0;
    CHECK_RC(qc_session_new(&s4), QC_OK);
    qc_owned got4;
    memset(&got4, 0, sizeof(got4));
    CHECK_RC(do_wait(s4, rpath, all, 1, 0, &got4, &consuming, &crc, &e), QC_OK); /* s4 owns a row */
    int before = tok_count(50);
    const char *id99[1] = { "id = 99" };
    CHECK_RC(do_wait(s, rpath, id99, 1, 50, &got, &consuming, &crc, &e), QC_PENDING);
    uint64_t ep = LOAD(ct->owner_epoch);
    CHECK_RC(table_drop("./db/r", &e), QC_OK);
    CHECK(wait_token(50, before + 1)); /* the table went away */
    CHECK_RC(qc_wait_end(s, &got, &e), QC_OK);
    CHECK(got.idx == -1);
    CHECK_RC(qc_abort(s), QC_OK);
    /* the counters stay readable until the handles are closed */
    CHECK(LOAD(ct->owner_epoch) != ep);
    CHECK(LOAD(ct2->table_id) == tid);
    qc_row row = { NULL, 0, 0, 0 };
    uint64_t c = 0;
    CHECK_RC(qc_get(t, 1, &row, &e), QC_ECLOSED);
    CHECK_RC(qc_scan_open(t, 0, QC_SCAN_ALL, &c), QC_ECLOSED);
    CHECK_RC(table_truncate(t2, &e), QC_ECLOSED);
    CHECK_RC(append_rows(t, buf, lens, 1, NULL, &e), QC_ECLOSED);
    uint64_t one = 1;
    CHECK_RC(remove_ids(t2, &one, 1, NULL, &e), QC_ECLOSED);
    CHECK_RC(qc_delete_bracket(t, 1), QC_ECLOSED);
    CHECK_RC(qc_delete_bracket(t, 0), QC_OK);
    CHECK_RC(end_session(s4), QC_OK); /* its row went with the table */
    CHECK_RC(do_wait(s4, rpath, all, 1, 0, &got4, &consuming, &crc, &e), QC_ENOENT);
    CHECK_RC(qc_session_free(s4), QC_OK);
    free(got4.row.buf);
    CHECK_RC(table_drop("./db/r", &e), QC_OK); /* missing is fine */
    CHECK(stat("db/r.queue", &st) != 0 && stat("db/r.qcol", &st) != 0);
    CHECK(!status_has("./db/r:"));
    CHECK(status_num("open_tables") == 1);
  }

  /* --- no leaked handles --- */
  CHECK_RC(qc_table_close(t), QC_OK);
  CHECK_RC(qc_table_close(t2), QC_OK);
  CHECK_RC(qc_table_close(t), QC_EBADF);
  CHECK_RC(qc_table_close(b), QC_OK);
  CHECK_RC(table_drop("./db/b", &e), QC_OK);
  CHECK_RC(qc_session_free(s), QC_OK);
  free(got.row.buf);
  CHECK(status_num("handles") == h0);
  CHECK(status_num("open_tables") == 0);
  CHECK_RC(qc_shutdown(), QC_OK);
  CHECK_RC(qc_shutdown(), QC_OK);
  printf("cdriver: %d failures\n", failures);
  return failures ? 1 : 0;
}
