/* Connection commands: PING ECHO HELLO AUTH QUIT RESET SELECT CLIENT. */
#include "cmd.h"

#include "blocking.h"
#include "config.h"
#include "db.h"
#include "exec.h"
#include "kl_alloc.h"
#include "kl_util.h"
#include "multi.h"
#include "pubsub.h"
#include "reply.h"
#include "server.h"
#include "kl_version.h"

#include <stdio.h>
#include <string.h>

static void cmd_ping(client_t *c) {
    if (c->argc > 2) {
        reply_errorf(c, "ERR wrong number of arguments for '%s' command", "ping");
        return;
    }
    if ((c->flags & CF_PUBSUB) && c->resp == 2) {
        /* RESP2 subscribed mode: a multi-bulk, like a message. */
        reply_array(c, 2);
        reply_bulk(c, "pong", 4);
        reply_bulk(c, c->argc == 2 ? c->argv[1].ptr : "", c->argc == 2 ? c->argv[1].len : 0);
        return;
    }
    if (c->argc == 1)
        reply_simple(c, "PONG");
    else
        reply_bulk(c, c->argv[1].ptr, c->argv[1].len);
}

static void cmd_echo(client_t *c) {
    reply_bulk(c, c->argv[1].ptr, c->argv[1].len);
}

/* Check a password for the default user (the only user keyloom has). */
static bool auth_check(client_t *c, const resp_arg_t *user, const resp_arg_t *pass) {
    if (user && strcmp(user->ptr, "default") != 0) return false;
    const char *rp = g_cfg.requirepass ? g_cfg.requirepass : "";
    if (!rp[0]) return true; /* nopass: any password works for default */
    size_t rl = strlen(rp);
    /* Constant-time comparison of equal-length strings. */
    if (rl != pass->len) return false;
    unsigned char diff = 0;
    for (size_t i = 0; i < rl; i++)
        diff |= (unsigned char)(rp[i] ^ pass->ptr[i]);
    return diff == 0;
}

static void cmd_auth(client_t *c) {
    if (c->argc > 3) {
        reply_syntax_error(c);
        return;
    }
    const resp_arg_t *user = c->argc == 3 ? &c->argv[1] : NULL;
    const resp_arg_t *pass = &c->argv[c->argc - 1];
    if (!user && !(g_cfg.requirepass && g_cfg.requirepass[0])) {
        reply_error(c, "ERR AUTH <password> called without any password configured for the "
                       "default user. Are you sure your configuration is correct?");
        return;
    }
    if (auth_check(c, user, pass)) {
        c->authenticated = true;
        iol_client_hand(c->io, IOL_HAND_AUTHENTICATED);
        reply_ok(c);
    } else {
        reply_error(c, "WRONGPASS invalid username-password pair or user is disabled.");
    }
}

static bool valid_client_name(const resp_arg_t *a) {
    for (size_t i = 0; i < a->len; i++) {
        unsigned char ch = (unsigned char)a->ptr[i];
        if (ch < '!' || ch > '~') return false;
    }
    return true;
}

static void set_client_name(client_t *c, const resp_arg_t *a) {
    kl_free(c->name);
    c->name = a->len ? kl_strndup(a->ptr, a->len) : NULL;
}

