/* Replication identity, the backlog and the write path's stream (repl.h). */
#include "repl_internal.h"

#include "kl_alloc.h"
#include "kl_log.h"
#include "master.h"
#include "propagate.h"
#include "replica.h"

#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

repl_state_t g_repl = {.second_replid_offset = -1};

static prop_consumer_t *stream_pc;

/* n random hex digits from /dev/urandom (Redis's getRandomHexChars). */
void repl__random_hex(char *out, size_t n) {
    static const char hex[] = "0123456789abcdef";
    unsigned char raw[64];
    size_t got = 0;
    int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
    if (fd >= 0) {
        while (got < n) {
            ssize_t r = read(fd, raw + got, n - got);
            if (r <= 0) break;
            got += (size_t)r;
        }
        close(fd);
    }
    for (size_t i = got; i < n; i++) /* no urandom: still unique enough per process */
        raw[i] = (unsigned char)(rand() ^ (int)getpid() ^ (int)i);
    for (size_t i = 0; i < n; i++)
        out[i] = hex[raw[i] & 15];
    out[n] = '\0';
}

void repl_change_replid(void) {
    repl__random_hex(g_repl.replid, REPL_ID_LEN);
}

void repl_clear_replid2(void) {
    memset(g_repl.replid2, '0', REPL_ID_LEN);
    g_repl.replid2[REPL_ID_LEN] = '\0';
    g_repl.second_replid_offset = -1;
}

void repl_shift_replid(void) {
    memcpy(g_repl.replid2, g_repl.replid, REPL_ID_LEN + 1);
    /* Replicas that continue from the old history ask for offset + 1. */
    g_repl.second_replid_offset = g_repl.master_repl_offset + 1;
    repl_change_replid();
    kl_notice("Setting secondary replication ID to %s, valid up to offset: %lld. New replication "
              "ID is %s",
              g_repl.replid2, g_repl.second_replid_offset, g_repl.replid);
}

int repl__stream_db(void) {
    return stream_pc ? prop_consumer_db(stream_pc) : -1;
}

void repl_stream_reset_db(void) {
    if (stream_pc) prop_consumer_reset_db(stream_pc);
}

/* The write path's PROP_REPL stream: a master's own commands. */
static void stream_feed(void *arg, const char *bytes, size_t len) {
    (void)arg;
    repl_backlog_feed(bytes, len);
}

void repl__stream_update(void) {
    bool want = g_repl.backlog_on && !repl_is_replica();
    if (want && !stream_pc) {
        stream_pc = prop_consumer_add(PROP_REPL, stream_feed, NULL);
    } else if (!want && stream_pc) {
        prop_consumer_remove(stream_pc);
        stream_pc = NULL;
    }
}

void repl_init(void) {
    repl_change_replid();
    repl_clear_replid2();
    repl__info_init();
    master_init();
    replica_init();
    failover__init();
}

void repl_cron(void) {
    master_cron();
    replica_cron();
    failover__cron();
}

void repl_shutdown(void) {
    replica_shutdown();
    master_shutdown();
    if (stream_pc) {
        prop_consumer_remove(stream_pc);
        stream_pc = NULL;
    }
    repl_backlog_free();
}

void repl_role_changed(void) {
    repl__stream_update();
    repl_stream_reset_db();
}
