/* The lazy-free thread (lazyfree.h).
 *
 * Hand-off: a FIFO list of jobs guarded by a mutex, with a condition variable
 * the thread sleeps on. Not the SPSC ring of ioloop/ring.h: a ring is bounded,
 * and a full ring would leave the executor the choice between waiting for the
 * thread (forbidden) and freeing synchronously (the stall this module exists
 * to avoid). Only values above LAZYFREE_THRESHOLD (and whole flushed
 * databases) come here, never a per-request path, so one small job allocation
 * and an uncontended lock per hand-off cost nothing measurable. The thread
 * holds the lock only to unlink the whole list, never while freeing, so the
 * executor never waits on a free.
 *
 * What the thread runs is obj_free() / dict_release(): kl_free (jemalloc,
 * thread-safe), the read-only type hooks of object.c, and quicklist's
 * per-thread compression scratch (_Thread_local, empty here). No executor
 * state is touched. Its frees show in kl_used_memory() within one coarse
 * clock tick (the stats.allocated snapshot includes every thread's frees)
 * and at once in INFO used_memory (which refreshes jemalloc's epoch).
 *
 * Thread: see each function. */
#include "lazyfree.h"

#include "kl_alloc.h"
#include "kl_log.h"
#include "quicklist.h"
#include "zskiplist.h"

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

enum { JOB_OBJ = 0, JOB_DB = 1 };

typedef struct lf_job {
    struct lf_job *next;
    int kind;
    size_t count; /* objects this job frees (for the counters) */
    void *a, *b;  /* JOB_OBJ: a = kobj_t; JOB_DB: a = keys dict, b = expires dict */
} lf_job_t;

static struct {
    pthread_mutex_t lock;
    pthread_cond_t cond;
    lf_job_t *head, *tail; /* guarded by lock */
    bool stop;             /* guarded by lock */
    bool running;          /* executor only: thread started and not joined */
    pthread_t thread;
    pthread_t executor; /* the thread that started it (debug checks) */
} lf = {.lock = PTHREAD_MUTEX_INITIALIZER, .cond = PTHREAD_COND_INITIALIZER};

/* Statistics only: they publish nothing (the job itself travels under the
 * lock), so relaxed increments and loads suffice; INFO may see a value a few
 * instructions old. pending is raised by the executor before the hand-off and
 * lowered by the thread after the free; freed grows on the thread. */
static _Atomic size_t lf_pending;
static _Atomic size_t lf_freed;

static void job_run(lf_job_t *j) {
    if (j->kind == JOB_OBJ) {
        obj_free(j->a);
    } else {
        dict_release(j->a);
        dict_release(j->b);
    }
    atomic_fetch_sub_explicit(&lf_pending, j->count, memory_order_relaxed);
    atomic_fetch_add_explicit(&lf_freed, j->count, memory_order_relaxed);
}

/* The thread: take the whole list under the lock, free it without the lock.
 * On stop it leaves only once the list is empty, so nothing handed over
 * before lazyfree_stop() is leaked. */
static void *lf_main(void *arg) {
    (void)arg;
    for (;;) {
        pthread_mutex_lock(&lf.lock);
        while (!lf.head && !lf.stop)
            pthread_cond_wait(&lf.cond, &lf.lock);
        lf_job_t *j = lf.head;
        lf.head = lf.tail = NULL;
        bool stop = lf.stop;
        pthread_mutex_unlock(&lf.lock);
        if (!j && stop) break;
        while (j) {
            lf_job_t *next = j->next;
            job_run(j);
            kl_free(j);
            j = next;
        }
    }
    return NULL;
}

int lazyfree_start(void) {
    if (lf.running) return 0;
    lf.stop = false;
    lf.executor = pthread_self();
    int err = pthread_create(&lf.thread, NULL, lf_main, NULL);
    if (err) return -err;
#ifdef __linux__
    pthread_setname_np(lf.thread, "kl-lazyfree");
#endif
    lf.running = true;
    return 0;
}

void lazyfree_stop(void) {
    if (!lf.running) return;
    pthread_mutex_lock(&lf.lock);
    lf.stop = true;
    pthread_cond_signal(&lf.cond);
    pthread_mutex_unlock(&lf.lock);
    pthread_join(lf.thread, NULL);
    lf.running = false;
}

/* Queue a job, or run it here when there is no thread (before start, after
 * stop, in unit tests). */
static void job_submit(int kind, void *a, void *b, size_t count) {
    assert(!lf.running || pthread_equal(pthread_self(), lf.executor));
    lf_job_t *j = kl_malloc(sizeof(*j));
    *j = (lf_job_t){.next = NULL, .kind = kind, .count = count, .a = a, .b = b};
    atomic_fetch_add_explicit(&lf_pending, count, memory_order_relaxed);
    if (!lf.running) {
        job_run(j);
        kl_free(j);
        return;
    }
    pthread_mutex_lock(&lf.lock);
    bool was_empty = lf.head == NULL;
    if (lf.tail)
        lf.tail->next = j;
    else
        lf.head = j;
    lf.tail = j;
    /* The thread only sleeps with an empty list: signal only then (it takes
     * the whole list per wake-up, so a burst costs one signal). */
    if (was_empty) pthread_cond_signal(&lf.cond);
    pthread_mutex_unlock(&lf.lock);
}

size_t lazyfree_effort(const kobj_t *o) {
    switch (o->type) {
    case OBJ_LIST:
        return o->enc == ENC_QUICKLIST ? ql_node_count(o->v.p) : 1;
    case OBJ_SET:
    case OBJ_HASH:
        return o->enc == ENC_HASHTABLE ? dict_size(o->v.p) : 1;
    case OBJ_ZSET:
        return o->enc == ENC_SKIPLIST ? zsl_set_len(o->v.p) : 1;
    default:
        return 1;
    }
}

bool lazyfree_obj(kobj_t *o) {
    if (!o) return false;
    if (lazyfree_effort(o) <= LAZYFREE_THRESHOLD) {
        obj_free(o);
        return false;
    }
    job_submit(JOB_OBJ, o, NULL, 1);
    return true;
}

void lazyfree_dicts(dict_t *keys, dict_t *expires, size_t nkeys) {
    if (!keys && !expires) return;
    job_submit(JOB_DB, keys, expires, nkeys);
}

size_t lazyfree_pending(void) {
    return atomic_load_explicit(&lf_pending, memory_order_relaxed);
}

size_t lazyfree_freed(void) {
    return atomic_load_explicit(&lf_freed, memory_order_relaxed);
}

void lazyfree_reset_stats(void) {
    atomic_store_explicit(&lf_freed, 0, memory_order_relaxed);
}