static void cmd_hello(client_t *c) {
    long long ver = 0;
    uint32_t next = 1;
    if (c->argc >= 2) {
        if (kl_str_to_ll(c->argv[1].ptr, c->argv[1].len, &ver)) {
            reply_error(c, "ERR Protocol version is not an integer or out of range");
            return;
        }
        next = 2;
        if (ver < 2 || ver > 3) {
            reply_error(c, "NOPROTO unsupported protocol version");
            return;
        }
    }
    const resp_arg_t *user = NULL, *pass = NULL, *name = NULL;
    for (uint32_t i = next; i < c->argc; i++) {
        uint32_t left = c->argc - i - 1;
        if (arg_is(&c->argv[i], "auth") && left >= 2) {
            user = &c->argv[i + 1];
            pass = &c->argv[i + 2];
            i += 2;
        } else if (arg_is(&c->argv[i], "setname") && left >= 1) {
            name = &c->argv[i + 1];
            i += 1;
        } else {
            reply_errorf(c, "ERR Syntax error in HELLO option '%s'", c->argv[i].ptr);
            return;
        }
    }
    if (user) {
        if (!auth_check(c, user, pass)) {
            reply_error(c, "WRONGPASS invalid username-password pair or user is disabled.");
            return;
        }
        c->authenticated = true;
        iol_client_hand(c->io, IOL_HAND_AUTHENTICATED);
    }
    if (!c->authenticated) {
        reply_error(c, "NOAUTH HELLO must be called with the client already authenticated, "
                       "otherwise the HELLO AUTH <user> <pass> option can be used to "
                       "authenticate the client and select the RESP protocol version at the "
                       "same time");
        return;
    }
    if (name) {
        if (!valid_client_name(name)) {
            reply_error(c,
                        "ERR Client names cannot contain spaces, newlines or special characters.");
            return;
        }
        set_client_name(c, name);
    }
    if (ver) c->resp = (int)ver;
    reply_map(c, 7);
    reply_bulk_cstr(c, "server");
    reply_bulk_cstr(c, "redis");
    reply_bulk_cstr(c, "version");
    reply_bulk_cstr(c, KEYLOOM_REDIS_VERSION);
    reply_bulk_cstr(c, "proto");
    reply_int(c, c->resp);
    reply_bulk_cstr(c, "id");
    reply_int(c, (long long)c->id);
    reply_bulk_cstr(c, "mode");
    reply_bulk_cstr(c, "standalone");
    reply_bulk_cstr(c, "role");
    reply_bulk_cstr(c, "master");
    reply_bulk_cstr(c, "modules");
    reply_array(c, 0);
}

static void cmd_quit(client_t *c) {
    reply_ok(c);
    c->flags |= CF_CLOSE_AFTER_REPLY;
    iol_client_hand(c->io, IOL_HAND_CLOSE_AFTER_REPLY);
}

static void cmd_reset(client_t *c) {
    c->db_id = 0;
    c->db = db_get(0);
    c->resp = 2;
    kl_free(c->name);
    c->name = NULL;
    c->flags &= ~(CF_REPLY_OFF | CF_REPLY_SKIP | CF_REPLY_SKIP_NEXT | CF_NO_EVICT | CF_NO_TOUCH);
    if (c->flags & CF_MONITOR) {
        /* Leaving monitor mode: handled by the executor registry. */
        c->flags &= ~CF_MONITOR;
        exec_monitor_remove(c);
    }
    pubsub_client_reset(c); /* leaves every subscription without replies */
    multi_client_reset(c);  /* discards MULTI, forgets WATCHed keys */
    c->authenticated = !(g_cfg.requirepass && g_cfg.requirepass[0]);
    iol_client_hand(c->io, c->authenticated ? IOL_HAND_AUTHENTICATED : IOL_HAND_UNAUTHENTICATED);
    reply_simple(c, "RESET");
}

static void cmd_select(client_t *c) {
    long long id;
    if (kl_str_to_ll(c->argv[1].ptr, c->argv[1].len, &id) || id < INT32_MIN || id > INT32_MAX) {
        reply_not_integer(c);
        return;
    }
    kdb_t *db = db_get((int)id);
    if (!db) {
        reply_error(c, "ERR DB index is out of range");
        return;
    }
    c->db_id = (int)id;
    c->db = db;
    reply_ok(c);
}

/* ---------------------------------------------------------------- CLIENT */

static const char *client_flags_str(const client_t *c, char *buf) {
    char *p = buf;
    if (c->flags & CF_MONITOR)
        *p++ = 'O';
    else if (c->flags & CF_REPLICA)
        *p++ = 'S';
    if (c->flags & CF_MASTER) *p++ = 'M';
    if (c->flags & CF_PUBSUB) *p++ = 'P';
    if (c->flags & CF_MULTI) *p++ = 'x';
    if (c->flags & (CF_BLOCKED | CF_PAUSED)) *p++ = 'b';
    if (c->flags & CF_DIRTY_CAS) *p++ = 'd';
    if (c->flags & CF_CLOSE_AFTER_REPLY) *p++ = 'c';
    if (c->flags & (CF_CLOSE_ASAP)) *p++ = 'A';
    if (iol_client_kind(c->io) == CONN_KIND_UNIX) *p++ = 'U';
    if (c->flags & CF_NO_EVICT) *p++ = 'e';
    if (c->flags & CF_NO_TOUCH) *p++ = 'T';
    if (p == buf) *p++ = 'N';
    *p = '\0';
    return buf;
}

