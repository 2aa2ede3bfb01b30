/* MULTI/EXEC/DISCARD/WATCH/UNWATCH (see multi.h for the semantics).
 *
 * Queued commands: one client's transaction is three growing arrays (the
 * commands, their arguments as offsets, and the argument bytes), so queuing
 * costs no allocation per command or argument once the arrays are warm. EXEC
 * builds the resp_arg_t vectors in one allocation.
 *
 * WATCH: per database, a dict of watched key -> the clients watching it
 * (wkey_t, an array), and per client the list of its watched keys pointing at
 * those dict entries (entries stay put until deleted), so UNWATCH and
 * disconnects cost O(watched keys x watchers per key) and a modification of
 * an unwatched key costs one lookup (none while nothing is watched at all).
 *
 * Thread: executor (every function here). */
#include "multi.h"

#include "cmd.h"
#include "db.h"
#include "dict.h"
#include "kl_alloc.h"
#include "reply.h"
#include "server.h"

#include <string.h>

/* ---------------------------------------------------------------- queued commands */

typedef struct mcmd {
    kl_command_t *cmd;
    uint32_t argc;
    uint32_t arg0; /* index of its first argument in multi_state.args */
} mcmd_t;

typedef struct marg {
    size_t off, len; /* bytes at multi_state.bytes + off, NUL-terminated */
} marg_t;

struct multi_state {
    mcmd_t *cmds;
    uint32_t ncmds, cmds_cap;
    marg_t *args;
    uint32_t nargs, args_cap;
    char *bytes;
    size_t nbytes, bytes_cap;
    uint32_t flags;     /* OR of the queued commands' flags */
    uint32_t inv_flags; /* OR of their inverted flags (Redis's cmd_inv_flags) */
};

static void mstate_free(struct multi_state *m) {
    if (!m) return;
    kl_free(m->cmds);
    kl_free(m->args);
    kl_free(m->bytes);
    kl_free(m);
}

void multi_queue(client_t *c, kl_command_t *cmd) {
    struct multi_state *m = c->mstate;
    if (!m) m = c->mstate = kl_calloc(1, sizeof(*m));
    if (m->ncmds == m->cmds_cap) {
        m->cmds_cap = m->cmds_cap ? m->cmds_cap * 2 : 8;
        m->cmds = kl_realloc(m->cmds, m->cmds_cap * sizeof(*m->cmds));
    }
    if (m->nargs + c->argc > m->args_cap) {
        uint32_t cap = m->args_cap ? m->args_cap * 2 : 32;
        while (cap < m->nargs + c->argc)
            cap *= 2;
        m->args_cap = cap;
        m->args = kl_realloc(m->args, cap * sizeof(*m->args));
    }
    size_t need = 0;
    for (uint32_t i = 0; i < c->argc; i++)
        need += c->argv[i].len + 1;
    if (m->nbytes + need > m->bytes_cap) {
        size_t cap = m->bytes_cap ? m->bytes_cap * 2 : 256;
        while (cap < m->nbytes + need)
            cap *= 2;
        m->bytes_cap = cap;
        m->bytes = kl_realloc(m->bytes, cap);
    }
    mcmd_t *q = &m->cmds[m->ncmds++];
    q->cmd = cmd;
    q->argc = c->argc;
    q->arg0 = m->nargs;
    for (uint32_t i = 0; i < c->argc; i++) {
        marg_t *a = &m->args[m->nargs++];
        a->off = m->nbytes;
        a->len = c->argv[i].len;
        memcpy(m->bytes + m->nbytes, c->argv[i].ptr, a->len);
        m->bytes[m->nbytes + a->len] = '\0';
        m->nbytes += a->len + 1;
    }
    m->flags |= cmd->flags;
    m->inv_flags |= ~cmd->flags;
    reply_simple(c, "QUEUED");
}

uint32_t multi_queued_flags(const client_t *c) {
    return c->mstate ? c->mstate->flags : 0;
}

bool multi_queued_denies_stale(const client_t *c) {
    return c->mstate && (c->mstate->inv_flags & CMD_STALE);
}

long multi_queued_count(const client_t *c) {
    if (!(c->flags & CF_MULTI)) return -1;
    return c->mstate ? (long)c->mstate->ncmds : 0;
}

size_t multi_queued_mem(const client_t *c) {
    const struct multi_state *m = c->mstate;
    if (!m) return 0;
    return m->bytes_cap + m->args_cap * sizeof(marg_t) + m->cmds_cap * sizeof(mcmd_t);
}

/* ---------------------------------------------------------------- WATCH tables */

