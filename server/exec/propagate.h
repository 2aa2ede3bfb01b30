/* The write path: the one point every command passes after it ran, which
 * counts the changes it made (INFO rdb_changes_since_last_save, Redis's
 * server.dirty) and turns them into the command stream that an AOF or a
 * replica receives (Redis 7.0's call() / alsoPropagate() /
 * propagatePendingCommands()).
 *
 * How a command takes part:
 *   - prop_changes(n): it changed n things (SADD of 3 new members: 3). A call
 *     that reports changes is propagated as it was received, unless it
 *     rewrote its propagated form (prop_rewrite*) or prevented it.
 *   - prop_rewrite*(): propagate this instead of the command itself
 *     (EXPIRE -> PEXPIREAT, INCRBYFLOAT -> SET ... KEEPTTL, SPOP -> SREM).
 *   - prop_also(): an extra command, propagated before this one's own
 *     (SPOP with a count: one SREM per member, with prop_prevent()).
 *   - prop_force(targets): propagate even without changes (PUBLISH, FLUSHALL
 *     of an empty dataset).
 * Keys the server deletes on its own (lazy or active expiry, eviction) are
 * propagated as DEL, or UNLINK when lazyfree-lazy-expire /
 * lazyfree-lazy-eviction is on, in the order they were deleted.
 *
 * Execution units: everything propagated by one top-level call (a command,
 * an EXEC with its queued commands, the re-run of a blocked command) is
 * handed to the consumers when that call returns; when it is more than one
 * command it is wrapped in MULTI/EXEC (not for SCAN and RANDOMKEY, as Redis
 * 7.0.15). Active expiry and eviction emit each deletion on its own. Every
 * consumer gets a SELECT whenever the database of the next command differs
 * from the last one it was given.
 *
 * Cost: with no consumer registered a call gets no frame: it costs a depth
 * counter and a test, plus the dirty counter its command bumps; nothing is
 * encoded (prop_wanted() is false and every rewrite/also call returns at
 * once).
 *
 * Thread: executor (every function here). */
#ifndef KL_PROPAGATE_H
#define KL_PROPAGATE_H