/* One CLIENT LIST / CLIENT INFO line of c into b. */
static void client_info_line(client_t *c, kl_buf_t *b) {
    char flags[16];
    int64_t now = g_kv.mstime;
    int64_t last = iol_client_last_io_ms(c->io);
    client_qbuf_t q = client_qbuf(c);
    size_t obuf = client_obuf(c);
    size_t rbs = iol_client_rbuf_size(c->io);
    size_t rbp = iol_client_rbuf_peak(c->io);
    uint8_t ev = iol_client_events(c->io);
    char events[3], *e = events;
    if (ev & IOL_EV_READ) *e++ = 'r';
    if (ev & IOL_EV_WRITE) *e++ = 'w';
    *e = '\0';
    const char *cmd = c->lastcmd ? c->lastcmd->name : "NULL";
    size_t sub, psub, ssub;
    pubsub_client_counts(c, &sub, &psub, &ssub);
    /* The command being run is reported for the client itself. */
    if (iol_client_held(c->io) && c->cmd) cmd = c->cmd->name;
    kl_buf_appendf(
        b,
        "id=%llu addr=%s laddr=%s fd=%d name=%s age=%lld idle=%lld flags=%s db=%d "
        "sub=%zu psub=%zu ssub=%zu multi=%ld qbuf=%zu qbuf-free=%zu argv-mem=%zu multi-mem=%zu "
        "rbs=%zu rbp=%zu obl=0 oll=0 omem=%zu tot-mem=%zu events=%s cmd=%s user=default "
        "redir=-1 resp=%d",
        (unsigned long long)c->id, iol_client_peer(c->io), iol_client_local(c->io),
        iol_client_fd(c->io), c->name ? c->name : "",
        (long long)((now - iol_client_ctime_ms(c->io)) / 1000), (long long)((now - last) / 1000),
        client_flags_str(c, flags), c->db_id, sub, psub, ssub, multi_queued_count(c), q.qbuf,
        q.room, q.argv, multi_queued_mem(c), rbs, rbp > rbs ? rbp : rbs, obuf, client_memory(c),
        events, cmd, c->resp);
}

static void reply_client_list(client_t *c, const char *type, resp_arg_t *ids, uint32_t nids) {
    kl_buf_t b = {0};
    for (client_t *x = clients_first(); x; x = x->next) {
        if (type && strcasecmp(type, client_type_name(x)) != 0) continue;
        if (nids) {
            bool match = false;
            for (uint32_t i = 0; i < nids; i++) {
                unsigned long long id;
                if (kl_str_to_ull(ids[i].ptr, ids[i].len, &id) == 0 && id == x->id) match = true;
            }
            if (!match) continue;
        }
        client_info_line(x, &b);
        kl_buf_append(&b, "\n", 1);
    }
    reply_verbatim(c, b.p ? b.p : "", b.len, "txt");
    kl_buf_free(&b);
}

static bool valid_client_type(const char *t) {
    return !strcasecmp(t, "normal") || !strcasecmp(t, "master") || !strcasecmp(t, "replica") ||
           !strcasecmp(t, "slave") || !strcasecmp(t, "pubsub");
}

static const char *canonical_type(const char *t) {
    if (!strcasecmp(t, "slave")) return "replica";
    return t;
}

