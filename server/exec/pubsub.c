/* Pub/Sub (SUBSCRIBE, PSUBSCRIBE, SSUBSCRIBE, their UNSUBSCRIBEs, PUBLISH,
 * SPUBLISH, PUBSUB) and keyspace notifications, with Redis 7.0's replies.
 *
 * Tables. Three server-wide dicts map a name to the list of subscribed
 * clients (an array, in subscription order): plain channels, patterns and
 * shard channels (SSUBSCRIBE; a separate namespace even without cluster, as
 * in Redis). A name is removed when its last subscriber leaves. Each
 * subscribed client has a ps_client_t in a side table keyed by client id: a
 * set of its channels, a set of its shard channels and its patterns in
 * subscription order (Redis 7.0 keeps patterns in a list, so PUNSUBSCRIBE
 * without arguments answers in that order). The per-client entries point at
 * the server-wide dict entries, which stay put until deleted, so leaving a
 * channel costs one lookup in the client's set and a scan of the channel's
 * subscriber array (Redis's documented O(N)).
 *
 * Delivery and ordering. A message for subscriber S is rendered once per
 * subscriber into S's protocol ('*' or '>'):
 *  - if the executor holds S (S itself is running the PUBLISH or a command
 *    that raised a keyspace event, or S's batch is parked), the bytes are
 *    appended to S's hand-off reply chain, after the replies of the commands
 *    S already ran and before those of the commands it runs next: the chain
 *    goes to the I/O thread as a whole, in order;
 *  - otherwise they go out with iol_client_push_reserve/commit: gathered
 *    for S during the executor's turn and handed over once per turn (one
 *    MSG_PUSH on the from_exec channel of S's I/O thread; pushes gathered
 *    before S's next batch runs or its parked batch is released are put in
 *    front of that batch's replies instead). That channel is FIFO (ring plus an overflow
 *    list that is drained before the ring takes anything new) and is the
 *    same one that carried the MSG_RETURN of every batch of S the executor
 *    finished before: exec_drain sends RETURN right after running the batch
 *    and iol_client_release sends it for a parked one. The I/O thread moves
 *    a returned chain to S's output queue (io_on_return -> io_collect) and
 *    appends a pushed chain to the same queue (io_push), behind anything
 *    still being written. In single-thread mode both happen synchronously
 *    on the one loop, in the same order.
 * Hence the reply of a SUBSCRIBE always reaches S before any message
 * published after it ran, and two messages reach S in the order the
 * executor produced them, so messages of one publisher arrive in publish
 * order. A message is never reordered against the replies of S's own
 * commands either. While S is not held the executor never touches its
 * reply chain, and while it is held nothing is pushed through the channel.
 *
 * Delivery never unsubscribes anyone under a publish: a subscriber that
 * fails or passes its output limit is closed by its I/O thread, and even in
 * single-thread mode conn_close() calls back on a later loop iteration, so
 * the executor's closed hook (which unsubscribes) runs after the publish.
 * The tables are therefore walked without safe iterators (debug builds
 * assert that nothing changes them meanwhile).
 *
 * Pushed messages are rendered straight into S's gathered push output
 * (blocks of up to 16 KB shared by consecutive messages: no allocation per
 * message). The pubsub class of client-output-buffer-limit is enforced at
 * the producer: a message that would take the output queued for S to the
 * hard limit kills S instead of being queued (iol_client_push_reserve), so a
 * subscriber that does not read costs at most its limit however fast the
 * publishers go; its I/O thread enforces the soft limit after each write.
 *
 * Thread: executor (every function here). */
#include "pubsub.h"

#include "cmd.h"
#include "exec.h"
#include "config.h"
#include "dict.h"
#include "kl_alloc.h"
#include "kl_util.h"
#include "notify.h"
#include "propagate.h"
#include "reply.h"
#include "server.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

/* ---------------------------------------------------------------- tables */

/* The subscribers of one channel or pattern, in subscription order. */
typedef struct ps_list {
    client_t **v;
    size_t n, cap;
} ps_list_t;

static void ps_list_free(void *p) {
    ps_list_t *l = p;
    kl_free(l->v);
    kl_free(l);
}

static const dict_type_t list_type = {ps_list_free};
static const dict_type_t set_type = {NULL};
static const dict_type_t pclient_type = {NULL};

/* One kind of subscription: its server table and the words of its replies. */
typedef struct ps_kind {
    dict_t *table;                 /* name -> ps_list_t*, created on first use */
    const char *sub, *unsub, *msg; /* "subscribe", "unsubscribe", "message" */
} ps_kind_t;

static ps_kind_t k_chan = {NULL, "subscribe", "unsubscribe", "message"};
static ps_kind_t k_pat = {NULL, "psubscribe", "punsubscribe", "pmessage"};
static ps_kind_t k_shard = {NULL, "ssubscribe", "sunsubscribe", "smessage"};

