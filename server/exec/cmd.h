/* The command table and the pieces every command implementation uses.
 *
 * A command is `void proc(client_t *c)`; c->argv/c->argc hold its arguments
 * (NUL-terminated copies owned by the client's batch), c->db the selected
 * database. It replies through reply.h and reads/writes keys through db.h.
 *
 * Thread: executor. */
#ifndef KL_CMD_H
#define KL_CMD_H

#include "client.h"

#include <stdbool.h>
#include <stdint.h>
#include <strings.h>

enum cmd_flag {
    CMD_WRITE = 1u << 0,
    CMD_READONLY = 1u << 1,
    CMD_DENYOOM = 1u << 2,
    CMD_ADMIN = 1u << 4,
    CMD_PUBSUB = 1u << 5,
    CMD_NOSCRIPT = 1u << 6,
    CMD_BLOCKING = 1u << 8,
    CMD_LOADING = 1u << 9,
    CMD_STALE = 1u << 10,
    CMD_SKIP_MONITOR = 1u << 11,
    CMD_SKIP_SLOWLOG = 1u << 12,
    CMD_FAST = 1u << 14,
    CMD_NO_AUTH = 1u << 15,
    CMD_MAY_REPLICATE = 1u << 16,
    CMD_NO_MULTI = 1u << 19,
    CMD_ALLOW_BUSY = 1u << 21,
    CMD_ONLY_SENTINEL = 1u << 23,
    CMD_NO_MANDATORY_KEYS = 1u << 24,
    CMD_PROTECTED = 1u << 25,
    CMD_SENTINEL = 1u << 26,
    CMD_NO_ASYNC_LOADING = 1u << 27,
    /* Keys found through a numkeys argument (set by cmd_table_register for a
     * key spec with numkeys_at; reported as "movablekeys"). */
    CMD_MOVABLE_KEYS = 1u << 30,
};

/* What the executor decides by, beyond Redis's flags (never shown by COMMAND
 * INFO): MULTI, subscribed-mode, OOM and MONITOR decisions read these, never a
 * command's name or its position in a table. */
enum cmd_xflag {
    CMDX_TXN_EXEC = 1u << 0, /* EXEC: runs the queue (its flags count as the queue's) */
    CMDX_TXN_IMMEDIATE =
        1u << 1,            /* runs at once inside MULTI (MULTI EXEC DISCARD WATCH QUIT RESET) */
    CMDX_TXN_END = 1u << 2, /* ends a transaction: runs inside MULTI even when OOM */
    CMDX_SUBSCRIBED_OK = 1u << 3,   /* allowed in RESP2 subscribed mode */
    CMDX_REDACT_ARGS = 1u << 4,     /* MONITOR shows every argument as "(redacted)" (AUTH) */
    CMDX_REDACT_HELLO = 1u << 5,    /* MONITOR redacts HELLO's AUTH username password */
    CMDX_BLOCK_ZSET = 1u << 7,      /* a blocking command that waits for a sorted set */
    CMDX_BLOCK_NULL_BULK = 1u << 8, /* its timeout reply is a null bulk, not a null array */
    /* Touches keys it does not name (SCAN, RANDOMKEY): the keys it expires on
     * its way are propagated without a MULTI/EXEC around them, as Redis
     * 7.0.15's hidden CMD_TOUCHES_ARBITRARY_KEYS. */
    CMDX_TOUCHES_ARBITRARY_KEYS = 1u << 9,
    /* Refused with -MISCONF like a write while saving to disk fails (PING,
     * so that health checks notice; Redis 7.0's processCommand). */
    CMDX_DENY_ON_DISK_ERROR = 1u << 10,
};

typedef void (*cmd_proc_t)(client_t *c);

/* Where a command's keys are (Redis's legacy key spec plus numkeys):
 * argv[first..last] every step (last < 0 counts from the end; first 0: no
 * keys by position), and/or, when numkeys_at > 0, argv[numkeys_at] keys right
 * after it, plus a destination key at argv[dest] when dest > 0 (the *STORE
 * forms). A numkeys spec makes the command "movablekeys". */
typedef struct cmd_keyspec {
    int first, last, step;
    int numkeys_at, dest;
} cmd_keyspec_t;

