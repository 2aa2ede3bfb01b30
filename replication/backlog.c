/* The replication backlog (repl.h): a window over the shared replication
 * buffer of ioloop/iol_repl.h. */
#include "repl_internal.h"

#include "config.h"
#include "iol_repl.h"
#include "kl_log.h"
#include "kv.h"

#include <string.h>

iol_rbuf_t *repl__rbuf; /* master.c attaches replicas to it */

void repl_backlog_create(void) {
    if (repl__rbuf) return;
    repl__rbuf = iol_rbuf_new((uint64_t)g_repl.master_repl_offset + 1, 0);
    g_repl.backlog_on = true;
    repl_stream_reset_db(); /* the backlog's first command selects its db */
    repl__stream_update();
}

void repl_backlog_free(void) {
    if (!repl__rbuf) return;
    iol_rbuf_free(repl__rbuf);
    repl__rbuf = NULL;
    g_repl.backlog_on = false;
    repl__stream_update();
}

void repl_backlog_feed(const char *p, size_t n) {
    g_repl.master_repl_offset += (long long)n;
    if (!repl__rbuf) return;
    iol_rbuf_append(repl__rbuf, p, n);
    iol_rbuf_trim(repl__rbuf, (uint64_t)g_cfg.repl_backlog_size);
}

long long repl_backlog_first_offset(void) {
    return repl__rbuf ? (long long)iol_rbuf_start(repl__rbuf) : 0;
}

long long repl_backlog_histlen(void) {
    return repl__rbuf ? (long long)(iol_rbuf_end(repl__rbuf) - iol_rbuf_start(repl__rbuf)) : 0;
}

void repl_backlog_resize(void) {
    if (repl__rbuf) iol_rbuf_trim(repl__rbuf, (uint64_t)g_cfg.repl_backlog_size);
}

void repl_set_identity(const char *id, long long off) {
    memcpy(g_repl.replid, id, REPL_ID_LEN);
    g_repl.replid[REPL_ID_LEN] = '\0';
    g_repl.master_repl_offset = off;
    bool had = repl__rbuf != NULL;
    repl_backlog_free();
    if (had || repl_is_replica()) repl_backlog_create();
}