/* A subscribed client's own view. */
typedef struct ps_client {
    dict_t *channels;    /* channel -> its k_chan.table entry; NULL until needed */
    dict_t *shards;      /* shard channel -> its k_shard.table entry; NULL until needed */
    dict_entry_t **pats; /* k_pat.table entries, in subscription order */
    size_t npats, patcap;
} ps_client_t;

static dict_t *pclients; /* client id (8 bytes) -> ps_client_t* */

/* Debug builds check that no subscription changes while a message is being
 * delivered (delivery iterates the tables without a safe iterator). */
static int delivering;

static ps_client_t *pc_find(const client_t *c) {
    if (!pclients) return NULL;
    dict_entry_t *e = dict_find(pclients, (const char *)&c->id, sizeof(c->id));
    return e ? dict_entry_val(e) : NULL;
}

static ps_client_t *pc_get(client_t *c) {
    if (!pclients) pclients = dict_create(&pclient_type);
    int existed;
    dict_entry_t *e = dict_add_or_find(pclients, (const char *)&c->id, sizeof(c->id), &existed);
    if (!existed) dict_entry_set_val(e, kl_calloc(1, sizeof(ps_client_t)));
    return dict_entry_val(e);
}

static size_t pc_count(const ps_client_t *pc) {
    return (pc->channels ? dict_size(pc->channels) : 0) + pc->npats;
}

static size_t pc_shard_count(const ps_client_t *pc) {
    return pc->shards ? dict_size(pc->shards) : 0;
}

static void pc_free(client_t *c, ps_client_t *pc) {
    if (pc->channels) dict_release(pc->channels);
    if (pc->shards) dict_release(pc->shards);
    kl_free(pc->pats);
    kl_free(pc);
    dict_delete(pclients, (const char *)&c->id, sizeof(c->id));
}

/* The client entered pub/sub mode: type "pubsub", pubsub output class. */
static void enter_pubsub(client_t *c) {
    if (c->flags & CF_PUBSUB) return;
    c->flags |= CF_PUBSUB;
    iol_client_hand_clear(c->io, IOL_HAND_NORMAL);
    iol_client_hand(c->io, IOL_HAND_PUBSUB);
}

/* After an unsubscription: leave pub/sub mode when nothing is left. */
static void maybe_leave_pubsub(client_t *c, ps_client_t *pc, bool notify_io) {
    if (pc_count(pc) || pc_shard_count(pc)) return;
    pc_free(c, pc);
    c->flags &= ~CF_PUBSUB;
    if (notify_io) {
        iol_client_hand_clear(c->io, IOL_HAND_PUBSUB);
        iol_client_hand(c->io, IOL_HAND_NORMAL);
    }
}

/* Add c to the subscribers of name in kind's table; returns the table
 * entry. */
static dict_entry_t *table_add(ps_kind_t *k, const char *name, size_t len, client_t *c) {
    assert(!delivering);
    if (!k->table) k->table = dict_create(&list_type);
    int existed;
    dict_entry_t *e = dict_add_or_find(k->table, name, len, &existed);
    if (!existed) dict_entry_set_val(e, kl_calloc(1, sizeof(ps_list_t)));
    ps_list_t *l = dict_entry_val(e);
    if (l->n == l->cap) {
        l->cap = l->cap ? l->cap * 2 : 4;
        l->v = kl_realloc(l->v, l->cap * sizeof(*l->v));
    }
    l->v[l->n++] = c;
    return e;
}

/* Remove c from the subscribers of table entry e (deleting the entry when
 * it was the last one). */
static void table_remove(ps_kind_t *k, dict_entry_t *e, client_t *c) {
    assert(!delivering);
    ps_list_t *l = dict_entry_val(e);
    for (size_t i = 0; i < l->n; i++) {
        if (l->v[i] == c) {
            memmove(&l->v[i], &l->v[i + 1], (l->n - i - 1) * sizeof(*l->v));
            l->n--;
            break;
        }
    }
    if (l->n == 0) dict_delete(k->table, dict_entry_key(e), dict_entry_klen(e));
}

/* ---------------------------------------------------------------- replies */

/* Subscription confirmations are written straight into the hand-off chain:
 * like Redis 7.0, they reach the client even under CLIENT REPLY OFF/SKIP. */
static void put(client_t *c, const char *p, size_t n) {
    iol_reply_append(c->reply, p, n);
}

static void put_bulk(client_t *c, const char *p, size_t n) {
    char h[32];
    h[0] = '$';
    int l = kl_ull_to_str(h + 1, sizeof(h) - 3, n);
    h[l + 1] = '\r';
    h[l + 2] = '\n';
    put(c, h, (size_t)l + 3);
    put(c, p, n);
    put(c, "\r\n", 2);
}