/* One command: defined once, with designated initializers, in its family's
 * table (see commands/, admin/, exec/multi.c, exec/pubsub.c). */
typedef struct kl_command {
    const char *name; /* lower case; "config|get" for subcommands */
    cmd_proc_t proc;
    int arity;       /* > 0 exact, < 0 at least -arity */
    uint32_t flags;  /* enum cmd_flag (Redis's, shown by COMMAND INFO) */
    uint32_t xflags; /* enum cmd_xflag (the executor's) */
    cmd_keyspec_t keys;
    const char *group; /* "string", "generic", "server", "connection", ... */
    const char *since;
    const char *summary;
    const char *complexity;
    const char *acl_cats;                 /* space separated, e.g. "@write @string @fast" */
    const struct kl_command *subcommands; /* NULL-name terminated array */
    /* Statistics (executor-owned, INFO commandstats / latencystats). */
    uint64_t calls, usec, rejected_calls, failed_calls;
    struct lat_hist *hist; /* allocated on first call when latency-tracking is on */
} kl_command_t;

/* Create the empty table; main.c then registers every family's array (a
 * NULL-name terminated array of commands, kept by reference). Thread: main. */
void cmd_table_init(void);
void cmd_table_register(kl_command_t *family);
void cmd_table_free(void);
/* Look a command up by name (case-insensitive). */
kl_command_t *cmd_lookup(const char *name, size_t len);
/* For a container command, the subcommand (argv[1]); NULL if unknown. */
kl_command_t *cmd_lookup_sub(const kl_command_t *parent, const char *name, size_t len);
/* Iterate the table: returns the i-th top-level command or NULL. */
kl_command_t *cmd_at(size_t i);
size_t cmd_count(void);
void cmd_stats_reset(void);

/* The key positions of a command invocation (argv[0] is the command name):
 * stores up to max indexes into keys and returns how many keys there are, or
 * -1 when the arguments do not name keys validly (bad numkeys). Handles both
 * first/last/step ranges and numkeys commands (CMD_MOVABLE_KEYS). */
int cmd_get_keys(const kl_command_t *cmd, const resp_arg_t *argv, int argc, int *keys, int max);

/* Run one command for c (argv already set). */
void cmd_call(client_t *c);

/* Shared argument helpers. Each replies with Redis's error and returns -1 on
 * failure, 0 on success. */
int arg_ll(client_t *c, const resp_arg_t *a, long long *out);
int arg_ll_range(client_t *c, const resp_arg_t *a, long long min, long long max, long long *out,
                 const char *msg);
int arg_ld(client_t *c, const resp_arg_t *a, long double *out);
int arg_double(client_t *c, const resp_arg_t *a, double *out);
static inline bool arg_is(const resp_arg_t *a, const char *lit) {
    return strcasecmp(a->ptr, lit) == 0;
}

/* Look key up (write: no hit/miss statistics) and check its type: the value,
 * NULL when the key is missing, or NULL with *wrong set after replying
 * WRONGTYPE when it holds another type (cmd_util.c). */
struct kobj;
struct kobj *cmd_lookup_typed(client_t *c, const resp_arg_t *key, int type, bool write,
                              bool *wrong);

/* SCAN-family options from argv[first] on: COUNT n (n >= 1, default 10),
 * MATCH pattern (use_pattern false for "*"), and TYPE t when allow_type.
 * Replies Redis's error and returns -1 on bad options. */
typedef struct scan_opts {
    long long count;
    const char *pat;
    size_t plen;
    bool use_pattern;
    const char *type;
} scan_opts_t;
int cmd_parse_scan_opts(client_t *c, uint32_t first, bool allow_type, scan_opts_t *o);
/* A SCAN-family cursor, as Redis's parseScanCursorOrReply: strtoul rules (so
 * "-1" wraps and "+1" is fine) but no leading space, no trailing garbage and
 * no overflow. Replies "ERR invalid cursor" and returns -1 otherwise. */
int cmd_parse_scan_cursor(client_t *c, const resp_arg_t *a, uint64_t *out);

/* The families the executor defines itself (multi.c, pubsub.c); the others
 * are in commands/commands.h and admin/admin.h. */
extern kl_command_t cmds_pubsub[];
extern kl_command_t cmds_multi[];

#endif
