#include "reply.h"

#include "dict.h"
#include "cmd.h"
#include "config.h"
#include "exec.h"
#include "kl_alloc.h"
#include "kl_log.h"
#include "kl_util.h"
#include "object.h"
#include "server.h"

#include <ctype.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Replies are dropped for CLIENT REPLY OFF/SKIP. */
static inline bool muted(const client_t *c) {
    return (c->flags & (CF_REPLY_OFF | CF_REPLY_SKIP)) != 0;
}

static inline void put(client_t *c, const char *p, size_t n) {
    iol_reply_append(c->reply, p, n);
}

void reply_raw(client_t *c, const char *p, size_t n) {
    if (muted(c)) return;
    put(c, p, n);
}

/* "<prefix><number>\r\n" */
static void put_len(client_t *c, char prefix, long long n) {
    char *p = iol_reply_reserve(c->reply, 32);
    p[0] = prefix;
    int len = kl_ll_to_str(p + 1, 30, n);
    p[len + 1] = '\r';
    p[len + 2] = '\n';
    iol_reply_commit(c->reply, (size_t)len + 3);
}

void reply_simple(client_t *c, const char *s) {
    if (muted(c)) return;
    size_t n = strlen(s);
    char *p = iol_reply_reserve(c->reply, n + 3);
    p[0] = '+';
    memcpy(p + 1, s, n);
    p[n + 1] = '\r';
    p[n + 2] = '\n';
    iol_reply_commit(c->reply, n + 3);
}

void reply_ok(client_t *c) {
    if (muted(c)) return;
    put(c, "+OK\r\n", 5);
}

/* ---------------------------------------------------------------- errors */

static dict_t *errorstats;
static unsigned long long total_errors;

static void count_error(const char *msg) {
    total_errors++;
    size_t n = strcspn(msg, " ");
    if (n > 128) n = 128;
    if (!errorstats) {
        static const dict_type_t t = {NULL};
        errorstats = dict_create(&t);
    }
    /* Redis stops tracking new error codes past 128 distinct ones. */
    dict_entry_t *e = dict_find(errorstats, msg, n);
    if (!e) {
        if (dict_size(errorstats) >= 128) return;
        e = dict_add_or_find(errorstats, msg, n, NULL);
    }
    dict_entry_set_u64(e, dict_entry_get_u64(e) + 1);
}

/* Redis's afterErrorReply: an error replied to the master link, a replica or
 * the AOF loader means the two sides disagree about the data; log it and
 * count it in INFO unexpected_error_replies. */
static void unexpected_error(const client_t *c, const char *msg) {
    const char *from, *to;
    if (c->flags & CF_AOF_LOADER) {
        from = "server";
        to = "AOF-loading-client";
    } else if (c->flags & CF_MASTER) {
        from = "replica";
        to = "master";
    } else {
        from = "master";
        to = "replica";
    }
    kl_warning("== CRITICAL == This %s is sending an error to its %s: '%.4096s' after processing "
               "the command '%s'",
               from, to, msg, c->lastcmd ? c->lastcmd->name : "<unknown>");
    g_srv.stat.unexpected_error_replies++;
}

void reply_error(client_t *c, const char *msg) {
    count_error(msg);
    if (c->flags & (CF_MASTER | CF_REPLICA | CF_AOF_LOADER)) unexpected_error(c, msg);
    if (muted(c)) return;
    size_t n = strlen(msg);
    char *p = iol_reply_reserve(c->reply, n + 3);
    p[0] = '-';
    for (size_t i = 0; i < n; i++)
        p[i + 1] = (msg[i] == '\r' || msg[i] == '\n') ? ' ' : msg[i];
    p[n + 1] = '\r';
    p[n + 2] = '\n';
    iol_reply_commit(c->reply, n + 3);
}

void reply_errorf(client_t *c, const char *fmt, ...) {
    char buf[1024];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    if (n >= (int)sizeof(buf)) {
        char *big = kl_malloc((size_t)n + 1);
        va_start(ap, fmt);
        vsnprintf(big, (size_t)n + 1, fmt, ap);
        va_end(ap);
        reply_error(c, big);
        kl_free(big);
        return;
    }
    reply_error(c, buf);
}

void reply_errorstats_reset(void) {
    if (errorstats) dict_empty(errorstats);
    total_errors = 0;
}