/* [kind, name or nil, count] as a push (RESP3) or an array (RESP2). */
static void reply_subscription(client_t *c, const char *kind, const char *name, size_t len,
                               size_t count) {
    put(c, c->resp >= 3 ? ">3\r\n" : "*3\r\n", 4);
    put_bulk(c, kind, strlen(kind));
    if (name)
        put_bulk(c, name, len);
    else if (c->resp >= 3)
        put(c, "_\r\n", 3);
    else
        put(c, "$-1\r\n", 5);
    char h[32];
    h[0] = ':';
    int l = kl_ull_to_str(h + 1, sizeof(h) - 3, count);
    h[l + 1] = '\r';
    h[l + 2] = '\n';
    put(c, h, (size_t)l + 3);
}

/* ---------------------------------------------------------------- messages */

/* One message being delivered: the pieces every subscriber gets. */
typedef struct ps_msg {
    const char *kind; /* "message", "pmessage", "smessage" */
    size_t kindlen;
    const char *ch, *msg;
    size_t chlen, msglen;
    char chhdr[24], msghdr[24]; /* "$<len>\r\n" */
    size_t chhdrlen, msghdrlen;
} ps_msg_t;

static size_t bulk_hdr(char *h, size_t len) {
    h[0] = '$';
    int l = kl_ull_to_str(h + 1, 21, len);
    h[l + 1] = '\r';
    h[l + 2] = '\n';
    return (size_t)l + 3;
}

static void msg_init(ps_msg_t *m, const char *kind, const char *ch, size_t chlen, const char *msg,
                     size_t msglen) {
    m->kind = kind;
    m->kindlen = strlen(kind);
    m->ch = ch;
    m->chlen = chlen;
    m->msg = msg;
    m->msglen = msglen;
    m->chhdrlen = bulk_hdr(m->chhdr, chlen);
    m->msghdrlen = bulk_hdr(m->msghdr, msglen);
}

/* Bytes of the rendered message (same in RESP2 and RESP3). pat: the
 * matching pattern of a pmessage, else NULL. */
static size_t msg_size(const ps_msg_t *m, const char *pat, size_t patlen) {
    size_t n = 4 /* *3\r\n */ + 4 + m->kindlen + 2 /* $7\r\nmessage\r\n */ + m->chhdrlen +
               m->chlen + 2 + m->msghdrlen + m->msglen + 2;
    if (pat) {
        char h[24];
        n += bulk_hdr(h, patlen) + patlen + 2;
    }
    return n;
}

static char *wr(char *p, const void *s, size_t n) {
    memcpy(p, s, n);
    return p + n;
}

/* Render into p (msg_size bytes). */
static void msg_write(char *p, int resp, const ps_msg_t *m, const char *pat, size_t patlen) {
    *p++ = resp >= 3 ? '>' : '*';
    *p++ = pat ? '4' : '3';
    p = wr(p, "\r\n", 2);
    char h[24];
    p = wr(p, h, bulk_hdr(h, m->kindlen));
    p = wr(p, m->kind, m->kindlen);
    p = wr(p, "\r\n", 2);
    if (pat) {
        p = wr(p, h, bulk_hdr(h, patlen));
        p = wr(p, pat, patlen);
        p = wr(p, "\r\n", 2);
    }
    p = wr(p, m->chhdr, m->chhdrlen);
    p = wr(p, m->ch, m->chlen);
    p = wr(p, "\r\n", 2);
    p = wr(p, m->msghdr, m->msghdrlen);
    p = wr(p, m->msg, m->msglen);
    wr(p, "\r\n", 2);
}

/* Deliver one message to subscriber s (see the ordering note at the top). */
static void deliver(client_t *s, const ps_msg_t *m, const char *pat, size_t patlen) {
    /* Still counted as a receiver, as in Redis, but nothing goes out after
     * QUIT's reply or to a killed client. */
    if (s->flags & (CF_CLOSE_AFTER_REPLY | CF_CLOSE_ASAP)) return;
    size_t n = msg_size(m, pat, patlen);
    if (iol_client_held(s->io) && !(s->flags & (CF_BLOCKED | CF_PAUSED))) {
        char *p = iol_reply_reserve(s->reply, n);
        msg_write(p, s->resp, m, pat, patlen);
        iol_reply_commit(s->reply, n);
        return;
    }
    /* Gathered for S's I/O thread; NULL when S is being closed or this
     * message would take it to its output-buffer hard limit (then S is
     * killed there and the message dropped). */
    char *p = iol_client_push_reserve(s->io, n);
    if (!p) return;
    msg_write(p, s->resp, m, pat, patlen);
    iol_client_push_commit(s->io, n);
}