static void client_kill(client_t *c) {
    if (c->argc == 3) {
        /* Old form: CLIENT KILL addr:port */
        for (client_t *x = clients_first(); x; x = x->next) {
            if (strcmp(iol_client_peer(x->io), c->argv[2].ptr) == 0) {
                exec_client_kill(x, x == c);
                reply_ok(c);
                return;
            }
        }
        reply_error(c, "ERR No such client");
        return;
    }
    if (c->argc % 2 != 0) {
        reply_syntax_error(c);
        return;
    }
    unsigned long long id = 0;
    bool have_id = false, skipme = true;
    const char *addr = NULL, *laddr = NULL, *type = NULL, *user = NULL;
    long long maxage = 0;
    for (uint32_t i = 2; i < c->argc; i += 2) {
        resp_arg_t *k = &c->argv[i], *v = &c->argv[i + 1];
        if (arg_is(k, "id")) {
            if (kl_str_to_ull(v->ptr, v->len, &id) || id == 0) {
                reply_error(c, "ERR client-id should be greater than 0");
                return;
            }
            have_id = true;
        } else if (arg_is(k, "type")) {
            if (!valid_client_type(v->ptr)) {
                reply_errorf(c, "ERR Unknown client type '%s'", v->ptr);
                return;
            }
            type = canonical_type(v->ptr);
        } else if (arg_is(k, "addr")) {
            addr = v->ptr;
        } else if (arg_is(k, "laddr")) {
            laddr = v->ptr;
        } else if (arg_is(k, "user")) {
            user = v->ptr;
        } else if (arg_is(k, "skipme")) {
            if (arg_is(v, "yes"))
                skipme = true;
            else if (arg_is(v, "no"))
                skipme = false;
            else {
                reply_syntax_error(c);
                return;
            }
        } else if (arg_is(k, "maxage")) {
            if (kl_str_to_ll(v->ptr, v->len, &maxage) || maxage <= 0) {
                reply_syntax_error(c);
                return;
            }
        } else {
            reply_syntax_error(c);
            return;
        }
    }
    if (user && strcmp(user, "default") != 0) {
        reply_errorf(c, "ERR No such user '%s'", user);
        return;
    }
    long long killed = 0;
    client_t *next;
    for (client_t *x = clients_first(); x; x = next) {
        next = x->next;
        if (have_id && x->id != id) continue;
        if (addr && strcmp(iol_client_peer(x->io), addr) != 0) continue;
        if (laddr && strcmp(iol_client_local(x->io), laddr) != 0) continue;
        if (type && strcasecmp(type, client_type_name(x)) != 0) continue;
        if (maxage && (g_kv.mstime - iol_client_ctime_ms(x->io)) / 1000 < maxage) continue;
        if (x == c && skipme) continue;
        if (x->flags & CF_CLOSE_ASAP) continue;
        exec_client_kill(x, x == c);
        killed++;
    }
    /* Our master's client is not in the registry (exec_kill_master). */
    if (type && !strcasecmp(type, "master") && !have_id && !addr && !laddr && !maxage &&
        exec_kill_master())
        killed++;
    reply_int(c, killed);
}