void reply_errorstats_free(void) {
    if (errorstats) dict_release(errorstats);
    errorstats = NULL;
}

unsigned long long reply_total_errors(void) {
    return total_errors;
}

void reply_errorstats_info(kl_buf_t *out) {
    if (!errorstats) return;
    dict_iter_t it;
    dict_iter_init(&it, errorstats, 0);
    dict_entry_t *e;
    while ((e = dict_iter_next(&it)) != NULL) {
        kl_buf_appendf(out, "errorstat_%.*s:count=%llu\r\n", (int)dict_entry_klen(e),
                       dict_entry_key(e), (unsigned long long)dict_entry_get_u64(e));
    }
    dict_iter_done(&it);
}

void reply_wrongtype(client_t *c) {
    reply_error(c, "WRONGTYPE Operation against a key holding the wrong kind of value");
}

void reply_syntax_error(client_t *c) {
    reply_error(c, "ERR syntax error");
}

void reply_not_integer(client_t *c) {
    reply_error(c, "ERR value is not an integer or out of range");
}

void reply_subcommand_error(client_t *c) {
    char cmd[64];
    size_t n = c->argv[0].len < 63 ? c->argv[0].len : 63;
    for (size_t i = 0; i < n; i++)
        cmd[i] = (char)toupper((unsigned char)c->argv[0].ptr[i]);
    cmd[n] = '\0';
    reply_errorf(c, "ERR unknown subcommand '%.128s'. Try %s HELP.", c->argv[1].ptr, cmd);
}

/* ---------------------------------------------------------------- scalars */

void reply_int(client_t *c, long long v) {
    if (muted(c)) return;
    if (v >= 0 && v <= 9) {
        char s[4] = {':', (char)('0' + v), '\r', '\n'};
        put(c, s, 4);
        return;
    }
    put_len(c, ':', v);
}

void reply_bulk(client_t *c, const char *p, size_t n) {
    if (muted(c)) return;
    if (n <= 4096) {
        char *d = iol_reply_reserve(c->reply, n + 32);
        d[0] = '$';
        int len = kl_ll_to_str(d + 1, 30, (long long)n);
        size_t off = (size_t)len + 1;
        d[off++] = '\r';
        d[off++] = '\n';
        memcpy(d + off, p, n);
        off += n;
        d[off++] = '\r';
        d[off++] = '\n';
        iol_reply_commit(c->reply, off);
        return;
    }
    put_len(c, '$', (long long)n);
    put(c, p, n);
    put(c, "\r\n", 2);
}

void reply_bulk_cstr(client_t *c, const char *s) {
    if (!s)
        reply_null(c);
    else
        reply_bulk(c, s, strlen(s));
}

void reply_bulk_ll(client_t *c, long long v) {
    char buf[32];
    int n = kl_ll_to_str(buf, sizeof(buf), v);
    reply_bulk(c, buf, (size_t)n);
}

void reply_bulk_obj(client_t *c, const kobj_t *o) {
    char buf[32];
    size_t n;
    const char *p = obj_string_bytes(o, buf, &n);
    reply_bulk(c, p, n);
}

void reply_null(client_t *c) {
    if (muted(c)) return;
    if (c->resp >= 3)
        put(c, "_\r\n", 3);
    else
        put(c, "$-1\r\n", 5);
}

void reply_null_array(client_t *c) {
    if (muted(c)) return;
    if (c->resp >= 3)
        put(c, "_\r\n", 3);
    else
        put(c, "*-1\r\n", 5);
}

void reply_array(client_t *c, long n) {
    if (muted(c)) return;
    put_len(c, '*', n);
}

void reply_map(client_t *c, long n) {
    if (muted(c)) return;
    if (c->resp >= 3)
        put_len(c, '%', n);
    else
        put_len(c, '*', n * 2);
}

void reply_set(client_t *c, long n) {
    if (muted(c)) return;
    put_len(c, c->resp >= 3 ? '~' : '*', n);
}

void reply_push(client_t *c, long n) {
    if (muted(c)) return;
    put_len(c, c->resp >= 3 ? '>' : '*', n);
}