static long long deliver_list(const ps_list_t *l, const ps_msg_t *m, const char *pat,
                              size_t patlen) {
    for (size_t i = 0; i < l->n; i++)
        deliver(l->v[i], m, pat, patlen);
    return (long long)l->n;
}

long long pubsub_publish(const char *ch, size_t chlen, const char *msg, size_t msglen) {
    long long receivers = 0;
    ps_msg_t m;
    delivering++;
    if (k_chan.table && dict_size(k_chan.table)) {
        dict_entry_t *e = dict_find(k_chan.table, ch, chlen);
        if (e) {
            msg_init(&m, k_chan.msg, ch, chlen, msg, msglen);
            receivers += deliver_list(dict_entry_val(e), &m, NULL, 0);
        }
    }
    if (k_pat.table && dict_size(k_pat.table)) {
        msg_init(&m, k_pat.msg, ch, chlen, msg, msglen);
        dict_iter_t it;
        dict_iter_init(&it, k_pat.table, 0);
        dict_entry_t *e;
        while ((e = dict_iter_next(&it)) != NULL) {
            const char *pat = dict_entry_key(e);
            size_t patlen = dict_entry_klen(e);
            if (!kl_glob_match(pat, patlen, ch, chlen, 0)) continue;
            receivers += deliver_list(dict_entry_val(e), &m, pat, patlen);
        }
        dict_iter_done(&it);
    }
    delivering--;
    return receivers;
}

static long long pubsub_spublish(const char *ch, size_t chlen, const char *msg, size_t msglen) {
    if (!k_shard.table || !dict_size(k_shard.table)) return 0;
    dict_entry_t *e = dict_find(k_shard.table, ch, chlen);
    if (!e) return 0;
    ps_msg_t m;
    msg_init(&m, k_shard.msg, ch, chlen, msg, msglen);
    delivering++;
    long long n = deliver_list(dict_entry_val(e), &m, NULL, 0);
    delivering--;
    return n;
}

/* ---------------------------------------------------------------- subscribe / unsubscribe */

/* Channels and shard channels: the client's set is pc->channels or
 * pc->shards. Returns true if c was not subscribed yet. */
static bool set_subscribe(client_t *c, ps_kind_t *k, dict_t **set, const char *name, size_t len) {
    if (!*set) *set = dict_create(&set_type);
    int existed;
    dict_entry_t *mine = dict_add_or_find(*set, name, len, &existed);
    if (existed) return false;
    dict_entry_set_val(mine, table_add(k, name, len, c));
    return true;
}

static bool set_unsubscribe(client_t *c, ps_kind_t *k, dict_t *set, const char *name, size_t len) {
    if (!set) return false;
    dict_entry_t *mine = dict_find(set, name, len);
    if (!mine) return false;
    table_remove(k, dict_entry_val(mine), c);
    dict_delete(set, name, len);
    return true;
}

static bool pat_subscribe(client_t *c, ps_client_t *pc, const char *pat, size_t len) {
    for (size_t i = 0; i < pc->npats; i++) {
        dict_entry_t *e = pc->pats[i];
        if (dict_entry_klen(e) == len && memcmp(dict_entry_key(e), pat, len) == 0) return false;
    }
    if (pc->npats == pc->patcap) {
        pc->patcap = pc->patcap ? pc->patcap * 2 : 4;
        pc->pats = kl_realloc(pc->pats, pc->patcap * sizeof(*pc->pats));
    }
    pc->pats[pc->npats++] = table_add(&k_pat, pat, len, c);
    return true;
}

static void pat_remove_at(client_t *c, ps_client_t *pc, size_t i) {
    table_remove(&k_pat, pc->pats[i], c);
    memmove(&pc->pats[i], &pc->pats[i + 1], (pc->npats - i - 1) * sizeof(*pc->pats));
    pc->npats--;
}

static bool pat_unsubscribe(client_t *c, ps_client_t *pc, const char *pat, size_t len) {
    for (size_t i = 0; i < pc->npats; i++) {
        dict_entry_t *e = pc->pats[i];
        if (dict_entry_klen(e) == len && memcmp(dict_entry_key(e), pat, len) == 0) {
            pat_remove_at(c, pc, i);
            return true;
        }
    }
    return false;
}

static void cmd_subscribe(client_t *c) {
    ps_client_t *pc = pc_get(c);
    for (uint32_t j = 1; j < c->argc; j++) {
        const resp_arg_t *a = &c->argv[j];
        set_subscribe(c, &k_chan, &pc->channels, a->ptr, a->len);
        reply_subscription(c, k_chan.sub, a->ptr, a->len, pc_count(pc));
    }
    enter_pubsub(c);
}

