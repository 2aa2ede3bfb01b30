/* Blocking commands: who waits on which key, in what order, until when (see
 * blocking.h for the model).
 *
 * Data: per database a dict of key -> bkey_t, the FIFO of the clients waiting
 * on it (doubly linked nodes that live inside each client's block_state, one
 * per distinct key, so blocking costs one allocation per client plus one per
 * key nobody waited on yet). Clients with a deadline sit in a binary min-heap
 * that arms a single libuv timer. Keys made ready are collected in an array
 * (each once); clients whose wait ended are queued until their batch resumes.
 *
 * Thread: executor (every function here, the timer callback included). */
#include "blocking.h"

#include "cmd.h"
#include "db.h"
#include "dict.h"
#include "exec.h"
#include "kl_alloc.h"
#include "kl_util.h"
#include "object.h"
#include "reply.h"
#include "server.h"

#include <limits.h>
#include <math.h>
#include <string.h>

typedef struct bkey bkey_t;

typedef struct bnode {
    struct bnode *prev, *next;
    client_t *c;
    bkey_t *k;
} bnode_t;

struct bkey {
    bnode_t *head, *tail;
    uint32_t n;
    int db;
    bool ready;      /* in the ready array */
    bool busy;       /* being served: must not be freed */
    dict_entry_t *e; /* our entry in bdicts[db] (holds the key bytes) */
};

enum { BS_WAITING = 1, BS_DONE = 2 };

struct block_state {
    uint8_t state;
    uint8_t want; /* OBJ_LIST or OBJ_ZSET */
    bool rerun;   /* the command is being run again */
    int db;
    int64_t deadline;                /* unix ms, 0 = none */
    void (*on_timeout)(client_t *c); /* a wait without keys (block_custom): its reply */
    uint32_t heap_idx;
    uint32_t nkeys;
    bnode_t nodes[];
};

#define NOT_IN_HEAP UINT32_MAX
#define MAX_NESTING 8

size_t block__pending;

static void bkey_free(void *p) {
    kl_free(p);
}

static const dict_type_t bkey_type = {bkey_free};
static dict_t **bdicts; /* per database, created on first use */
static int nbdicts;
static size_t nwaiting;

static bkey_t **ready, **ready_spare;
static uint32_t nready, ready_cap, spare_cap;

static client_t **done; /* FIFO of clients whose batch must resume */
static uint32_t ndone, done_head, done_cap;

static client_t **heap;
static uint32_t nheap, heap_cap;

static iol_timer_t *timer;
static int64_t timer_at; /* deadline the timer is armed for, 0 if stopped */

static int depth;

/* ---------------------------------------------------------------- timeout parsing */

int block_parse_timeout(client_t *c, const resp_arg_t *a, int64_t *abs_ms) {
    long double secs;
    if (kl_str_to_ld(a->ptr, a->len, &secs) != 0) {
        reply_error(c, "ERR timeout is not a float or out of range");
        return -1;
    }
    long double ms = ceill(secs * 1000.0L);
    long long tval;
    /* Out of range (or infinite) converts to LLONG_MIN on x86, which Redis
     * then reports as a negative timeout. */
    if (ms >= -9223372036854775808.0L && ms < 9223372036854775808.0L)
        tval = (long long)ms;
    else
        tval = LLONG_MIN;
    if (tval < 0) {
        reply_error(c, "ERR timeout is negative");
        return -1;
    }
    if (tval == 0) {
        *abs_ms = 0;
    } else {
        int64_t now = g_kv.mstime;
        *abs_ms = tval > INT64_MAX - now ? INT64_MAX : now + tval;
    }
    return 0;
}

/* ---------------------------------------------------------------- timeout heap */

static inline int64_t deadline_of(const client_t *c) {
    return c->bstate->deadline;
}

static void heap_set(uint32_t i, client_t *c) {
    heap[i] = c;
    c->bstate->heap_idx = i;
}

static void heap_up(uint32_t i) {
    client_t *c = heap[i];
    while (i > 0) {
        uint32_t p = (i - 1) / 2;
        if (deadline_of(heap[p]) <= deadline_of(c)) break;
        heap_set(i, heap[p]);
        i = p;
    }
    heap_set(i, c);
}