static void cmd_client(client_t *c) {
    const resp_arg_t *sub = &c->argv[1];
    if (c->argc == 2 && arg_is(sub, "help")) {
        static const char *help[] = {
            "CACHING (YES|NO)",
            "    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.",
            "GETREDIR",
            "    Return the client ID we are redirecting to when tracking is enabled.",
            "GETNAME",
            "    Return the name of the current connection.",
            "ID",
            "    Return the ID of the current connection.",
            "INFO",
            "    Return information about the current client connection.",
            "KILL <ip:port>",
            "    Kill connection made from <ip:port>.",
            "KILL <option> <value> [<option> <value> [...]]",
            "    Kill connections. Options are:",
            "    * ADDR (<ip:port>|<unixsocket>:0)",
            "      Kill connections made from the specified address",
            "    * LADDR (<ip:port>|<unixsocket>:0)",
            "      Kill connections made to specified local address",
            "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
            "      Kill connections by type.",
            "    * USER <username>",
            "      Kill connections authenticated by <username>.",
            "    * SKIPME (YES|NO)",
            "      Skip killing current connection (default: yes).",
            "    * ID <client-id>",
            "      Kill connections by client id.",
            "    * MAXAGE <maxage>",
            "      Kill connections older than the specified age.",
            "LIST [options ...]",
            "    Return information about client connections. Options:",
            "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
            "      Return clients of specified type.",
            "UNPAUSE",
            "    Stop the current client pause, resuming traffic.",
            "PAUSE <timeout> [WRITE|ALL]",
            "    Suspend all, or just write, clients for <timeout> milliseconds.",
            "REPLY (ON|OFF|SKIP)",
            "    Control the replies sent to the current connection.",
            "SETNAME <name>",
            "    Assign the name <name> to the current connection.",
            "UNBLOCK <clientid> [TIMEOUT|ERROR]",
            "    Unblock the specified blocked client.",
            "NO-EVICT (ON|OFF)",
            "    Protect current client connection from eviction.",
            NULL};
        reply_help(c, help);
    } else if (c->argc == 2 && arg_is(sub, "id")) {
        reply_int(c, (long long)c->id);
    } else if (c->argc == 2 && arg_is(sub, "info")) {
        kl_buf_t b = {0};
        client_info_line(c, &b);
        kl_buf_append(&b, "\n", 1);
        reply_verbatim(c, b.p, b.len, "txt");
        kl_buf_free(&b);
    } else if (arg_is(sub, "list")) {
        if (c->argc == 2) {
            reply_client_list(c, NULL, NULL, 0);
        } else if (c->argc == 4 && arg_is(&c->argv[2], "type")) {
            if (!valid_client_type(c->argv[3].ptr)) {
                reply_errorf(c, "ERR Unknown client type '%s'", c->argv[3].ptr);
                return;
            }
            reply_client_list(c, canonical_type(c->argv[3].ptr), NULL, 0);
        } else if (c->argc >= 4 && arg_is(&c->argv[2], "id")) {
            for (uint32_t i = 3; i < c->argc; i++) {
                long long v;
                if (kl_str_to_ll(c->argv[i].ptr, c->argv[i].len, &v) || v <= 0) {
                    reply_error(c, "ERR Invalid client ID");
                    return;
                }
            }
            reply_client_list(c, NULL, &c->argv[3], c->argc - 3);
        } else {
            reply_syntax_error(c);
        }
    } else if (c->argc == 3 && arg_is(sub, "setname")) {
        if (!valid_client_name(&c->argv[2])) {
            reply_error(c,
                        "ERR Client names cannot contain spaces, newlines or special characters.");
            return;
        }
        set_client_name(c, &c->argv[2]);
        reply_ok(c);
    } else if (c->argc == 2 && arg_is(sub, "getname")) {
        reply_bulk_cstr(c, c->name);
    } else if (c->argc >= 3 && arg_is(sub, "kill")) {
        client_kill(c);
    } else if (c->argc == 3 && arg_is(sub, "reply")) {
        if (arg_is(&c->argv[2], "on")) {
            c->flags &= ~(CF_REPLY_SKIP | CF_REPLY_OFF | CF_REPLY_SKIP_NEXT);
            reply_ok(c);
        } else if (arg_is(&c->argv[2], "off")) {
            c->flags |= CF_REPLY_OFF;
        } else if (arg_is(&c->argv[2], "skip")) {
            if (!(c->flags & CF_REPLY_OFF)) c->flags |= CF_REPLY_SKIP_NEXT;
        } else {
            reply_syntax_error(c);
        }
    } else if (c->argc == 3 && arg_is(sub, "no-evict")) {
        if (arg_is(&c->argv[2], "on")) {
            c->flags |= CF_NO_EVICT;
            reply_ok(c);
        } else if (arg_is(&c->argv[2], "off")) {
            c->flags &= ~CF_NO_EVICT;
            reply_ok(c);
        } else {
            reply_syntax_error(c);
        }
    } else if ((c->argc == 3 || c->argc == 4) && arg_is(sub, "pause")) {
        long long ms;
        if (kl_str_to_ll(c->argv[2].ptr, c->argv[2].len, &ms)) {
            reply_error(c, "ERR timeout is not an integer or out of range");
            return;
        }
        if (ms < 0) {
            reply_error(c, "ERR timeout is negative");
            return;
        }
        bool all = true;
        if (c->argc == 4) {
            if (arg_is(&c->argv[3], "write"))
                all = false;
            else if (!arg_is(&c->argv[3], "all")) {
                reply_error(c, "ERR CLIENT PAUSE mode must be WRITE or ALL");
                return;
            }
        }
        exec_pause_until(g_kv.mstime + ms, all);
        reply_ok(c);
    } else if (arg_is(sub, "unblock") && (c->argc == 3 || c->argc == 4)) {
        long long id;
        if (arg_ll(c, &c->argv[2], &id) != 0) return;
        bool error = false;
        if (c->argc == 4) {
            if (arg_is(&c->argv[3], "error")) {
                error = true;
            } else if (!arg_is(&c->argv[3], "timeout")) {
                reply_error(c, "ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR");
                return;
            }
        }
        client_t *target = id > 0 ? client_by_id((uint64_t)id) : NULL;
        reply_int(c, target && block_unblock_client(target, error) ? 1 : 0);
    } else if (arg_is(sub, "unblock")) {
        reply_errorf(c,
                     "ERR unknown subcommand or wrong number of arguments for '%.128s'. Try "
                     "CLIENT HELP.",
                     sub->ptr);
    } else if (c->argc == 2 && arg_is(sub, "unpause")) {
        exec_unpause();
        reply_ok(c);
    } else {
        reply_subcommand_error(c);
    }
}

