/* The write path (propagate.h): dirty accounting, the queue of commands an
 * execution unit propagates, and their delivery to the registered consumers.
 *
 * Buffers, all executor-owned and reused:
 *   - rw: the rewritten forms of the calls in progress, a stack (a nested
 *     call's bytes sit after its caller's and are dropped when it ends);
 *   - pend + ops: the commands queued by the current execution unit, RESP
 *     encoded back to back, each with its database and targets;
 *   - out: one consumer's bytes for one unit (SELECT / MULTI / EXEC added).
 *
 * Thread: executor. */
#include "propagate.h"

#include "config.h"
#include "db.h"
#include "kl_alloc.h"
#include "kl_util.h"
#include "server.h"

#include <assert.h>
#include <string.h>

prop_frame_t *prop__cur;
size_t prop__nconsumers;
uint32_t prop__depth;

struct prop_consumer {
    prop_consumer_t *next;
    unsigned targets;
    int seldb; /* database of the last command fed, -1: SELECT first */
    bool dead; /* removed during a flush: freed when it ends */
    prop_feed_fn feed;
    void *arg;
};

typedef struct prop_op {
    int dbid;
    unsigned targets;
    size_t off, len; /* bytes in pend */
} prop_op_t;

static prop_consumer_t *consumers;
static bool flushing;
static size_t ndead;
/* Targets some live consumer takes: a command for no one is not even queued,
 * as Redis's shouldPropagate() (PUBLISH with no replica is not part of a
 * unit, so it cannot make the AOF's share of it a MULTI/EXEC). */
static unsigned live_targets;

static void targets_recompute(void) {
    live_targets = 0;
    for (prop_consumer_t *pc = consumers; pc; pc = pc->next)
        if (!pc->dead) live_targets |= pc->targets;
}

static kl_buf_t rw, pend, out;
static prop_op_t *ops;
static size_t nops, ops_cap;
/* The outermost call of the unit being queued asked for no MULTI/EXEC. */
static bool unit_arbitrary;

/* ---------------------------------------------------------------- encoding */

static void enc_len(kl_buf_t *b, char type, size_t n) {
    char tmp[KL_LLSTR_SIZE + 3];
    tmp[0] = type;
    int l = kl_ull_to_str(tmp + 1, sizeof(tmp) - 1, (unsigned long long)n);
    tmp[1 + l] = '\r';
    tmp[2 + l] = '\n';
    kl_buf_append(b, tmp, (size_t)l + 3);
}

static void enc_arg(kl_buf_t *b, const char *p, size_t len) {
    enc_len(b, '$', len);
    kl_buf_reserve(b, len + 2);
    if (len) memcpy(b->p + b->len, p, len);
    b->p[b->len + len] = '\r';
    b->p[b->len + len + 1] = '\n';
    b->len += len + 2;
    b->p[b->len] = '\0'; /* kl_buf's invariant (reserve left room for it) */
}

/* Cut b back to len bytes. */
static void buf_truncate(kl_buf_t *b, size_t len) {
    b->len = len;
    if (b->p) b->p[len] = '\0';
}

static void enc_prop_argv(kl_buf_t *b, const prop_arg_t *argv, uint32_t argc) {
    enc_len(b, '*', argc);
    for (uint32_t i = 0; i < argc; i++)
        enc_arg(b, argv[i].p, argv[i].len);
}

static void enc_resp_argv(kl_buf_t *b, const resp_arg_t *argv, uint32_t argc) {
    enc_len(b, '*', argc);
    for (uint32_t i = 0; i < argc; i++)
        enc_arg(b, argv[i].ptr, argv[i].len);
}

/* ---------------------------------------------------------------- the queue */

/* Queue the command whose bytes are pend[off..) for dbid. */
static void op_push(int dbid, unsigned targets, size_t off) {
    if (nops == ops_cap) {
        ops_cap = ops_cap ? ops_cap * 2 : 16;
        ops = kl_realloc(ops, ops_cap * sizeof(*ops));
    }
    ops[nops].dbid = dbid;
    ops[nops].targets = targets;
    ops[nops].off = off;
    ops[nops].len = pend.len - off;
    nops++;
}

static const char MULTI_BYTES[] = "*1\r\n$5\r\nMULTI\r\n";
static const char EXEC_BYTES[] = "*1\r\n$4\r\nEXEC\r\n";

/* Add one command for dbid to pc's output, with a SELECT first when pc's
 * stream is in another database (Redis's slaveseldb / aof_selected_db). */