static void cmd_ssubscribe(client_t *c) {
    ps_client_t *pc = pc_get(c);
    for (uint32_t j = 1; j < c->argc; j++) {
        const resp_arg_t *a = &c->argv[j];
        set_subscribe(c, &k_shard, &pc->shards, a->ptr, a->len);
        reply_subscription(c, k_shard.sub, a->ptr, a->len, pc_shard_count(pc));
    }
    enter_pubsub(c);
}

static void cmd_psubscribe(client_t *c) {
    ps_client_t *pc = pc_get(c);
    for (uint32_t j = 1; j < c->argc; j++) {
        const resp_arg_t *a = &c->argv[j];
        pat_subscribe(c, pc, a->ptr, a->len);
        reply_subscription(c, k_pat.sub, a->ptr, a->len, pc_count(pc));
    }
    enter_pubsub(c);
}

/* Leave every channel of one set, replying per channel when reply is set.
 * The set is emptied entry by entry with a safe iteration. */
static size_t set_unsubscribe_all(client_t *c, ps_client_t *pc, ps_kind_t *k, dict_t *set,
                                  bool reply) {
    if (!set) return 0;
    size_t n = 0;
    dict_iter_t it;
    dict_iter_init(&it, set, 1);
    dict_entry_t *e;
    while ((e = dict_iter_next(&it)) != NULL) {
        table_remove(k, dict_entry_val(e), c);
        if (reply) {
            /* The name lives in the set's entry: reply before deleting it. */
            size_t left = (k == &k_shard ? pc_shard_count(pc) : pc_count(pc)) - 1;
            reply_subscription(c, k->unsub, dict_entry_key(e), dict_entry_klen(e), left);
        }
        dict_delete(set, dict_entry_key(e), dict_entry_klen(e));
        n++;
    }
    dict_iter_done(&it);
    return n;
}

static void cmd_unsubscribe(client_t *c) {
    ps_client_t *pc = pc_find(c);
    if (c->argc == 1) {
        if (!pc || !set_unsubscribe_all(c, pc, &k_chan, pc->channels, true))
            reply_subscription(c, k_chan.unsub, NULL, 0, pc ? pc_count(pc) : 0);
    } else {
        for (uint32_t j = 1; j < c->argc; j++) {
            const resp_arg_t *a = &c->argv[j];
            if (pc) set_unsubscribe(c, &k_chan, pc->channels, a->ptr, a->len);
            reply_subscription(c, k_chan.unsub, a->ptr, a->len, pc ? pc_count(pc) : 0);
        }
    }
    if (pc) maybe_leave_pubsub(c, pc, true);
}

static void cmd_sunsubscribe(client_t *c) {
    ps_client_t *pc = pc_find(c);
    if (c->argc == 1) {
        if (!pc || !set_unsubscribe_all(c, pc, &k_shard, pc->shards, true))
            reply_subscription(c, k_shard.unsub, NULL, 0, pc ? pc_shard_count(pc) : 0);
    } else {
        for (uint32_t j = 1; j < c->argc; j++) {
            const resp_arg_t *a = &c->argv[j];
            if (pc) set_unsubscribe(c, &k_shard, pc->shards, a->ptr, a->len);
            reply_subscription(c, k_shard.unsub, a->ptr, a->len, pc ? pc_shard_count(pc) : 0);
        }
    }
    if (pc) maybe_leave_pubsub(c, pc, true);
}

static void cmd_punsubscribe(client_t *c) {
    ps_client_t *pc = pc_find(c);
    if (c->argc == 1) {
        if (!pc || pc->npats == 0) {
            reply_subscription(c, k_pat.unsub, NULL, 0, pc ? pc_count(pc) : 0);
        } else {
            /* Replies in subscription order, as Redis 7.0's pattern list;
             * all of them first, because a name lives in its table entry,
             * which goes away with its last subscriber. Then the removals
             * from the back, so leaving P patterns costs O(P), not the
             * O(P^2) of shifting the array down once per pattern. */
            size_t total = pc_count(pc);
            for (size_t i = 0; i < pc->npats; i++) {
                dict_entry_t *e = pc->pats[i];
                reply_subscription(c, k_pat.unsub, dict_entry_key(e), dict_entry_klen(e),
                                   total - 1 - i);
            }
            while (pc->npats)
                pat_remove_at(c, pc, pc->npats - 1);
        }
    } else {
        for (uint32_t j = 1; j < c->argc; j++) {
            const resp_arg_t *a = &c->argv[j];
            if (pc) pat_unsubscribe(c, pc, a->ptr, a->len);
            reply_subscription(c, k_pat.unsub, a->ptr, a->len, pc ? pc_count(pc) : 0);
        }
    }
    if (pc) maybe_leave_pubsub(c, pc, true);
}