void reply_double(client_t *c, double d) {
    if (muted(c)) return;
    char buf[128];
    int n;
    if (d == 0 && signbit(d)) {
        /* Redis formats double replies with plain %.17g, which keeps the sign
         * of a negative zero (a skiplist-encoded ZSCORE of -0 is "-0"), while
         * kl_d_to_str follows d2string and prints "0". */
        if (c->resp >= 3)
            put(c, ",-0\r\n", 5);
        else
            reply_bulk(c, "-0", 2);
        return;
    }
    if (c->resp >= 3) {
        buf[0] = ',';
        if (isinf(d))
            n = snprintf(buf + 1, sizeof(buf) - 1, "%s", d > 0 ? "inf" : "-inf");
        else if (isnan(d))
            n = snprintf(buf + 1, sizeof(buf) - 1, "nan");
        else
            n = kl_d_to_str(buf + 1, sizeof(buf) - 3, d);
        buf[n + 1] = '\r';
        buf[n + 2] = '\n';
        put(c, buf, (size_t)n + 3);
        return;
    }
    n = kl_d_to_str(buf, sizeof(buf), d);
    reply_bulk(c, buf, (size_t)n);
}

void reply_bool(client_t *c, int b) {
    if (muted(c)) return;
    if (c->resp >= 3)
        put(c, b ? "#t\r\n" : "#f\r\n", 4);
    else
        put(c, b ? ":1\r\n" : ":0\r\n", 4);
}

void reply_verbatim(client_t *c, const char *p, size_t n, const char *ext) {
    if (muted(c)) return;
    if (c->resp < 3) {
        reply_bulk(c, p, n);
        return;
    }
    put_len(c, '=', (long long)n + 4);
    put(c, ext, 3);
    put(c, ":", 1);
    put(c, p, n);
    put(c, "\r\n", 2);
}

void reply_help(client_t *c, const char **lines) {
    char cmd[64];
    size_t n = c->argv[0].len < 63 ? c->argv[0].len : 63;
    for (size_t i = 0; i < n; i++)
        cmd[i] = (char)toupper((unsigned char)c->argv[0].ptr[i]);
    cmd[n] = '\0';
    long count = 0;
    while (lines[count])
        count++;
    reply_array(c, count + 3);
    char head[160];
    snprintf(head, sizeof(head),
             "%s <subcommand> [<arg> [value] [opt] ...]. Subcommands are:", cmd);
    reply_simple(c, head);
    for (long i = 0; i < count; i++)
        reply_simple(c, lines[i]);
    reply_simple(c, "HELP");
    reply_simple(c, "    Prints this help.");
}

/* ---------------------------------------------------------------- deferred */

reply_deferred_t reply_defer(client_t *c) {
    reply_deferred_t d = {NULL};
    if (muted(c)) return d;
    d.block = iol_reply_defer(c->reply);
    return d;
}

static void set_deferred(client_t *c, reply_deferred_t d, char prefix, long n) {
    if (!d.block) return;
    char buf[32];
    buf[0] = prefix;
    int len = kl_ll_to_str(buf + 1, 29, n);
    buf[len + 1] = '\r';
    buf[len + 2] = '\n';
    iol_reply_fill_deferred(c->reply, d.block, buf, (size_t)len + 3);
}

void reply_set_array_len(client_t *c, reply_deferred_t d, long n) {
    set_deferred(c, d, '*', n);
}

void reply_set_map_len(client_t *c, reply_deferred_t d, long n) {
    if (c->resp >= 3)
        set_deferred(c, d, '%', n);
    else
        set_deferred(c, d, '*', n * 2);
}

void reply_set_set_len(client_t *c, reply_deferred_t d, long n) {
    set_deferred(c, d, c->resp >= 3 ? '~' : '*', n);
}

#define REPLY_SINGLE_MAX (1024ULL * 1024 * 1024)

bool reply_too_big(client_t *c) {
    if (c->flags & CF_CLOSE_ASAP) return true;
    unsigned long long cap = g_cfg.client_output_buffer_limit[KL_OBUF_NORMAL].hard_bytes;
    if (!cap) cap = REPLY_SINGLE_MAX;
    if (c->reply->bytes <= cap) return false;
    kl_warning("Client id=%llu addr=%s closed: the reply of '%s' passed %llu bytes while it was "
               "being built.",
               (unsigned long long)c->id, iol_client_peer(c->io), c->cmd ? c->cmd->name : "?", cap);
    exec_client_kill(c, false);
    return true;
}