static kl_command_t client_subs[] = {
    {
        .name = "client|"
                "help",
        .proc = cmd_client,
        .arity = 2,
        .flags = CMD_LOADING | CMD_STALE,
        .group = "connection",
        .since = "2.4.0",
        .summary = "Returns helpful text about the different subcommands.",
        .complexity = "O(1)",
        .acl_cats = "@slow @connection",
    },
    {
        .name = "client|"
                "id",
        .proc = cmd_client,
        .arity = 2,
        .flags = CMD_NOSCRIPT | CMD_LOADING | CMD_STALE,
        .group = "connection",
        .since = "2.4.0",
        .summary = "Returns the unique client ID of the connection.",
        .complexity = "O(1)",
        .acl_cats = "@slow @connection",
    },
    {
        .name = "client|"
                "info",
        .proc = cmd_client,
        .arity = 2,
        .flags = CMD_NOSCRIPT | CMD_LOADING | CMD_STALE,
        .group = "connection",
        .since = "2.4.0",
        .summary = "Returns information about the connection.",
        .complexity = "O(1)",
        .acl_cats = "@slow @connection",
    },
    {
        .name = "client|"
                "list",
        .proc = cmd_client,
        .arity = -2,
        .flags = CMD_ADMIN | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE,
        .group = "connection",
        .since = "2.4.0",
        .summary = "Lists open connections.",
        .complexity = "O(1)",
        .acl_cats = "@slow @connection",
    },
    {
        .name = "client|"
                "setname",
        .proc = cmd_client,
        .arity = 3,
        .flags = CMD_NOSCRIPT | CMD_LOADING | CMD_STALE,
        .group = "connection",
        .since = "2.4.0",
        .summary = "Sets the connection name.",
        .complexity = "O(1)",
        .acl_cats = "@slow @connection",
    },
    {
        .name = "client|"
                "getname",
        .proc = cmd_client,
        .arity = 2,
        .flags = CMD_NOSCRIPT | CMD_LOADING | CMD_STALE,
        .group = "connection",
        .since = "2.4.0",
        .summary = "Returns the name of the connection.",
        .complexity = "O(1)",
        .acl_cats = "@slow @connection",
    },
    {
        .name = "client|"
                "kill",
        .proc = cmd_client,
        .arity = -3,
        .flags = CMD_ADMIN | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE,
        .group = "connection",
        .since = "2.4.0",
        .summary = "Terminates open connections.",
        .complexity = "O(1)",
        .acl_cats = "@slow @connection",
    },
    {
        .name = "client|"
                "reply",
        .proc = cmd_client,
        .arity = 3,
        .flags = CMD_NOSCRIPT | CMD_LOADING | CMD_STALE,
        .group = "connection",
        .since = "2.4.0",
        .summary = "Instructs the server whether to reply to commands.",
        .complexity = "O(1)",
        .acl_cats = "@slow @connection",
    },
    {
        .name = "client|"
                "no-evict",
        .proc = cmd_client,
        .arity = 3,
        .flags = CMD_ADMIN | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE,
        .group = "connection",
        .since = "2.4.0",
        .summary = "Sets the client eviction mode of the connection.",
        .complexity = "O(1)",
        .acl_cats = "@slow @connection",
    },
    {
        .name = "client|"
                "pause",
        .proc = cmd_client,
        .arity = -3,
        .flags = CMD_ADMIN | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE,
        .group = "connection",
        .since = "2.4.0",
        .summary = "Suspends commands processing.",
        .complexity = "O(1)",
        .acl_cats = "@slow @connection",
    },
    {
        .name = "client|unblock",
        .proc = cmd_client,
        .arity = -3,
        .flags = CMD_ADMIN | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE,
        .group = "connection",
        .since = "5.0.0",
        .summary = "Unblock a client blocked in a blocking command from a different connection",
        .complexity = "O(log N) where N is the number of client connections",
        .acl_cats = "@admin @slow @dangerous @connection",
    },
    {
        .name = "client|"
                "unpause",
        .proc = cmd_client,
        .arity = 2,
        .flags = CMD_ADMIN | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE,
        .group = "connection",
        .since = "2.4.0",
        .summary = "Resumes processing commands from paused clients.",
        .complexity = "O(1)",
        .acl_cats = "@slow @connection",
    },
    {0},
};

