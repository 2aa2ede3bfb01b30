/* Building replies in RESP2 or RESP3, whichever the client speaks.
 * Replies go into the client's hand-off reply chain, which the executor owns
 * while it runs the client's commands.
 *
 * Thread: executor. */
#ifndef KL_REPLY_H
#define KL_REPLY_H

#include "client.h"

#include <stdbool.h>
#include <stddef.h>

struct kobj;

void reply_raw(client_t *c, const char *p, size_t n);
void reply_simple(client_t *c, const char *s); /* +s */
void reply_ok(client_t *c);
/* Full error text with its code, without '-' and CRLF, e.g. "ERR syntax error".
 * Newlines in the text are replaced by spaces, as Redis does. */
void reply_error(client_t *c, const char *msg);
void reply_errorf(client_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void reply_int(client_t *c, long long v);
void reply_bulk(client_t *c, const char *p, size_t n);
void reply_bulk_cstr(client_t *c, const char *s); /* NULL -> null bulk */
void reply_bulk_ll(client_t *c, long long v);
void reply_bulk_obj(client_t *c, const struct kobj *o); /* string value */
void reply_null(client_t *c);                           /* $-1 / _ */
void reply_null_array(client_t *c);                     /* *-1 / _ */
void reply_array(client_t *c, long n);
void reply_map(client_t *c, long n);  /* n pairs; RESP2: array of 2n */
void reply_set(client_t *c, long n);  /* RESP2: array */
void reply_push(client_t *c, long n); /* RESP3 >, RESP2 * */
void reply_double(client_t *c, double d);
void reply_bool(client_t *c, int b);
void reply_verbatim(client_t *c, const char *p, size_t n, const char *ext); /* ext: "txt" */
void reply_help(client_t *c, const char **lines);                           /* NULL-terminated */
void reply_wrongtype(client_t *c);
void reply_syntax_error(client_t *c);
void reply_subcommand_error(client_t *c); /* unknown subcommand '...'. Try X HELP. */
void reply_not_integer(client_t *c);

/* Guard for commands whose reply size a client chooses without bound
 * (SRANDMEMBER / HRANDFIELD / ZRANDMEMBER with a huge negative count): true,
 * after closing the client, once the reply being built passes the normal
 * class's client-output-buffer-limit hard limit, or 1 GB when that is 0.
 * Redis would build such a reply until memory runs out; keyloom drops the
 * client and keeps serving everyone else. The caller stops at once. */
bool reply_too_big(client_t *c);

/* Aggregates whose length is known only at the end. */
typedef struct reply_deferred {
    iol_rblock_t *block;
} reply_deferred_t;
reply_deferred_t reply_defer(client_t *c);
void reply_set_array_len(client_t *c, reply_deferred_t d, long n);
void reply_set_map_len(client_t *c, reply_deferred_t d, long n);
void reply_set_set_len(client_t *c, reply_deferred_t d, long n);

/* Error statistics (INFO errorstats). */
void reply_errorstats_reset(void);
struct kl_buf;
void reply_errorstats_info(struct kl_buf *out);
unsigned long long reply_total_errors(void);
void reply_errorstats_free(void);

#endif
