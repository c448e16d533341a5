/*
  cdriver.c: exercises libqueue_core.so through its C header only, the way
  ha_queue.so uses it. Built and run by cdriver_test.go in a scratch
  directory (table paths are relative to the working directory, as in the
  server's data directory).
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
#include "queue_core.h"

static int failures;

#define CHECK(cond)                                                          \
  do {                                                                       \
    if (!(cond)) {                                                           \
      fprintf(stderr, "%s:%d: check failed: %s\n", __FILE__, __LINE__, #cond); \
      failures++;                                                            \
    }                                                                        \
  } while (0)

#define CHECK_RC(expr, want)                                                 \
  do {                                                                       \
    int rc_ = (expr);                                                        \
    if (rc_ != (want)) {                                                     \
      fprintf(stderr, "%s:%d: %s returned %d, want %d (%s)\n", __FILE__,     \
              __LINE__, #expr, rc_, (int) (want), e.msg);                     \
      failures++;                                                            \
    }                                                                        \
  } while (0)

/* notify callback: counts calls, remembers the token */
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int notified;
static uint64_t last_token;

static void on_notify(uint64_t token)
{
  pthread_mutex_lock(&mu);
  notified++;
  last_token = token;
  pthread_cond_broadcast(&cv);
  pthread_mutex_unlock(&mu);
}