kl_command_t cmds_connection[] = {
    {
        .name = "ping",
        .proc = cmd_ping,
        .arity = -1,
        .flags = CMD_FAST | CMD_SENTINEL,
        .xflags = CMDX_SUBSCRIBED_OK | CMDX_DENY_ON_DISK_ERROR,
        .group = "connection",
        .since = "1.0.0",
        .summary = "Returns the server's liveliness response.",
        .complexity = "O(1)",
        .acl_cats = "@fast @connection",
    },
    {
        .name = "echo",
        .proc = cmd_echo,
        .arity = 2,
        .flags = CMD_LOADING | CMD_STALE | CMD_FAST,
        .group = "connection",
        .since = "1.0.0",
        .summary = "Returns the given string.",
        .complexity = "O(1)",
        .acl_cats = "@fast @connection",
    },
    {
        .name = "hello",
        .proc = cmd_hello,
        .arity = -1,
        .flags = CMD_NOSCRIPT | CMD_LOADING | CMD_STALE | CMD_FAST | CMD_NO_AUTH | CMD_SENTINEL |
                 CMD_ALLOW_BUSY,
        .xflags = CMDX_REDACT_HELLO,
        .group = "connection",
        .since = "6.0.0",
        .summary = "Handshakes with the Redis server.",
        .complexity = "O(1)",
        .acl_cats = "@fast @connection",
    },
    {
        .name = "auth",
        .proc = cmd_auth,
        .arity = -2,
        .flags = CMD_NOSCRIPT | CMD_LOADING | CMD_STALE | CMD_FAST | CMD_NO_AUTH | CMD_SENTINEL |
                 CMD_ALLOW_BUSY,
        .xflags = CMDX_REDACT_ARGS,
        .group = "connection",
        .since = "1.0.0",
        .summary = "Authenticates the connection.",
        .complexity = "O(N) where N is the number of passwords defined for the user",
        .acl_cats = "@fast @connection",
    },
    {
        .name = "quit",
        .proc = cmd_quit,
        .arity = -1,
        .flags = CMD_ALLOW_BUSY | CMD_NOSCRIPT | CMD_LOADING | CMD_STALE | CMD_FAST | CMD_NO_AUTH,
        .xflags = CMDX_TXN_IMMEDIATE | CMDX_TXN_END | CMDX_SUBSCRIBED_OK,
        .group = "connection",
        .since = "1.0.0",
        .summary = "Closes the connection.",
        .complexity = "O(1)",
        .acl_cats = "@fast @connection",
    },
    {
        .name = "reset",
        .proc = cmd_reset,
        .arity = 1,
        .flags = CMD_NOSCRIPT | CMD_LOADING | CMD_STALE | CMD_FAST | CMD_NO_AUTH | CMD_ALLOW_BUSY,
        .xflags = CMDX_TXN_IMMEDIATE | CMDX_TXN_END | CMDX_SUBSCRIBED_OK,
        .group = "connection",
        .since = "6.2.0",
        .summary = "Resets the connection.",
        .complexity = "O(1)",
        .acl_cats = "@fast @connection",
    },
    {
        .name = "select",
        .proc = cmd_select,
        .arity = 2,
        .flags = CMD_LOADING | CMD_STALE | CMD_FAST,
        .group = "connection",
        .since = "1.0.0",
        .summary = "Changes the selected database.",
        .complexity = "O(1)",
        .acl_cats = "@fast @connection",
    },
    {
        .name = "client",
        .proc = cmd_client,
        .arity = -2,
        .flags = CMD_SENTINEL,
        .group = "connection",
        .since = "2.4.0",
        .summary = "A container for client connection commands.",
        .complexity = "Depends on subcommand.",
        .acl_cats = "@slow",
        .subcommands = client_subs,
    },
    {0},
};