#include "resp_parser.h"
#include "server.h" /* g_srv.dirty: the counter this module owns */

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Where a propagated command goes (Redis's PROPAGATE_AOF / PROPAGATE_REPL). */
enum prop_target {
    PROP_AOF = 1u << 0,
    PROP_REPL = 1u << 1,
    PROP_ALL = PROP_AOF | PROP_REPL,
};

/* One argument of a propagated command; the bytes are only read during the
 * call they are passed to. */
typedef struct prop_arg {
    const char *p;
    size_t len;
} prop_arg_t;

#define PROP_STR(lit) ((prop_arg_t){(lit), sizeof(lit) - 1})

static inline prop_arg_t prop_arg(const resp_arg_t *a) {
    return (prop_arg_t){a->ptr, a->len};
}

/* ---------------------------------------------------------------- consumers */

/* Receives the bytes of one execution unit (RESP multibulk commands, with
 * SELECT, MULTI and EXEC where needed). bytes is valid during the call only. */
typedef void (*prop_feed_fn)(void *arg, const char *bytes, size_t len);

typedef struct prop_consumer prop_consumer_t;

/* Register a stream consumer (an AOF, a replica's feed) for the given
 * targets (PROP_AOF, PROP_REPL or both). Its first command comes with a
 * SELECT. May be called from a feed callback; the new consumer sees the
 * next unit. */
prop_consumer_t *prop_consumer_add(unsigned targets, prop_feed_fn feed, void *arg);
/* Unregister and free pc; safe from inside any feed callback (pc gets
 * nothing more). */
void prop_consumer_remove(prop_consumer_t *pc);
/* The next command fed to pc starts with a SELECT (a new AOF file, a
 * replica that resynchronised). */
void prop_consumer_reset_db(prop_consumer_t *pc);
/* The database pc's stream last selected, -1 when its next command starts
 * with a SELECT (Redis's slaveseldb, for the RDB's repl-stream-db). */
int prop_consumer_db(const prop_consumer_t *pc);
/* Number of registered consumers. */
size_t prop_consumer_count(void);

struct kdb;
/* The keyspace deleted key because its TTL passed (on access or by active
 * expiry): propagated as DEL, or UNLINK with lazyfree-lazy-expire, inside
 * the running command's unit or, outside any command, at once. Call before
 * the key is gone. */
void prop_key_expired(struct kdb *db, const char *key, size_t klen);
/* Eviction deleted key: DEL, or UNLINK with lazyfree-lazy-eviction, emitted
 * at once as a unit of its own (Redis 7.0). */
void prop_key_evicted(struct kdb *db, const char *key, size_t klen);
/* Both are called by exec/keyevents.c from kv.h's expired/evicted hooks. */
/* Free the consumers and buffers (shutdown, tests). */
void prop_free_all(void);

/* ---------------------------------------------------------------- call frames */

/* A unit is recorded when a consumer is registered as its outermost call
 * starts; then every call of it (the commands EXEC runs too) gets a frame,
 * which lives on the caller's stack between prop_call_begin and
 * prop_call_end. Without a consumer no frame is made at all. */
enum prop_frame_flag {
    /* bits 0-1: targets forced by prop_force (PROP_AOF, PROP_REPL) */
    PROP__F_PREVENT = 1u << 4,   /* prop_prevent: the command itself is not propagated */
    PROP__F_REWRITTEN = 1u << 5, /* rw_off/rw_len hold the propagated form */
    PROP__F_ARBITRARY = 1u << 6, /* outermost call of SCAN/RANDOMKEY: no MULTI/EXEC wrap */
};

typedef struct prop_frame {
    struct prop_frame *prev;
    uint64_t changes; /* reported by prop_changes during this call */
    uint32_t flags;   /* enum prop_frame_flag */
    size_t rw_off;    /* this call's rewritten form in the rewrite buffer */
    size_t rw_len;
} prop_frame_t;

extern prop_frame_t *prop__cur; /* innermost frame; NULL: this unit is not recorded */
extern size_t prop__nconsumers;
extern uint32_t prop__depth; /* command calls in progress (nested under EXEC) */

void prop__call_begin(prop_frame_t *f, bool arbitrary_keys);
void prop__call_end(prop_frame_t *f, int dbid, const resp_arg_t *argv, uint32_t argc);

/* The executor starts a command call; returns whether it got a frame (pass
 * that to prop_call_end). arbitrary_keys: the command touches keys it does
 * not name (SCAN, RANDOMKEY); only the outermost call's flag counts, and
 * then the keys it expires are not wrapped in MULTI/EXEC. Inline: with no
 * consumer this test is the whole cost of a call's start. */
static inline bool prop_call_begin(prop_frame_t *f, bool arbitrary_keys) {
    bool framed = prop__depth++ == 0 ? prop__nconsumers != 0 : prop__cur != NULL;
    if (framed) prop__call_begin(f, arbitrary_keys);
    return framed;
}

/* True while a command call runs (any depth). */
static inline bool prop_in_call(void) {
    return prop__depth != 0;
}

/* The executor ends the call begun with f: queues its propagated form (argv
 * as received, or its rewrite) for database dbid when it reported changes or
 * forced it, and when f was the outermost call hands the execution unit to
 * the consumers. */
static inline void prop_call_end(bool framed, prop_frame_t *f, int dbid, const resp_arg_t *argv,
                                 uint32_t argc) {
    prop__depth--;
    if (framed) prop__call_end(f, dbid, argv, argc);
}

/* ---------------------------------------------------------------- what commands report */

/* The running command changed n things: Redis's server.dirty += n, the
 * only way the dirty counter (INFO rdb_changes_since_last_save) moves. A
 * call that reports changes is propagated. */
static inline void prop_changes(uint64_t n) {
    g_srv.dirty += n;
    if (prop__cur) prop__cur->changes += n;
}

/* True when what the running code propagates is recorded: callers may skip
 * building rewrite arguments otherwise. */
static inline bool prop_wanted(void) {
    return prop__cur != NULL || (prop__depth == 0 && prop__nconsumers != 0);
}

/* Propagate the running command as argv[0..argc) instead of itself
 * (Redis's rewriteClientCommandVector). A later rewrite replaces it. */
void prop_rewrite(const prop_arg_t *argv, uint32_t argc);

/* One argument substitution for prop_rewrite_args: argument idx becomes
 * with, or is dropped when with.p is NULL. */
typedef struct prop_subst {
    uint32_t idx;
    prop_arg_t with;
} prop_subst_t;

/* Propagate the running command as argv[0..argc) with the substitutions
 * applied (Redis's rewriteClientCommandArgument, and SET's GET removal). */
void prop_rewrite_args(const resp_arg_t *argv, uint32_t argc, const prop_subst_t *subst,
                       size_t nsubst);

/* Propagate argv in database dbid to AOF and replicas, before the running
 * command's own form (Redis's alsoPropagate). */
void prop_also(int dbid, const prop_arg_t *argv, uint32_t argc);

/* Propagate the running command to targets even if it reported no change
 * (Redis's forceCommandPropagation). */
void prop_force(unsigned targets);

/* Do not propagate the running command itself; what it passed to
 * prop_also() still goes (Redis's preventCommandPropagation). */
void prop_prevent(void);

/* Hand every queued command to the consumers now (eviction does this after
 * each key, as Redis does); normally the end of the outermost call does. */
void prop_flush(void);

#endif