static void heap_down(uint32_t i) {
    client_t *c = heap[i];
    for (;;) {
        uint32_t l = 2 * i + 1, m = i;
        int64_t best = deadline_of(c);
        if (l < nheap && deadline_of(heap[l]) < best) {
            m = l;
            best = deadline_of(heap[l]);
        }
        if (l + 1 < nheap && deadline_of(heap[l + 1]) < best) m = l + 1;
        if (m == i) break;
        heap_set(i, heap[m]);
        i = m;
    }
    heap_set(i, c);
}

static void heap_push(client_t *c) {
    if (nheap == heap_cap) {
        heap_cap = heap_cap ? heap_cap * 2 : 16;
        heap = kl_realloc(heap, heap_cap * sizeof(*heap));
    }
    heap_set(nheap++, c);
    heap_up(nheap - 1);
}

static void heap_remove(client_t *c) {
    uint32_t i = c->bstate->heap_idx;
    c->bstate->heap_idx = NOT_IN_HEAP;
    nheap--;
    if (i == nheap) return;
    client_t *last = heap[nheap];
    heap_set(i, last);
    heap_up(i);
    heap_down(last->bstate->heap_idx);
}

static void on_timer(iol_timer_t *t, void *arg);

/* Arm the timer for the earliest deadline (or stop it). */
static void timer_update(void) {
    if (!nheap) {
        if (timer_at) {
            iol_timer_stop(timer);
            timer_at = 0;
        }
        return;
    }
    int64_t first = deadline_of(heap[0]);
    if (timer_at == first) return;
    if (!timer) timer = iol_timer_new(on_timer, NULL);
    int64_t now = kl_mstime();
    int64_t delay = first > now ? first - now : 0;
    if (delay > 86400000) delay = 86400000; /* re-armed when it fires early */
    iol_loop_now_ms(); /* the delay counts from now, not from the loop's last tick */
    iol_timer_start(timer, (uint64_t)delay, 0);
    timer_at = first;
}

/* ---------------------------------------------------------------- key queues */

static dict_t *bdict_for(int db) {
    if (!bdicts) {
        nbdicts = db_count();
        bdicts = kl_calloc((size_t)nbdicts, sizeof(*bdicts));
    }
    if (!bdicts[db]) bdicts[db] = dict_create(&bkey_type);
    return bdicts[db];
}

static void bkey_maybe_free(bkey_t *k) {
    if (k->n || k->ready || k->busy) return;
    dict_delete(bdicts[k->db], dict_entry_key(k->e), dict_entry_klen(k->e));
}

static void mark_ready(bkey_t *k) {
    if (k->ready) return;
    k->ready = true;
    if (nready == ready_cap) {
        ready_cap = ready_cap ? ready_cap * 2 : 16;
        ready = kl_realloc(ready, ready_cap * sizeof(*ready));
    }
    ready[nready++] = k;
    block__pending++;
}

void block_key_ready(kdb_t *db, const char *key, size_t klen) {
    if (!nwaiting) return;
    dict_t *d = db->id < nbdicts ? bdicts[db->id] : NULL;
    if (!d || dict_size(d) == 0) return;
    dict_entry_t *e = dict_find(d, key, klen);
    if (e) mark_ready(dict_entry_val(e));
}

void block_scan_db(kdb_t *db) {
    if (!nwaiting) return;
    dict_t *d = db->id < nbdicts ? bdicts[db->id] : NULL;
    if (!d || dict_size(d) == 0) return;
    dict_iter_t it;
    dict_iter_init(&it, d, 1);
    dict_entry_t *e;
    while ((e = dict_iter_next(&it)) != NULL) {
        bkey_t *k = dict_entry_val(e);
        if (k->n && db_peek(db, dict_entry_key(e), dict_entry_klen(e))) mark_ready(k);
    }
    dict_iter_done(&it);
}

/* The timeout reply, also what a blocking command gets where it may not
 * block: BLMOVE/BRPOPLPUSH answer a null bulk there, every timeout is a null
 * array. */
static void reply_no_block(client_t *c) {
    if (c->cmd && (c->cmd->xflags & CMDX_BLOCK_NULL_BULK))
        reply_null(c);
    else
        reply_null_array(c);
}