static void emit(prop_consumer_t *pc, int dbid, const char *p, size_t len) {
    if (pc->seldb != dbid) {
        char id[KL_LLSTR_SIZE];
        int l = kl_ll_to_str(id, sizeof(id), dbid);
        kl_buf_append(&out, "*2\r\n$6\r\nSELECT\r\n", 16);
        enc_arg(&out, id, (size_t)l);
        pc->seldb = dbid;
    }
    kl_buf_append(&out, p, len);
}

static void free_dead(void) {
    prop_consumer_t **pp = &consumers;
    while (*pp) {
        prop_consumer_t *pc = *pp;
        if (pc->dead) {
            *pp = pc->next;
            kl_free(pc);
        } else {
            pp = &pc->next;
        }
    }
    ndead = 0;
}

/* Redis's propagatePendingCommands: deliver the queued unit to every
 * consumer, wrapped in MULTI/EXEC when it holds more than one command. The
 * MULTI carries the first command's database (so a SELECT comes before it)
 * and the EXEC the last one's, as in Redis 7.0; both go to every target. */
void prop_flush(void) {
    if (nops == 0 || flushing) return;
    flushing = true;
    bool wrap = nops > 1 && !unit_arbitrary;
    for (prop_consumer_t *pc = consumers; pc; pc = pc->next) {
        if (pc->dead) continue;
        kl_buf_clear(&out);
        if (wrap) emit(pc, ops[0].dbid, MULTI_BYTES, sizeof(MULTI_BYTES) - 1);
        for (size_t i = 0; i < nops; i++)
            if (ops[i].targets & pc->targets)
                emit(pc, ops[i].dbid, pend.p + ops[i].off, ops[i].len);
        if (wrap) emit(pc, ops[nops - 1].dbid, EXEC_BYTES, sizeof(EXEC_BYTES) - 1);
        if (out.len) pc->feed(pc->arg, out.p, out.len);
    }
    nops = 0;
    kl_buf_clear(&pend);
    flushing = false;
    if (ndead) free_dead();
    /* Keep the buffers of a big unit from staying around. */
    if (pend.cap > (1u << 20)) kl_buf_free(&pend);
    if (out.cap > (1u << 20)) kl_buf_free(&out);
}

/* ---------------------------------------------------------------- consumers */

prop_consumer_t *prop_consumer_add(unsigned targets, prop_feed_fn feed, void *arg) {
    prop_consumer_t *pc = kl_calloc(1, sizeof(*pc));
    pc->targets = targets & PROP_ALL;
    pc->seldb = -1;
    pc->feed = feed;
    pc->arg = arg;
    if (flushing) {
        /* Registered from a feed callback: the unit being delivered was
         * queued before pc existed. The head is behind the running loop. */
        pc->next = consumers;
        consumers = pc;
    } else {
        prop_consumer_t **pp = &consumers;
        while (*pp)
            pp = &(*pp)->next;
        *pp = pc;
    }
    prop__nconsumers++;
    live_targets |= pc->targets;
    return pc;
}

void prop_consumer_remove(prop_consumer_t *pc) {
    if (!pc || pc->dead) return;
    prop__nconsumers--;
    pc->dead = true;
    ndead++;
    targets_recompute();
    if (!flushing) free_dead();
}

void prop_consumer_reset_db(prop_consumer_t *pc) {
    pc->seldb = -1;
}

int prop_consumer_db(const prop_consumer_t *pc) {
    return pc->seldb;
}

size_t prop_consumer_count(void) {
    return prop__nconsumers;
}

/* ---------------------------------------------------------------- frames */

void prop__call_begin(prop_frame_t *f, bool arbitrary_keys) {
    f->prev = prop__cur;
    f->changes = 0;
    f->flags = (!prop__cur && arbitrary_keys) ? PROP__F_ARBITRARY : 0;
    f->rw_off = f->rw_len = 0;
    prop__cur = f;
}