typedef struct watcher {
    client_t *c;
    bool expired; /* the key had already expired when it was watched */
} watcher_t;

typedef struct wkey {
    uint32_t n, cap;
    watcher_t w[];
} wkey_t;

typedef struct wref {
    int db;
    dict_entry_t *e; /* in wdicts[db]: the key and its wkey_t */
} wref_t;

struct watch_state {
    uint32_t n, cap;
    wref_t *keys;
};

static void wkey_free(void *p) {
    kl_free(p);
}

static const dict_type_t wkey_type = {wkey_free};
static dict_t **wdicts; /* per database, created on the first WATCH */
static int nwdicts;
static size_t nwatched; /* (client, key) pairs over all databases */

static dict_t *wdict_for(int db) {
    if (!wdicts) {
        nwdicts = db_count();
        wdicts = kl_calloc((size_t)nwdicts, sizeof(*wdicts));
    }
    if (!wdicts[db]) wdicts[db] = dict_create(&wkey_type);
    return wdicts[db];
}

/* Redis's keyIsExpired: the key has a TTL that has passed (it may still be
 * stored, waiting for lazy or active expiry). */
static bool key_is_expired(kdb_t *db, const char *key, size_t klen) {
    int64_t when = db_get_expire(db, key, klen);
    return when >= 0 && when <= g_kv.mstime;
}

static watcher_t *watcher_of(wkey_t *wk, const client_t *c) {
    for (uint32_t i = 0; i < wk->n; i++)
        if (wk->w[i].c == c) return &wk->w[i];
    return NULL;
}

static void watch_key(client_t *c, kdb_t *db, const char *key, size_t klen) {
    struct watch_state *ws = c->wstate;
    if (ws) {
        for (uint32_t i = 0; i < ws->n; i++) {
            const dict_entry_t *e = ws->keys[i].e;
            if (ws->keys[i].db == db->id && dict_entry_klen(e) == klen &&
                memcmp(dict_entry_key(e), key, klen) == 0)
                return; /* already watched */
        }
    } else {
        ws = c->wstate = kl_calloc(1, sizeof(*ws));
    }
    dict_t *d = wdict_for(db->id);
    int existed;
    dict_entry_t *e = dict_add_or_find(d, key, klen, &existed);
    wkey_t *wk = existed ? dict_entry_val(e) : NULL;
    if (!wk) {
        wk = kl_malloc(sizeof(*wk) + 2 * sizeof(watcher_t));
        wk->n = 0;
        wk->cap = 2;
    } else if (wk->n == wk->cap) {
        wk->cap *= 2;
        wk = kl_realloc(wk, sizeof(*wk) + wk->cap * sizeof(watcher_t));
    }
    dict_entry_set_val(e, wk);
    wk->w[wk->n].c = c;
    wk->w[wk->n].expired = key_is_expired(db, key, klen);
    wk->n++;
    if (ws->n == ws->cap) {
        ws->cap = ws->cap ? ws->cap * 2 : 4;
        ws->keys = kl_realloc(ws->keys, ws->cap * sizeof(*ws->keys));
    }
    ws->keys[ws->n].db = db->id;
    ws->keys[ws->n].e = e;
    ws->n++;
    nwatched++;
}

static void unwatch_all(client_t *c) {
    struct watch_state *ws = c->wstate;
    if (!ws) return;
    for (uint32_t i = 0; i < ws->n; i++) {
        dict_entry_t *e = ws->keys[i].e;
        wkey_t *wk = dict_entry_val(e);
        for (uint32_t j = 0; j < wk->n; j++) {
            if (wk->w[j].c == c) {
                wk->w[j] = wk->w[--wk->n];
                break;
            }
        }
        if (wk->n == 0) dict_delete(wdicts[ws->keys[i].db], dict_entry_key(e), dict_entry_klen(e));
    }
    nwatched -= ws->n;
    kl_free(ws->keys);
    kl_free(ws);
    c->wstate = NULL;
}

/* Has a key c watches (and that was alive when watched) expired since? */
static bool watched_key_expired(client_t *c) {
    struct watch_state *ws = c->wstate;
    if (!ws) return false;
    for (uint32_t i = 0; i < ws->n; i++) {
        dict_entry_t *e = ws->keys[i].e;
        watcher_t *w = watcher_of(dict_entry_val(e), c);
        if (w && !w->expired &&
            key_is_expired(db_get(ws->keys[i].db), dict_entry_key(e), dict_entry_klen(e)))
            return true;
    }
    return false;
}

