/*
  queue_status.h: what the server shows about the engine (SHOW ENGINE QUEUE
  STATUS, the Queue_% status variables, INFORMATION_SCHEMA.QUEUE_TABLES)
  and the counters of the SQL functions, which are kept here, in C, so
  that counting a call never enters the library. docs/OPERATIONS.md,
  "Monitoring", describes every figure.
*/
#ifndef QUEUE_STATUS_H
#define QUEUE_STATUS_H

/* Calls of the SQL functions since the plugin was loaded. Add with
   queue_count(&queue_fn_counters.wait) (relaxed atomics). */
struct Queue_fn_counters
{
  unsigned long long wait, end, abort, rowid, set_srcid;
};
extern Queue_fn_counters queue_fn_counters;

static inline void queue_count(unsigned long long *c)
{
  __atomic_add_fetch(c, 1, __ATOMIC_RELAXED);
}

/* queue_wait's timeout in seconds when it is called with one argument
   (sysvar queue_default_wait_timeout). Read with a relaxed atomic load. */
extern unsigned long queue_default_wait_timeout;

#ifdef MYSQL_SERVER
/* SHOW ENGINE QUEUE STATUS (the handlerton's show_status). */
bool queue_show_engine_status(THD *thd, stat_print_fn *print);
/* The plugin's status variables (SHOW GLOBAL STATUS LIKE 'Queue%'). */
extern struct st_mysql_show_var queue_status_vars[];
/* INFORMATION_SCHEMA.QUEUE_TABLES: the I_S plugin's init and descriptor. */
int queue_tables_is_init(void *p);
extern struct st_mysql_information_schema queue_tables_is;
#endif

#endif