void pubsub__unsubscribe_all(client_t *c, bool notify_io) {
    ps_client_t *pc = pc_find(c);
    if (!pc) {
        c->flags &= ~CF_PUBSUB;
        return;
    }
    set_unsubscribe_all(c, pc, &k_chan, pc->channels, false);
    set_unsubscribe_all(c, pc, &k_shard, pc->shards, false);
    while (pc->npats)
        pat_remove_at(c, pc, pc->npats - 1);
    maybe_leave_pubsub(c, pc, notify_io);
}

/* ---------------------------------------------------------------- PUBLISH, PUBSUB */

/* PUBLISH and SPUBLISH change nothing but still reach replicas (not the
 * AOF), so that their subscribers get the message too, as Redis does
 * outside cluster mode. */
static void cmd_publish(client_t *c) {
    long long n = pubsub_publish(c->argv[1].ptr, c->argv[1].len, c->argv[2].ptr, c->argv[2].len);
    if (!g_cfg.cluster_enabled) prop_force(PROP_REPL);
    reply_int(c, n);
}

static void cmd_spublish(client_t *c) {
    long long n = pubsub_spublish(c->argv[1].ptr, c->argv[1].len, c->argv[2].ptr, c->argv[2].len);
    if (!g_cfg.cluster_enabled) prop_force(PROP_REPL);
    reply_int(c, n);
}

/* CHANNELS / SHARDCHANNELS [pattern]. */
static void list_channels(client_t *c, dict_t *table) {
    if (c->argc > 3) {
        reply_errorf(c,
                     "ERR unknown subcommand or wrong number of arguments for '%.128s'. Try "
                     "PUBSUB HELP.",
                     c->argv[1].ptr);
        return;
    }
    const resp_arg_t *pat = c->argc == 3 ? &c->argv[2] : NULL;
    long n = 0;
    reply_deferred_t d = reply_defer(c);
    if (table) {
        dict_iter_t it;
        dict_iter_init(&it, table, 0);
        dict_entry_t *e;
        while ((e = dict_iter_next(&it)) != NULL) {
            const char *k = dict_entry_key(e);
            size_t kl = dict_entry_klen(e);
            if (pat && !kl_glob_match(pat->ptr, pat->len, k, kl, 0)) continue;
            reply_bulk(c, k, kl);
            n++;
        }
        dict_iter_done(&it);
    }
    reply_set_array_len(c, d, n);
}

/* NUMSUB / SHARDNUMSUB [name ...]: name, count pairs in a flat array (in
 * RESP3 too, as Redis 7.0). */
static void num_subscribers(client_t *c, dict_t *table) {
    reply_array(c, ((long)c->argc - 2) * 2);
    for (uint32_t j = 2; j < c->argc; j++) {
        dict_entry_t *e = table ? dict_find(table, c->argv[j].ptr, c->argv[j].len) : NULL;
        reply_bulk(c, c->argv[j].ptr, c->argv[j].len);
        reply_int(c, e ? (long long)((ps_list_t *)dict_entry_val(e))->n : 0);
    }
}

static void cmd_pubsub_channels(client_t *c) {
    list_channels(c, k_chan.table);
}

static void cmd_pubsub_shardchannels(client_t *c) {
    list_channels(c, k_shard.table);
}

static void cmd_pubsub_numsub(client_t *c) {
    num_subscribers(c, k_chan.table);
}

static void cmd_pubsub_shardnumsub(client_t *c) {
    num_subscribers(c, k_shard.table);
}

static void cmd_pubsub_numpat(client_t *c) {
    reply_int(c, (long long)pubsub_patterns_count());
}

static void cmd_pubsub_help(client_t *c) {
    static const char *help[] = {
        "CHANNELS [<pattern>]",
        "    Return the currently active channels matching a <pattern> (default: '*').",
        "NUMPAT",
        "    Return number of subscriptions to patterns.",
        "NUMSUB [<channel> ...]",
        "    Return the number of subscribers for the specified channels, excluding",
        "    pattern subscriptions(default: no channels).",
        "SHARDCHANNELS [<pattern>]",
        "    Return the currently active shard level channels matching a <pattern> (default: "
        "'*').",
        "SHARDNUMSUB [<shardchannel> ...]",
        "    Return the number of subscribers for the specified shard level channel(s)",
        NULL,
    };
    reply_help(c, help);
}

/* Only reached when the executor could not resolve a subcommand. */
static void cmd_pubsub(client_t *c) {
    reply_subcommand_error(c);
}

/* ---------------------------------------------------------------- hooks */

bool pubsub__check_context(client_t *c, kl_command_t *cmd) {
    if (cmd->xflags & CMDX_SUBSCRIBED_OK) return true;
    cmd->rejected_calls++;
    g_srv.stat.rejected_calls++;
    reply_errorf(c,
                 "ERR Can't execute '%s': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / "
                 "RESET are allowed in this context",
                 cmd->name);
    return false;
}