void block_for_keys(client_t *c, const resp_arg_t *keys, int nkeys, int64_t abs_ms) {
    if (c->flags & CF_DENY_BLOCKING) {
        reply_no_block(c);
        return;
    }
    struct block_state *bs = c->bstate;
    if (bs && bs->rerun) {
        /* Still nothing to pop: keep the place in line and the deadline. */
        c->flags |= CF_BLOCKED;
        return;
    }
    if (nkeys < 0) nkeys = 0;
    bs = kl_malloc(sizeof(*bs) + (size_t)nkeys * sizeof(bnode_t));
    bs->state = BS_WAITING;
    bs->want = (c->cmd && (c->cmd->xflags & CMDX_BLOCK_ZSET)) ? OBJ_ZSET : OBJ_LIST;
    bs->rerun = false;
    bs->db = c->db_id;
    bs->deadline = abs_ms;
    bs->on_timeout = NULL;
    bs->heap_idx = NOT_IN_HEAP;
    bs->nkeys = 0;
    c->bstate = bs;
    dict_t *d = bdict_for(c->db_id);
    for (int i = 0; i < nkeys; i++) {
        int existed;
        dict_entry_t *e = dict_add_or_find(d, keys[i].ptr, keys[i].len, &existed);
        bkey_t *k = existed ? dict_entry_val(e) : NULL;
        if (!k) {
            k = kl_calloc(1, sizeof(*k));
            k->db = c->db_id;
            k->e = e;
            dict_entry_set_val(e, k);
        } else if (k->tail && k->tail->c == c) {
            continue; /* the same key twice */
        }
        bnode_t *n = &bs->nodes[bs->nkeys++];
        n->c = c;
        n->k = k;
        n->next = NULL;
        n->prev = k->tail;
        if (k->tail)
            k->tail->next = n;
        else
            k->head = n;
        k->tail = n;
        k->n++;
    }
    c->flags |= CF_BLOCKED;
    nwaiting++;
    if (abs_ms > 0) {
        heap_push(c);
        timer_update();
    }
}

/* Take c out of every key queue and the heap. */
static void unlink_waiting(client_t *c) {
    struct block_state *bs = c->bstate;
    for (uint32_t i = 0; i < bs->nkeys; i++) {
        bnode_t *n = &bs->nodes[i];
        bkey_t *k = n->k;
        if (n->prev)
            n->prev->next = n->next;
        else
            k->head = n->next;
        if (n->next)
            n->next->prev = n->prev;
        else
            k->tail = n->prev;
        k->n--;
        bkey_maybe_free(k);
    }
    bs->nkeys = 0;
    if (bs->heap_idx != NOT_IN_HEAP) {
        heap_remove(c);
        timer_update();
    }
    c->flags &= ~CF_BLOCKED;
    nwaiting--;
}

static void finish_wait(client_t *c);

void block_custom(client_t *c, int64_t abs_ms, void (*on_timeout)(client_t *c)) {
    block_for_keys(c, NULL, 0, abs_ms);
    if (c->bstate && (c->flags & CF_BLOCKED)) c->bstate->on_timeout = on_timeout;
}

bool block_custom_finish(client_t *c) {
    if (!c->bstate || c->bstate->state != BS_WAITING || !c->bstate->on_timeout) return false;
    exec_blocked_done(c, false);
    finish_wait(c);
    return true;
}

bool block_rerunning(const client_t *c) {
    return c->bstate && c->bstate->rerun;
}

/* c's blocked command has its reply: stop waiting, resume its batch soon. */
static void finish_wait(client_t *c) {
    unlink_waiting(c);
    c->bstate->state = BS_DONE;
    if (done_head == ndone) done_head = ndone = 0;
    if (ndone == done_cap) {
        if (done_head) {
            memmove(done, done + done_head, (ndone - done_head) * sizeof(*done));
            ndone -= done_head;
            done_head = 0;
        } else {
            done_cap = done_cap ? done_cap * 2 : 16;
            done = kl_realloc(done, done_cap * sizeof(*done));
        }
    }
    done[ndone++] = c;
    block__pending++;
}

static bool key_alive(kdb_t *db, const char *key, size_t klen, const kobj_t **o) {
    *o = db_peek(db, key, klen);
    if (!*o) return false;
    int64_t when = db_get_expire(db, key, klen);
    return when < 0 || when > g_kv.mstime;
}