/* waits up to 10 s for the notify count to reach n */
static int wait_notified(int n)
{
  struct timespec dl;
  clock_gettime(CLOCK_REALTIME, &dl);
  dl.tv_sec += 10;
  pthread_mutex_lock(&mu);
  while (notified < n)
    if (pthread_cond_timedwait(&cv, &mu, &dl) == ETIMEDOUT)
      break;
  int got = notified;
  pthread_mutex_unlock(&mu);
  return got >= n;
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

/* completion of an asynchronous durable operation: counts done calls */
typedef struct done_t {
  pthread_mutex_t mu;
  pthread_cond_t cv;
  int calls;
} done_t;

static void on_done(void *arg)
{
  done_t *d = arg;
  pthread_mutex_lock(&d->mu);
  d->calls++;
  pthread_cond_broadcast(&d->cv);
  pthread_mutex_unlock(&d->mu);
}

static void done_init(done_t *d)
{
  pthread_mutex_init(&d->mu, NULL);
  pthread_cond_init(&d->cv, NULL);
  d->calls = 0;
}

/* waits up to 10 s for done; returns the number of done calls */
static int done_wait(done_t *d)
{
  struct timespec dl;
  clock_gettime(CLOCK_REALTIME, &dl);
  dl.tv_sec += 10;
  pthread_mutex_lock(&d->mu);
  while (d->calls == 0)
    if (pthread_cond_timedwait(&d->cv, &d->mu, &dl) == ETIMEDOUT)
      break;
  int n = d->calls;
  pthread_mutex_unlock(&d->mu);
  return n;
}

/* many threads appending through the asynchronous call at once */
#define CONC_THREADS 8
#define CONC_PER 100
typedef struct conc_arg {
  uint64_t table;
  int bad;
  uint64_t ids[CONC_PER];
} conc_arg;

static void *conc_appender(void *p)
{
  conc_arg *a = p;
  for (int i = 0; i < CONC_PER; i++) {
    done_t d;
    qc_err e = {{0}};
    unsigned char buf[32];
    uint32_t len = make_row(buf, i, "c");
    int arc = 99;
    uint64_t first = 0;
    done_init(&d);
    if (qc_append_async(a->table, 0, buf, &len, 1, on_done, &d, &arc, &first, &e) != QC_PENDING ||
        done_wait(&d) != 1 || arc != QC_OK)
      a->bad++;
    a->ids[i] = first;
    pthread_cond_destroy(&d.cv);
    pthread_mutex_destroy(&d.mu);
  }
  return NULL;
}

static int cmp_u64(const void *x, const void *y)
{
  uint64_t a = *(const uint64_t *) x, b = *(const uint64_t *) y;
  return a < b ? -1 : a > b;
}

static int32_t row_id(const unsigned char *p) { int32_t id; memcpy(&id, p + 1, 4); return id; }

static uint64_t append_one(uint64_t t, uint64_t s, int32_t id, int want)
{
  qc_err e = {{0}};
  unsigned char buf[64];
  uint32_t len = make_row(buf, id, "w");
  uint64_t first = 0;
  CHECK_RC(qc_append(t, s, buf, &len, 1, &first, &e), want);
  return first;
}

/* ids of the rows visible to session s, in scan order; with copy, every
   live row as a table copy (ALTER TABLE) reads them */
static int scan_ids(uint64_t t, uint64_t s, int32_t *ids, int max, int copy)
{
  qc_err e = {{0}};
  uint64_t c = 0;
  int n = 0;
  if (copy)
    CHECK_RC(qc_scan_open_copy(t, &c), QC_OK);
  else
    CHECK_RC(qc_scan_open(t, s, &c), QC_OK);
  for (;;) {
    unsigned char buf[64];
    size_t len = 0;
    uint64_t id = 0;
    int rc = qc_scan_next(c, buf, sizeof(buf), &len, &id, NULL);
    if (rc == QC_EOF)
      break;
    CHECK_RC(rc, QC_OK);
    if (rc != QC_OK || n == max)
      break;
    ids[n++] = row_id(buf);
  }
  CHECK_RC(qc_scan_close(c), QC_OK);
  return n;
}

static int panic_mode(void)
{
  qc_err e = {{0}};
  uint64_t t = 0;
  CHECK_RC(qc_table_open("./db/p", &t, &e), QC_EPANIC);
  CHECK(strstr(e.msg, "forced panic in qc_table_open") != NULL);
  CHECK(t == 0);
  /* the library is still usable after a recovered panic */
  CHECK(qc_abi_version() == QC_ABI_VERSION);
  uint64_t s = 0;
  CHECK_RC(qc_session_new(&s), QC_OK);
  CHECK_RC(qc_session_free(s), QC_OK);
  CHECK(qc_handle_count() == 0);
  printf("cdriver panic: %d failures\n", failures);
  return failures ? 1 : 0;
}

int main(int argc, char **argv)
{
  qc_err e = {{0}};
  if (argc > 1 && strcmp(argv[1], "panic") == 0)
    return panic_mode();

  CHECK(qc_abi_version() == QC_ABI_VERSION);
  CHECK_RC(qc_init(on_notify), QC_OK);
  CHECK_RC(qc_init(on_notify), QC_OK); /* idempotent */
  mkdir("db", 0770);

  /* --- tables --- */
  qc_column cols[2] = {
    { "id", 3 /* LONG */, 0, 0, 0, 1, 4, -1 },
    { "v", 15 /* VARCHAR */, 0, 2, 0, -1, 11, 0 },
  };
  CHECK_RC(qc_table_create("./db/t", cols, 2, &e), QC_OK);
  CHECK_RC(qc_table_create("./db/t", cols, 2, &e), QC_EEXIST);
  uint64_t t = 0, t2 = 0, missing = 0;
  CHECK_RC(qc_table_open("./db/t", &t, &e), QC_OK);
  CHECK(t != 0);
  CHECK_RC(qc_table_open("db/t", &t2, &e), QC_OK); /* same table, other spelling */
  CHECK(t2 != 0 && t2 != t);
  CHECK_RC(qc_table_open("./db/missing", &missing, &e), QC_ENOENT);

  /* --- append three rows in one statement --- */
  unsigned char buf[256];
  uint32_t lens[3];
  uint32_t off = 0;
  lens[0] = make_row(buf + off, 1, "one"); off += lens[0];
  lens[1] = make_row(buf + off, 2, NULL);  off += lens[1];
  lens[2] = make_row(buf + off, 3, "three");
  uint64_t first = 0;
  CHECK_RC(qc_append(t, 0, buf, lens, 3, &first, &e), QC_OK);
  CHECK(first == 1);
  CHECK_RC(qc_append(t, 0, buf, lens, 0, &first, &e), QC_EINVAL);

  /* --- scan with a too-small buffer: QC_ERANGE, then the same row --- */
  uint64_t c = 0;
  CHECK_RC(qc_scan_open(t, 0, &c), QC_OK);
  unsigned char small[2], big[64];
  size_t len = 0;
  uint64_t id = 0;
  CHECK_RC(qc_scan_next(c, small, sizeof(small), &len, &id, NULL), QC_ERANGE);
  CHECK(len == lens[0]);
  CHECK_RC(qc_scan_next(c, big, sizeof(big), &len, &id, NULL), QC_OK);
  CHECK(id == 1 && len == lens[0] && memcmp(big, buf, len) == 0);
  CHECK_RC(qc_scan_next(c, big, sizeof(big), &len, &id, NULL), QC_OK);
  CHECK(id == 2 && row_id(big) == 2 && big[0] == 2);
  CHECK_RC(qc_scan_next(c, big, sizeof(big), &len, &id, NULL), QC_OK);
  CHECK(id == 3 && row_id(big) == 3);
  CHECK_RC(qc_scan_next(c, big, sizeof(big), &len, &id, NULL), QC_EOF);
  CHECK_RC(qc_scan_close(c), QC_OK);
  CHECK_RC(qc_scan_close(c), QC_EBADF);

  /* --- get / remove --- */
  CHECK_RC(qc_get(t2, 3, big, sizeof(big), &len, NULL), QC_OK);
  CHECK(len == lens[2] && memcmp(big, buf + lens[0] + lens[1], len) == 0);
  uint64_t ids[2] = { 2, 99 }, removed = 7;
  CHECK_RC(qc_remove(t, ids, 2, &removed, &e), QC_OK);
  CHECK(removed == 1);
  CHECK_RC(qc_get(t, 2, big, sizeof(big), &len, NULL), QC_ENOENT);
  qc_table_info ti;
  CHECK_RC(qc_table_info_get(t, 0, &ti), QC_OK);
  CHECK(ti.rows == 2);
  CHECK(ti.create_time > 0);
  CHECK_RC(qc_delete_begin(t), QC_OK);
  CHECK_RC(qc_delete_end(t), QC_OK);

  /* --- sessions: take, owner-mode visibility, abort, end --- */
  uint64_t s = 0;
  CHECK_RC(qc_session_new(&s), QC_OK);
  CHECK(qc_owner_mode(s) == 0);
  uint64_t rid = 0;
  int has = 0, idx = -5;
  CHECK_RC(qc_rowid(s, &rid, &has), QC_ESTATE);
  CHECK_RC(qc_abort(s), QC_ESTATE);
  const char *paths[1] = { "./db/t" };
  const char *all[1] = { NULL };
  CHECK_RC(qc_wait_begin(s, paths, all, 1, 42, &idx, &e), QC_OK);
  CHECK(idx == 0);
  CHECK(qc_owner_mode(s) == 1);
  CHECK_RC(qc_rowid(s, &rid, &has), QC_OK);
  CHECK(has == 1 && rid == 1);
  char owned[64];
  CHECK_RC(qc_owned_path(s, owned, sizeof(owned)), QC_OK);
  CHECK(strcmp(owned, "./db/t") == 0);
  int32_t seen[8];
  CHECK(scan_ids(t, s, seen, 8, 0) == 1 && seen[0] == 1); /* owner sees its row only */
  CHECK(scan_ids(t, 0, seen, 8, 0) == 1 && seen[0] == 3); /* others do not see it */
  /* a table copy sees it, whatever the session */
  CHECK(scan_ids(t, s, seen, 8, 1) == 2 && seen[0] == 1 && seen[1] == 3);
  CHECK_RC(qc_table_info_get(t, s, &ti), QC_OK);
  CHECK(ti.rows == 1);
  CHECK_RC(qc_abort(s), QC_OK);
  CHECK(qc_owner_mode(s) == 0);
  CHECK(scan_ids(t, 0, seen, 8, 0) == 2 && seen[0] == 1 && seen[1] == 3);
  CHECK_RC(qc_wait_begin(s, paths, all, 1, 42, &idx, &e), QC_OK);
  CHECK_RC(qc_rowid(s, &rid, &has), QC_OK);
  CHECK(rid == 1); /* an aborted row is delivered first again */
  CHECK_RC(qc_end(s, &e), QC_OK);
  CHECK(qc_owner_mode(s) == 0);
  CHECK_RC(qc_table_info_get(t, 0, &ti), QC_OK);
  CHECK(ti.rows == 1);

  /* --- conditions --- */
  const char *id3[1] = { "id = 3" };
  CHECK_RC(qc_wait_begin(s, paths, id3, 1, 42, &idx, &e), QC_OK);
  CHECK_RC(qc_rowid(s, &rid, &has), QC_OK);
  CHECK(has == 1 && rid == 3);
  CHECK_RC(qc_end(s, &e), QC_OK);
  const char *bad[1] = { "id = )" };
  e.msg[0] = 0;
  CHECK_RC(qc_wait_begin(s, paths, bad, 1, 42, &idx, &e), QC_EINVAL);
  CHECK(strstr(e.msg, "position") != NULL);
  const char *nope[1] = { "./db/nope" };
  CHECK_RC(qc_wait_begin(s, nope, all, 1, 42, &idx, &e), QC_ENOENT);

  /* --- a pending wait is handed the next row and notified --- */
  int before = notified;
  CHECK_RC(qc_wait_begin(s, paths, all, 1, 42, &idx, &e), QC_PENDING);
  uint64_t got = append_one(t, 0, 4, QC_OK);
  CHECK(wait_notified(before + 1));
  CHECK(last_token == 42);
  CHECK_RC(qc_wait_end(s, &idx), QC_OK);
  CHECK(idx == 0);
  CHECK_RC(qc_rowid(s, &rid, &has), QC_OK);
  CHECK(has == 1 && rid == got);
  CHECK_RC(qc_end(s, &e), QC_OK);

  /* --- a wait that times out: owner mode without a row, no late notify --- */
  before = notified;
  CHECK_RC(qc_wait_begin(s, paths, all, 1, 43, &idx, &e), QC_PENDING);
  CHECK_RC(qc_wait_end(s, &idx), QC_OK);
  CHECK(idx == -1);
  CHECK_RC(qc_rowid(s, &rid, &has), QC_OK);
  CHECK(has == 0);
  append_one(t, 0, 5, QC_OK);
  struct timespec pause = { 0, 200 * 1000 * 1000 };
  nanosleep(&pause, NULL);
  CHECK(notified == before);
  CHECK_RC(qc_end(s, &e), QC_OK);

  /* --- relay marks --- */
  CHECK_RC(qc_set_srcid(s, 64, 'a', 1), QC_EINVAL);
  CHECK_RC(qc_set_srcid(s, 1, 'x', 1), QC_EINVAL);
  CHECK_RC(qc_set_srcid(s, 1, 'a', 10), QC_OK);
  append_one(t, s, 6, QC_OK);
  CHECK_RC(qc_set_srcid(s, 1, 'a', 10), QC_OK);
  append_one(t, s, 7, QC_SKIPPED); /* duplicate from the same source row */
  CHECK_RC(qc_set_srcid(s, 1, 'w', 10), QC_OK);
  append_one(t, s, 8, QC_OK);      /* 'w' resets the mark */

  /* --- asynchronous durable operations: results written, then done once --- */
  {
    done_t d;
    int arc = 99;
    uint64_t first = 0, value = 0;
    unsigned char abuf[128];
    uint32_t alens[2];
    alens[0] = make_row(abuf, 20, "x");
    alens[1] = make_row(abuf + alens[0], 21, "y");
    done_init(&d);
    CHECK_RC(qc_append_async(t, 0, abuf, alens, 2, on_done, &d, &arc, &first, &e), QC_PENDING);
    CHECK(done_wait(&d) == 1);
    CHECK(arc == QC_OK);
    CHECK(first > 0);
    CHECK_RC(qc_get(t, first + 1, big, sizeof(big), &len, NULL), QC_OK);
    CHECK(row_id(big) == 21);
    /* bad arguments of the call itself: final at once, done never called */
    done_init(&d);
    arc = 99;
    CHECK_RC(qc_append_async(t, 0, abuf, alens, 1, NULL, &d, &arc, &value, &e), QC_EINVAL);
    CHECK_RC(qc_append_async(t, 0, abuf, alens, 1, on_done, &d, NULL, &value, &e), QC_EINVAL);
    CHECK_RC(qc_remove_async(t, ids, 1, NULL, &d, &arc, &removed, &e), QC_EINVAL);
    CHECK_RC(qc_end_async(s, on_done, &d, NULL, &e), QC_EINVAL);
    struct timespec settle = { 0, 50 * 1000 * 1000 };
    nanosleep(&settle, NULL);
    CHECK(d.calls == 0 && arc == 99);
    /* everything else completes through done, also errors and no-ops */
    CHECK_RC(qc_append_async(t, 0, abuf, alens, 0, on_done, &d, &arc, &value, &e), QC_PENDING);
    CHECK(done_wait(&d) == 1 && arc == QC_EINVAL);
    done_init(&d);
    CHECK_RC(qc_append_async(777777, 0, abuf, alens, 1, on_done, &d, &arc, &value, &e), QC_PENDING);
    CHECK(done_wait(&d) == 1 && arc == QC_EBADF);
    done_init(&d);
    CHECK_RC(qc_remove_async(t, ids, 0, on_done, &d, &arc, &removed, &e), QC_PENDING);
    CHECK(done_wait(&d) == 1 && arc == QC_OK);
    done_init(&d);
    CHECK_RC(qc_end_async(s, on_done, &d, &arc, &e), QC_PENDING); /* owns nothing */
    CHECK(done_wait(&d) == 1 && arc == QC_OK);
    done_init(&d);
    CHECK_RC(qc_end_async(888888, on_done, &d, &arc, &e), QC_PENDING);
    CHECK(done_wait(&d) == 1 && arc == QC_EBADF);
    /* a relay duplicate completes with QC_SKIPPED */
    CHECK_RC(qc_set_srcid(s, 2, 'a', 5), QC_OK);
    done_init(&d);
    CHECK_RC(qc_append_async(t, s, abuf, alens, 1, on_done, &d, &arc, NULL, &e), QC_PENDING);
    CHECK(done_wait(&d) == 1);
    CHECK(arc == QC_OK);
    CHECK_RC(qc_set_srcid(s, 2, 'a', 5), QC_OK);
    done_init(&d);
    CHECK_RC(qc_append_async(t, s, abuf, alens, 1, on_done, &d, &arc, &value, &e), QC_PENDING);
    CHECK(done_wait(&d) == 1);
    CHECK(arc == QC_SKIPPED);
    /* removal: *removed is the number removed */
    uint64_t rids[2] = { first, 999999 };
    done_init(&d);
    arc = 99;
    value = 7;
    CHECK_RC(qc_remove_async(t, rids, 2, on_done, &d, &arc, &value, &e), QC_PENDING);
    CHECK(done_wait(&d) == 1);
    CHECK(arc == QC_OK && value == 1);
    CHECK_RC(qc_get(t, first, big, sizeof(big), &len, NULL), QC_ENOENT);
    /* queue_end: owner mode is left by the time done is called */
    const char *one[1] = { "id = 21" };
    CHECK_RC(qc_wait_begin(s, paths, one, 1, 44, &idx, &e), QC_OK);
    CHECK_RC(qc_rowid(s, &rid, &has), QC_OK);
    CHECK(has == 1 && rid == first + 1);
    done_init(&d);
    arc = 99;
    CHECK_RC(qc_end_async(s, on_done, &d, &arc, &e), QC_PENDING);
    CHECK(done_wait(&d) == 1);
    CHECK(arc == QC_OK);
    CHECK(qc_owner_mode(s) == 0);
    CHECK_RC(qc_get(t, rid, big, sizeof(big), &len, NULL), QC_ENOENT);
    nanosleep(&settle, NULL);
    CHECK(d.calls == 1);
  }

  /* --- administration --- */
  char text[1024];
  size_t tlen = 0;
  CHECK_RC(qc_stats_text("./db/t", text, 4, &tlen), QC_ERANGE);
  CHECK(tlen > 4);
  CHECK_RC(qc_stats_text("./db/t", text, sizeof(text), &tlen), QC_OK);
  CHECK(strncmp(text, "rows_written: ", 14) == 0);
  CHECK_RC(qc_stats_text("./db/nope", text, sizeof(text), &tlen), QC_ENOENT);
  CHECK_RC(qc_engine_status(text, sizeof(text), &tlen), QC_OK);
  CHECK(strstr(text, "./db/t") != NULL);
  CHECK_RC(qc_compact("./db/t", &e), QC_OK);

  /* --- rename keeps the open handle; truncate restarts ids --- */
  CHECK_RC(qc_table_rename("./db/t", "./db/r", &e), QC_OK);
  CHECK_RC(qc_table_info_get(t, 0, &ti), QC_OK);
  CHECK_RC(qc_table_open("./db/t", &missing, &e), QC_ENOENT);
  struct stat st;
  CHECK(stat("db/r.queue", &st) == 0 && stat("db/r.qcol", &st) == 0);
  CHECK(stat("db/t.queue", &st) != 0 && stat("db/t.qcol", &st) != 0);
  CHECK_RC(qc_table_truncate(t, &e), QC_OK);
  CHECK_RC(qc_table_info_get(t, 0, &ti), QC_OK);
  CHECK(ti.rows == 0);
  CHECK(append_one(t, 0, 9, QC_OK) == 1);

  /* --- stale handles never crash --- */
  CHECK_RC(qc_table_close(123456), QC_EBADF);
  CHECK_RC(qc_scan_next(123456, big, sizeof(big), &len, &id, NULL), QC_EBADF);
  CHECK_RC(qc_session_free(123456), QC_EBADF);
  CHECK_RC(qc_append(123456, 0, buf, lens, 1, &first, &e), QC_EBADF);
  CHECK_RC(qc_wait_end(s, &idx), QC_ESTATE);

  /* --- concurrent asynchronous appends: every one acknowledged once --- */
  {
    static conc_arg args[CONC_THREADS];
    pthread_t th[CONC_THREADS];
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
    qsort(all_ids, k, sizeof(all_ids[0]), cmp_u64);
    int distinct = 1;
    for (int i = 1; i < k; i++)
      if (all_ids[i] == all_ids[i - 1] || all_ids[i] == 0)
        distinct = 0;
    CHECK(distinct);
    CHECK_RC(qc_table_info_get(t, 0, &ti), QC_OK);
    CHECK(ti.rows == 1 + CONC_THREADS * CONC_PER);
  }

  /* --- drop: handles of the dropped table report QC_ECLOSED --- */
  CHECK_RC(qc_table_drop("./db/r", &e), QC_OK);
  CHECK_RC(qc_table_info_get(t, 0, &ti), QC_ECLOSED);
  {
    done_t d;
    int arc = 99;
    done_init(&d);
    CHECK_RC(qc_append_async(t, 0, buf, lens, 1, on_done, &d, &arc, NULL, &e), QC_PENDING);
    CHECK(done_wait(&d) == 1 && arc == QC_ECLOSED);
  }
  CHECK_RC(qc_table_drop("./db/r", &e), QC_OK); /* missing is fine */
  CHECK(stat("db/r.queue", &st) != 0 && stat("db/r.qcol", &st) != 0);

  /* --- no leaked handles --- */
  CHECK_RC(qc_table_close(t), QC_OK);
  CHECK_RC(qc_table_close(t2), QC_OK);
  CHECK_RC(qc_session_free(s), QC_OK);
  CHECK(qc_handle_count() == 0);
  CHECK_RC(qc_shutdown(), QC_OK);
  printf("cdriver: %d failures\n", failures);
  return failures ? 1 : 0;
}