static void touch_key(kdb_t *db, const char *key, size_t klen, bool deleting) {
    if (!nwatched) return;
    dict_t *d = db->id < nwdicts ? wdicts[db->id] : NULL;
    if (!d || dict_size(d) == 0) return;
    dict_entry_t *e = dict_find(d, key, klen);
    if (!e) return;
    wkey_t *wk = dict_entry_val(e);
    for (uint32_t i = 0; i < wk->n; i++) {
        watcher_t *w = &wk->w[i];
        if (w->expired) {
            /* Deleting a key that had already expired when it was watched
             * changes nothing logically; a new value does. */
            if (deleting || !db_peek(db, key, klen)) {
                w->expired = false;
                continue;
            }
        }
        w->c->flags |= CF_DIRTY_CAS;
    }
}

void multi_touch_key(kdb_t *db, const char *key, size_t klen) {
    touch_key(db, key, klen, false);
}

void multi_touch_deleted(kdb_t *db, const char *key, size_t klen) {
    touch_key(db, key, klen, true);
}

void multi_touch_db(kdb_t *db, kdb_t *with) {
    if (!nwatched) return;
    dict_t *d = db->id < nwdicts ? wdicts[db->id] : NULL;
    if (!d || dict_size(d) == 0) return;
    dict_iter_t it;
    dict_iter_init(&it, d, 1);
    dict_entry_t *e;
    while ((e = dict_iter_next(&it)) != NULL) {
        const char *key = dict_entry_key(e);
        size_t klen = dict_entry_klen(e);
        bool in_db = dict_find(db->keys, key, klen) != NULL;
        bool in_with = with && dict_find(with->keys, key, klen) != NULL;
        if (!in_db && !in_with) continue;
        wkey_t *wk = dict_entry_val(e);
        for (uint32_t i = 0; i < wk->n; i++) {
            watcher_t *w = &wk->w[i];
            if (w->expired) {
                if (!in_with) {
                    w->expired = false; /* an expired key is gone: no logical change */
                    continue;
                }
                if (key_is_expired(with, key, klen)) continue; /* still expired */
            } else if (!in_db && key_is_expired(with, key, klen)) {
                /* A missing key replaced by an already expired one. */
                w->expired = true;
                continue;
            }
            w->c->flags |= CF_DIRTY_CAS;
        }
    }
    dict_iter_done(&it);
}

/* ---------------------------------------------------------------- transaction state */

/* Leave MULTI (EXEC done, DISCARD, RESET): forget the queue and the watches. */
static void discard_transaction(client_t *c) {
    mstate_free(c->mstate);
    c->mstate = NULL;
    c->flags &= ~(CF_MULTI | CF_DIRTY_CAS | CF_DIRTY_EXEC);
    unwatch_all(c);
}

void multi_client_reset(client_t *c) {
    discard_transaction(c);
}

void multi_exec_rejected(client_t *c, const char *reason) {
    discard_transaction(c);
    reply_errorf(c, "EXECABORT Transaction discarded because of: %s", reason);
}

void multi_free_all(void) {
    for (int i = 0; i < nwdicts; i++)
        if (wdicts[i]) dict_release(wdicts[i]);
    kl_free(wdicts);
    wdicts = NULL;
    nwdicts = 0;
    nwatched = 0;
}

/* ---------------------------------------------------------------- commands */

static void cmd_multi(client_t *c) {
    if (c->flags & CF_MULTI) {
        reply_error(c, "ERR MULTI calls can not be nested");
        return;
    }
    c->flags |= CF_MULTI;
    reply_ok(c);
}

static void cmd_exec(client_t *c) {
    if (!(c->flags & CF_MULTI)) {
        reply_error(c, "ERR EXEC without MULTI");
        return;
    }
    if (!(c->flags & CF_DIRTY_CAS) && watched_key_expired(c)) c->flags |= CF_DIRTY_CAS;
    if (c->flags & (CF_DIRTY_CAS | CF_DIRTY_EXEC)) {
        if (c->flags & CF_DIRTY_EXEC)
            reply_error(c, "EXECABORT Transaction discarded because of previous errors.");
        else
            reply_null_array(c);
        discard_transaction(c);
        return;
    }
    /* Our own writes must not break our own watches: unwatch first. */
    unwatch_all(c);
    struct multi_state *m = c->mstate;
    uint32_t n = m ? m->ncmds : 0;
    reply_array(c, n);
    if (n) {
        uint32_t orig_argc = c->argc;
        resp_arg_t *orig_argv = c->argv;
        const kl_command_t *orig_cmd = c->cmd;
        uint32_t had_deny = c->flags & CF_DENY_BLOCKING;
        resp_arg_t *argv = kl_malloc(m->nargs * sizeof(*argv));
        for (uint32_t i = 0; i < m->nargs; i++) {
            argv[i].ptr = m->bytes + m->args[i].off;
            argv[i].len = m->args[i].len;
        }
        c->flags |= CF_DENY_BLOCKING;
        for (uint32_t i = 0; i < n; i++) {
            c->argc = m->cmds[i].argc;
            c->argv = argv + m->cmds[i].arg0;
            c->cmd = m->cmds[i].cmd;
            cmd_call(c);
        }
        if (!had_deny) c->flags &= ~CF_DENY_BLOCKING;
        c->argc = orig_argc;
        c->argv = orig_argv;
        c->cmd = orig_cmd;
        kl_free(argv);
    }
    discard_transaction(c);
}

