/* Replication: the state the master side (master.c) and the replica side
 * (replica.c) share, and the backlog both feed (backlog.c).
 *
 * PSYNC2 identity (Redis 7.0): replid is the history this server's dataset
 * belongs to and master_repl_offset how far into it we are (a master: bytes
 * of its stream so far; a replica: bytes of its master's stream applied).
 * replid2/second_replid_offset keep the previous history after a promotion
 * or a +CONTINUE with a new ID, so replicas of the old master can continue
 * from it (offset < second_replid_offset).
 *
 * The backlog is the last repl-backlog-size bytes of the stream, kept in the
 * shared reference-counted blocks of ioloop/iol_repl.h: every online replica
 * reads the same blocks (nothing is copied per replica) from its own I/O
 * thread. A master fills it from the write path (PROP_REPL); a replica fills
 * it with the bytes of its master's stream as it applies them
 * (repl_backlog_feed), so its own replicas get the top master's stream
 * byte for byte (chained replication).
 *
 * Thread: executor (every function here). */
#ifndef KL_REPL_H
#define KL_REPL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define REPL_ID_LEN 40

typedef struct repl_state {
    char replid[REPL_ID_LEN + 1];  /* master_replid */
    char replid2[REPL_ID_LEN + 1]; /* master_replid2, "000...0" when none */
    long long master_repl_offset;
    long long second_replid_offset; /* -1 when replid2 is unset */
    /* Is a backlog allocated? (A master creates it with its first replica;
     * a replica keeps one always, as Redis 7.0 does.) */
    bool backlog_on;
    int64_t backlog_unused_since_ms; /* no replica since (repl-backlog-ttl), 0: has replicas */
} repl_state_t;

extern repl_state_t g_repl;

/* FAILOVER's state (failover.c; INFO master_failover_state). While
 * FAILOVER_IN_PROGRESS the replica side's handshake sends "PSYNC <replid>
 * <offset> FAILOVER" and reports the answer with failover__psync_result. */
enum { FAILOVER_NONE = 0, FAILOVER_WAIT_FOR_SYNC, FAILOVER_IN_PROGRESS };
extern int g_failover_state;

/* ---- identity ---------------------------------------------------------------- */

/* A fresh random replid (40 hex digits); replid2 cleared (Redis's
 * changeReplicationId + clearReplicationId2). */
void repl_change_replid(void);
void repl_clear_replid2(void);
/* Promotion (REPLICAOF NO ONE, FAILOVER) and +CONTINUE with a new ID: the
 * current history becomes replid2, valid up to master_repl_offset + 1, and a
 * new replid is drawn (Redis's shiftReplicationId). */
void repl_shift_replid(void);
/* A replica adopts its master's history after a full sync, or the one its
 * RDB file names at start-up: replid = id, offset = off, the backlog emptied
 * and restarted at off + 1. */
void repl_set_identity(const char *id, long long off);

/* ---- backlog ----------------------------------------------------------------- */

/* Create the backlog (repl-backlog-size) if there is none; its first byte
 * will be master_repl_offset + 1. */
void repl_backlog_create(void);
/* Free it (repl-backlog-ttl passed with no replica, on a master only). */
void repl_backlog_free(void);
/* Append the stream's next n bytes: master_repl_offset += n; the backlog
 * and every replica reading it get them (with no backlog only the offset
 * moves). */
void repl_backlog_feed(const char *p, size_t n);
/* The first offset the backlog still holds (repl_backlog_first_byte_offset)
 * and the bytes it holds (repl_backlog_histlen). */
long long repl_backlog_first_offset(void);
long long repl_backlog_histlen(void);
/* repl-backlog-size changed (CONFIG SET): trim to it. */
void repl_backlog_resize(void);

/* ---- the write path ----------------------------------------------------------- */

/* The write path (PROP_REPL) feeds the backlog while one exists on a
 * master; a replica's backlog gets its master's bytes through
 * repl_backlog_feed instead. replica.c calls repl_role_changed() when the
 * role flips so the stream follows. */
void repl_role_changed(void);
/* The next command from the write path starts with a SELECT. */
void repl_stream_reset_db(void);

/* ---- roles ---------------------------------------------------------------------- */

/* Are we a replica (REPLICAOF host port in effect)? Implemented by replica.c. */
bool repl_is_replica(void);

/* Start-up and the cron (every 100 ms): master.c and replica.c's timers,
 * the backlog's TTL. */
void repl_init(void);
void repl_cron(void);
void repl_shutdown(void);

#endif