void pubsub_client_counts(const client_t *c, size_t *sub, size_t *psub, size_t *ssub) {
    const ps_client_t *pc = (c->flags & CF_PUBSUB) ? pc_find(c) : NULL;
    *sub = pc && pc->channels ? dict_size(pc->channels) : 0;
    *psub = pc ? pc->npats : 0;
    *ssub = pc ? pc_shard_count(pc) : 0;
}

size_t pubsub_channels_count(void) {
    return k_chan.table ? dict_size(k_chan.table) : 0;
}

size_t pubsub_patterns_count(void) {
    return k_pat.table ? dict_size(k_pat.table) : 0;
}

size_t pubsub_shard_channels_count(void) {
    return k_shard.table ? dict_size(k_shard.table) : 0;
}

/* ---------------------------------------------------------------- keyspace notifications */

/* Publish on "__<prefix>@<db>__:<suffix>" with payload msg. */
static void notify_publish(const char *prefix, int dbid, const char *suffix, size_t slen,
                           const char *msg, size_t msglen) {
    char stack[256];
    char head[48];
    int hl = snprintf(head, sizeof(head), "__%s@%d__:", prefix, dbid);
    size_t chlen = (size_t)hl + slen;
    char *ch = chlen <= sizeof(stack) ? stack : kl_malloc(chlen);
    memcpy(ch, head, (size_t)hl);
    memcpy(ch + hl, suffix, slen);
    pubsub_publish(ch, chlen, msg, msglen);
    if (ch != stack) kl_free(ch);
}

void notify__keyspace_event(int cls, const char *event, const char *key, size_t klen, int dbid) {
    int flags = g_cfg.notify_keyspace_events;
    /* notify_keyspace_event() (notify.h) tested the class already. */
    if (!(flags & cls)) return;
    /* Nobody listening: publishing would reach no one. */
    if (!pubsub_channels_count() && !pubsub_patterns_count()) return;
    size_t elen = strlen(event);
    if (flags & KL_NOTIFY_KEYSPACE) notify_publish("keyspace", dbid, key, klen, event, elen);
    if (flags & KL_NOTIFY_KEYEVENT) notify_publish("keyevent", dbid, event, elen, key, klen);
}

/* ---------------------------------------------------------------- table */

static kl_command_t pubsub_subs[] = {
    {
        .name = "pubsub|channels",
        .proc = cmd_pubsub_channels,
        .arity = -2,
        .flags = CMD_PUBSUB | CMD_LOADING | CMD_STALE,
        .group = "pubsub",
        .since = "2.8.0",
        .summary = "List active channels",
        .complexity =
            "O(N) where N is the number of active channels, and assuming constant time pattern "
            "matching (relatively short channels and patterns)",
        .acl_cats = "@pubsub @slow",
    },
    {
        .name = "pubsub|help",
        .proc = cmd_pubsub_help,
        .arity = 2,
        .flags = CMD_LOADING | CMD_STALE,
        .group = "pubsub",
        .since = "6.2.0",
        .summary = "Show helpful text about the different subcommands",
        .complexity = "O(1)",
        .acl_cats = "@slow",
    },
    {
        .name = "pubsub|numpat",
        .proc = cmd_pubsub_numpat,
        .arity = 2,
        .flags = CMD_PUBSUB | CMD_LOADING | CMD_STALE,
        .group = "pubsub",
        .since = "2.8.0",
        .summary = "Get the count of unique patterns pattern subscriptions",
        .complexity = "O(1)",
        .acl_cats = "@pubsub @slow",
    },
    {
        .name = "pubsub|numsub",
        .proc = cmd_pubsub_numsub,
        .arity = -2,
        .flags = CMD_PUBSUB | CMD_LOADING | CMD_STALE,
        .group = "pubsub",
        .since = "2.8.0",
        .summary = "Get the count of subscribers for channels",
        .complexity = "O(N) for the NUMSUB subcommand, where N is the number of requested channels",
        .acl_cats = "@pubsub @slow",
    },
    {
        .name = "pubsub|shardchannels",
        .proc = cmd_pubsub_shardchannels,
        .arity = -2,
        .flags = CMD_PUBSUB | CMD_LOADING | CMD_STALE,
        .group = "pubsub",
        .since = "7.0.0",
        .summary = "List active shard channels",
        .complexity =
            "O(N) where N is the number of active shard channels, and assuming constant time "
            "pattern matching (relatively short shard channels).",
        .acl_cats = "@pubsub @slow",
    },
    {
        .name = "pubsub|shardnumsub",
        .proc = cmd_pubsub_shardnumsub,
        .arity = -2,
        .flags = CMD_PUBSUB | CMD_LOADING | CMD_STALE,
        .group = "pubsub",
        .since = "7.0.0",
        .summary = "Get the count of subscribers for shard channels",
        .complexity = "O(N) for the SHARDNUMSUB subcommand, where N is the number of requested "
                      "shard channels",
        .acl_cats = "@pubsub @slow",
    },
    {0},
};