static void cmd_discard(client_t *c) {
    if (!(c->flags & CF_MULTI)) {
        reply_error(c, "ERR DISCARD without MULTI");
        return;
    }
    discard_transaction(c);
    reply_ok(c);
}

static void cmd_watch(client_t *c) {
    if (c->flags & CF_MULTI) {
        reply_error(c, "ERR WATCH inside MULTI is not allowed");
        return;
    }
    /* No point in watching more once EXEC is bound to fail. */
    if (!(c->flags & CF_DIRTY_CAS))
        for (uint32_t i = 1; i < c->argc; i++)
            watch_key(c, c->db, c->argv[i].ptr, c->argv[i].len);
    reply_ok(c);
}

static void cmd_unwatch(client_t *c) {
    unwatch_all(c);
    c->flags &= ~CF_DIRTY_CAS;
    reply_ok(c);
}

kl_command_t cmds_multi[] = {
    {
        .name = "multi",
        .proc = cmd_multi,
        .arity = 1,
        .flags = CMD_NOSCRIPT | CMD_LOADING | CMD_STALE | CMD_FAST | CMD_ALLOW_BUSY,
        .xflags = CMDX_TXN_IMMEDIATE,
        .group = "transactions",
        .since = "1.2.0",
        .summary = "Mark the start of a transaction block",
        .complexity = "O(1)",
        .acl_cats = "@fast @transaction",
    },
    {
        .name = "exec",
        .proc = cmd_exec,
        .arity = 1,
        .flags = CMD_NOSCRIPT | CMD_LOADING | CMD_STALE | CMD_SKIP_SLOWLOG,
        .xflags = CMDX_TXN_EXEC | CMDX_TXN_IMMEDIATE | CMDX_TXN_END,
        .group = "transactions",
        .since = "1.2.0",
        .summary = "Execute all commands issued after MULTI",
        .complexity = "Depends on commands in the transaction",
        .acl_cats = "@slow @transaction",
    },
    {
        .name = "discard",
        .proc = cmd_discard,
        .arity = 1,
        .flags = CMD_NOSCRIPT | CMD_LOADING | CMD_STALE | CMD_FAST | CMD_ALLOW_BUSY,
        .xflags = CMDX_TXN_IMMEDIATE | CMDX_TXN_END,
        .group = "transactions",
        .since = "2.0.0",
        .summary = "Discard all commands issued after MULTI",
        .complexity = "O(N), when N is the number of queued commands",
        .acl_cats = "@fast @transaction",
    },
    {
        .name = "watch",
        .proc = cmd_watch,
        .arity = -2,
        .flags = CMD_NOSCRIPT | CMD_LOADING | CMD_STALE | CMD_FAST | CMD_ALLOW_BUSY,
        .xflags = CMDX_TXN_IMMEDIATE,
        .keys = {.first = 1, .last = -1, .step = 1},
        .group = "transactions",
        .since = "2.2.0",
        .summary = "Watch the given keys to determine execution of the MULTI/EXEC block",
        .complexity = "O(1) for every key.",
        .acl_cats = "@fast @transaction",
    },
    {
        .name = "unwatch",
        .proc = cmd_unwatch,
        .arity = 1,
        .flags = CMD_NOSCRIPT | CMD_LOADING | CMD_STALE | CMD_FAST | CMD_ALLOW_BUSY,
        .group = "transactions",
        .since = "2.2.0",
        .summary = "Forget about all watched keys",
        .complexity = "O(1)",
        .acl_cats = "@fast @transaction",
    },
    {0},
};

bool multi_is_exec(const kl_command_t *cmd) {
    return (cmd->xflags & CMDX_TXN_EXEC) != 0;
}

bool multi_runs_immediately(const kl_command_t *cmd) {
    return (cmd->xflags & CMDX_TXN_IMMEDIATE) != 0;
}