void prop__call_end(prop_frame_t *f, int dbid, const resp_arg_t *argv, uint32_t argc) {
    assert(prop__cur == f);
    prop__cur = f->prev;
    unsigned targets = ((f->changes ? PROP_ALL : 0u) | (f->flags & PROP_ALL)) & live_targets;
    if (f->flags & PROP__F_PREVENT) targets = 0;
    if (targets) {
        size_t off = pend.len;
        if (f->flags & PROP__F_REWRITTEN)
            kl_buf_append(&pend, rw.p + f->rw_off, f->rw_len);
        else
            enc_resp_argv(&pend, argv, argc);
        op_push(dbid, targets, off);
    }
    if (f->flags & PROP__F_REWRITTEN) buf_truncate(&rw, f->rw_off);
    if (!prop__cur) {
        /* The unit ends here. The flag is read by the flush only. */
        unit_arbitrary = (f->flags & PROP__F_ARBITRARY) != 0;
        prop_flush();
        unit_arbitrary = false;
        if (rw.cap > (1u << 20)) kl_buf_free(&rw);
    }
}

/* Start a new rewrite for the running call: its bytes go at the end of rw. */
static prop_frame_t *rewrite_frame(void) {
    prop_frame_t *f = prop__cur;
    if (!f) return NULL;
    if (f->flags & PROP__F_REWRITTEN) {
        /* Drop the previous rewrite when it is the last thing in rw (no
         * nested call appended after it, which is always true today). */
        if (f->rw_off + f->rw_len == rw.len) buf_truncate(&rw, f->rw_off);
    }
    f->rw_off = rw.len;
    f->flags |= PROP__F_REWRITTEN;
    return f;
}

void prop_rewrite(const prop_arg_t *argv, uint32_t argc) {
    prop_frame_t *f = rewrite_frame();
    if (!f) return;
    enc_prop_argv(&rw, argv, argc);
    f->rw_len = rw.len - f->rw_off;
}

void prop_rewrite_args(const resp_arg_t *argv, uint32_t argc, const prop_subst_t *subst,
                       size_t nsubst) {
    prop_frame_t *f = rewrite_frame();
    if (!f) return;
    uint32_t n = argc;
    for (size_t s = 0; s < nsubst; s++)
        if (subst[s].idx < argc && !subst[s].with.p) n--;
    enc_len(&rw, '*', n);
    for (uint32_t i = 0; i < argc; i++) {
        const prop_subst_t *sub = NULL;
        for (size_t s = 0; s < nsubst; s++)
            if (subst[s].idx == i) sub = &subst[s];
        if (!sub)
            enc_arg(&rw, argv[i].ptr, argv[i].len);
        else if (sub->with.p)
            enc_arg(&rw, sub->with.p, sub->with.len);
    }
    f->rw_len = rw.len - f->rw_off;
}

void prop_also(int dbid, const prop_arg_t *argv, uint32_t argc) {
    if (!prop_wanted()) return;
    if (!live_targets) return;
    size_t off = pend.len;
    enc_prop_argv(&pend, argv, argc);
    op_push(dbid, PROP_ALL & live_targets, off);
    if (!prop__depth) prop_flush(); /* not inside a command: a unit of its own */
}

void prop_force(unsigned targets) {
    if (prop__cur) prop__cur->flags |= targets & PROP_ALL;
}

void prop_prevent(void) {
    if (prop__cur) prop__cur->flags |= PROP__F_PREVENT;
}

/* ---------------------------------------------------------------- keyspace hooks */

/* Redis's propagateDeletion: DEL, or UNLINK when the value was freed lazily. */
static void propagate_deletion(kdb_t *db, const char *key, size_t klen, bool lazy) {
    prop_arg_t argv[2] = {lazy ? PROP_STR("UNLINK") : PROP_STR("DEL"), {key, klen}};
    prop_also(db->id, argv, 2);
}

void prop_key_expired(kdb_t *db, const char *key, size_t klen) {
    /* Inside a command the DEL joins its unit (before the command's own
     * form); from the cron it is a unit of its own (prop_also flushes). */
    propagate_deletion(db, key, klen, g_cfg.lazyfree_lazy_expire != 0);
}

void prop_key_evicted(kdb_t *db, const char *key, size_t klen) {
    /* Redis emits every evicted key at once, even from inside a command
     * (CONFIG SET maxmemory): never wrapped with anything. */
    propagate_deletion(db, key, klen, g_cfg.lazyfree_lazy_eviction != 0);
    prop_flush();
}

void prop_free_all(void) {
    for (prop_consumer_t *pc = consumers; pc; pc = pc->next)
        pc->dead = true;
    free_dead();
    prop__nconsumers = 0;
    live_targets = 0;
    kl_buf_free(&rw);
    kl_buf_free(&pend);
    kl_buf_free(&out);
    kl_free(ops);
    ops = NULL;
    nops = ops_cap = 0;
}