#define PS_SUBFLAGS (CMD_PUBSUB | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE)

kl_command_t cmds_pubsub[] = {
    {
        .name = "subscribe",
        .proc = cmd_subscribe,
        .arity = -2,
        .flags = PS_SUBFLAGS,
        .xflags = CMDX_SUBSCRIBED_OK,
        .group = "pubsub",
        .since = "2.0.0",
        .summary = "Listen for messages published to the given channels",
        .complexity = "O(N) where N is the number of channels to subscribe to.",
        .acl_cats = "@pubsub @slow",
    },
    {
        .name = "unsubscribe",
        .proc = cmd_unsubscribe,
        .arity = -1,
        .flags = PS_SUBFLAGS,
        .xflags = CMDX_SUBSCRIBED_OK,
        .group = "pubsub",
        .since = "2.0.0",
        .summary = "Stop listening for messages posted to the given channels",
        .complexity = "O(N) where N is the number of clients already subscribed to a channel.",
        .acl_cats = "@pubsub @slow",
    },
    {
        .name = "psubscribe",
        .proc = cmd_psubscribe,
        .arity = -2,
        .flags = PS_SUBFLAGS,
        .xflags = CMDX_SUBSCRIBED_OK,
        .group = "pubsub",
        .since = "2.0.0",
        .summary = "Listen for messages published to channels matching the given patterns",
        .complexity = "O(N) where N is the number of patterns the client is already subscribed to.",
        .acl_cats = "@pubsub @slow",
    },
    {
        .name = "punsubscribe",
        .proc = cmd_punsubscribe,
        .arity = -1,
        .flags = PS_SUBFLAGS,
        .xflags = CMDX_SUBSCRIBED_OK,
        .group = "pubsub",
        .since = "2.0.0",
        .summary = "Stop listening for messages posted to channels matching the given patterns",
        .complexity =
            "O(N+M) where N is the number of patterns the client is already subscribed and M is "
            "the number of total patterns subscribed in the system (by any client).",
        .acl_cats = "@pubsub @slow",
    },
    {
        .name = "publish",
        .proc = cmd_publish,
        .arity = 3,
        .flags = CMD_PUBSUB | CMD_LOADING | CMD_STALE | CMD_FAST,
        .group = "pubsub",
        .since = "2.0.0",
        .summary = "Post a message to a channel",
        .complexity =
            "O(N+M) where N is the number of clients subscribed to the receiving channel and M is "
            "the total number of subscribed patterns (by any client).",
        .acl_cats = "@pubsub @fast",
    },
    {
        .name = "ssubscribe",
        .proc = cmd_ssubscribe,
        .arity = -2,
        .flags = PS_SUBFLAGS,
        .xflags = CMDX_SUBSCRIBED_OK,
        .keys = {.first = 1, .last = -1, .step = 1},
        .group = "pubsub",
        .since = "7.0.0",
        .summary = "Listen for messages published to the given shard channels",
        .complexity = "O(N) where N is the number of shard channels to subscribe to.",
        .acl_cats = "@pubsub @slow",
    },
    {
        .name = "sunsubscribe",
        .proc = cmd_sunsubscribe,
        .arity = -1,
        .flags = PS_SUBFLAGS,
        .xflags = CMDX_SUBSCRIBED_OK,
        .keys = {.first = 1, .last = -1, .step = 1},
        .group = "pubsub",
        .since = "7.0.0",
        .summary = "Stop listening for messages posted to the given shard channels",
        .complexity =
            "O(N) where N is the number of clients already subscribed to a shard channel.",
        .acl_cats = "@pubsub @slow",
    },
    {
        .name = "spublish",
        .proc = cmd_spublish,
        .arity = 3,
        .flags = CMD_PUBSUB | CMD_LOADING | CMD_STALE | CMD_FAST,
        .keys = {.first = 1, .last = 1, .step = 1},
        .group = "pubsub",
        .since = "7.0.0",
        .summary = "Post a message to a shard channel",
        .complexity =
            "O(N) where N is the number of clients subscribed to the receiving shard channel.",
        .acl_cats = "@pubsub @fast",
    },
    {
        .name = "pubsub",
        .proc = cmd_pubsub,
        .arity = -2,
        .flags = 0,
        .group = "pubsub",
        .since = "2.8.0",
        .summary = "A container for Pub/Sub commands",
        .complexity = "Depends on subcommand.",
        .acl_cats = "@slow",
        .subcommands = pubsub_subs,
    },
    {0},
};