/* Re-run the waiting clients' commands on k, oldest first, while it holds a
 * value. A client whose re-run blocks again keeps its place. */
static void serve_key(bkey_t *k) {
    kdb_t *db = db_get(k->db);
    const char *key = dict_entry_key(k->e);
    size_t klen = dict_entry_klen(k->e);
    k->busy = true;
    uint32_t todo = k->n;
    bnode_t *n = k->head;
    while (n && todo--) {
        /* Only c's own nodes can leave the queue during its re-run. */
        bnode_t *next = n->next;
        client_t *c = n->c;
        const kobj_t *o;
        kv_update_time();
        if (!key_alive(db, key, klen, &o)) break;
        if (o->type == c->bstate->want) {
            struct block_state *bs = c->bstate;
            bs->rerun = true;
            c->flags &= ~CF_BLOCKED;
            exec_blocked_rerun(c);
            bs->rerun = false;
            if (!(c->flags & CF_BLOCKED)) {
                c->flags |= CF_BLOCKED;
                finish_wait(c);
            }
        }
        n = next;
    }
    k->busy = false;
}

static void serve_ready(void) {
    bkey_t **list = ready;
    uint32_t n = nready, cap = ready_cap;
    ready = ready_spare;
    ready_cap = spare_cap;
    nready = 0;
    ready_spare = NULL;
    spare_cap = 0;
    block__pending -= n;
    for (uint32_t i = 0; i < n; i++) {
        bkey_t *k = list[i];
        k->ready = false;
        if (k->n) serve_key(k);
        bkey_maybe_free(k);
    }
    if (!ready_spare) {
        ready_spare = list;
        spare_cap = cap;
    } else {
        kl_free(list);
    }
}

void block_handle_pending(void) {
    if (depth >= MAX_NESTING) return;
    depth++;
    while (block__pending) {
        if (nready) {
            serve_ready();
            continue;
        }
        client_t *c = done[done_head++];
        block__pending--;
        kl_free(c->bstate);
        c->bstate = NULL;
        exec_client_resume(c);
    }
    depth--;
}

static void on_timer(iol_timer_t *t, void *arg) {
    timer_at = 0;
    kv_update_time();
    int64_t now = g_kv.mstime;
    while (nheap && deadline_of(heap[0]) <= now) {
        client_t *c = heap[0];
        if (c->bstate->on_timeout)
            c->bstate->on_timeout(c);
        else
            reply_null_array(c);
        exec_blocked_done(c, false);
        finish_wait(c);
    }
    timer_update();
    block_handle_pending();
}

bool block_unblock_client(client_t *c, bool error) {
    if (!c->bstate || c->bstate->state != BS_WAITING) return false;
    if (error)
        reply_error(c, "UNBLOCKED client unblocked via CLIENT UNBLOCK");
    else if (c->bstate->on_timeout)
        c->bstate->on_timeout(c);
    else
        reply_null_array(c);
    exec_blocked_done(c, error);
    finish_wait(c);
    return true;
}

void block_client_gone(client_t *c) {
    struct block_state *bs = c->bstate;
    if (!bs) return;
    if (bs->state == BS_WAITING) {
        unlink_waiting(c);
    } else {
        for (uint32_t i = done_head; i < ndone; i++) {
            if (done[i] == c) {
                memmove(done + i, done + i + 1, (ndone - i - 1) * sizeof(*done));
                ndone--;
                block__pending--;
                break;
            }
        }
    }
    kl_free(bs);
    c->bstate = NULL;
}

size_t block_blocked_clients(void) {
    return nwaiting;
}

size_t block_timeout_clients(void) {
    return nheap;
}

void block_free_all(void) {
    for (int i = 0; i < nbdicts; i++)
        if (bdicts[i]) dict_release(bdicts[i]);
    kl_free(bdicts);
    bdicts = NULL;
    nbdicts = 0;
    kl_free(ready);
    kl_free(ready_spare);
    ready = ready_spare = NULL;
    nready = ready_cap = spare_cap = 0;
    kl_free(done);
    done = NULL;
    ndone = done_head = done_cap = 0;
    kl_free(heap);
    heap = NULL;
    nheap = heap_cap = 0;
    nwaiting = 0;
    block__pending = 0;
    iol_timer_free(timer);
    timer = NULL;
    timer_at = 0;
}
