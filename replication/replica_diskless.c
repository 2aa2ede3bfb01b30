/* Diskless load for a replica (repl-diskless-load on-empty-db / swapdb):
 * the master's RDB is fed to the push-fed loader (persist/rdb.h
 * rdb_loader_open_stream / rdb_loader_feed) chunk by chunk as the link
 * delivers it, instead of going through a temporary file.
 *
 *  - on-empty-db (chosen only while every database is empty): the keys go
 *    straight into the live databases; clients get -LOADING meanwhile
 *    (g_srv.loading); a failed or cut-off transfer flushes the partial load.
 *  - swapdb, same history (our replid is the one +FULLRESYNC named:
 *    Redis 7.0's async loading): the keys go into a temporary database
 *    array (kv/db.h kdb_set_t) while the live data keeps being served; once
 *    the whole RDB loaded and its checksum passed, the arrays are swapped in
 *    O(databases) and the old contents freed (lazily with
 *    replica-lazy-flush); a failure drops the temporary array.
 *  - swapdb, another history: the old data is moved aside as a backup and
 *    the keys load into the live databases with -LOADING for clients (old
 *    data of another history is not served as if current); a failure puts
 *    the backup back, a success frees it.
 *
 * A failed load of swapdb leaves the old data in place in both cases.
 *
 * Either way no client ever sees half a dataset. Each feed loads what one
 * read of the link brought, so the executor's time per unit stays bounded.
 *
 * Built only when the loader API is there (replication/meson.build checks
 * for rdb_loader_open_stream). Thread: executor. */
#include "replica_internal.h"

#include "config.h"
#include "db.h"
#include "kl_alloc.h"
#include "kl_log.h"
#include "multi.h"
#include "rdb.h"
#include "server.h"

#include <stdio.h>

struct replica_dl {
    rdb_loader_t *l;
    kdb_set_t *set;    /* async swapdb: where the keys go; NULL: the live databases */
    kdb_set_t *backup; /* swapdb of another history: the old data, aside */
};

static int load_flags(void) {
    /* A replica keeps keys that are already expired: the master expires them. */
    int flags = 0;
    if (!g_cfg.rdbchecksum) flags |= RDB_LOAD_NO_CHECKSUM;
    if (g_cfg.sanitize_dump_payload == KL_CFG_YES) flags |= RDB_LOAD_DEEP;
    return flags;
}

/* Every live database's contents change: WATCHes break, as FLUSHALL. */
static void touch_all(void) {
    for (int i = 0; i < db_count(); i++)
        multi_touch_db(db_get(i), NULL);
}

replica_dl_t *replica__dl_begin(bool swapdb, bool same_history) {
    replica_dl_t *d = kl_calloc(1, sizeof(*d));
    d->l = rdb_loader_open_stream(load_flags());
    if (swapdb && same_history) {
        d->set = kdb_set_new();
        rdb_loader_set_target(d->l, d->set);
        kl_notice("MASTER <-> REPLICA sync: Loading DB in memory (into a temporary database "
                  "set, the current data is served meanwhile)");
        return d;
    }
    if (swapdb) {
        touch_all();
        d->backup = db_move_aside();
        kl_notice("MASTER <-> REPLICA sync: Backing up the current data, restored if the load "
                  "fails");
    }
    g_srv.loading = true;
    kl_notice("MASTER <-> REPLICA sync: Loading DB in memory");
    return d;
}

static void dl_free(replica_dl_t *d, bool failed) {
    bool lazy = g_cfg.replica_lazy_flush != 0;
    if (d->set) {
        kdb_set_free(d->set, lazy); /* failed: the partial load; else: the old data */
    } else if (failed) {
        touch_all();
        if (d->backup) {
            db_restore_aside(d->backup, lazy); /* the old data is back */
            kl_notice("MASTER <-> REPLICA sync: Restored the backup of the old data");
        } else {
            db_flush_all_lazy(lazy); /* never half a dataset */
        }
        g_srv.loading = false;
    } else {
        kdb_set_free(d->backup, lazy); /* NULL-safe */
        g_srv.loading = false;
    }
    rdb_loader_close(d->l);
    kl_free(d);
}

int replica__dl_feed(replica_dl_t *d, const void *p, size_t n, bool last, rdb_load_info_t *info,
                     char *err, size_t errlen) {
    rdb_err_t e;
    int rc = rdb_loader_feed(d->l, p, n, last, &e);
    if (rc == 1 && !last) return 1;
    if (rc == 1 || rc < 0) {
        if (rc == 1)
            snprintf(err, errlen, "the RDB from the master ended early");
        else
            snprintf(err, errlen, "%s (at offset %zu)", e.msg, e.offset);
        kl_warning("Failed trying to load the MASTER synchronization DB from socket: %s", err);
        dl_free(d, true);
        return -1;
    }
    *info = *rdb_loader_info(d->l);
    kl_notice("Done loading RDB, keys loaded: %llu, keys expired: %llu.",
              (unsigned long long)info->keys_loaded, (unsigned long long)info->keys_expired);
    if (d->set) {
        touch_all();
        db_swap_set(d->set); /* the set now holds the old data, freed below */
        kl_notice("MASTER <-> REPLICA sync: Swapping the new data in");
    }
    dl_free(d, false);
    return 0;
}

void replica__dl_abort(replica_dl_t *d) {
    if (!d) return;
    kl_warning("MASTER <-> REPLICA sync: the transfer ended before the whole RDB: %s",
               d->set      ? "discarding the partial load, the old data stays"
               : d->backup ? "restoring the old data"
                           : "flushing the partial load");
    dl_free(d, true);
}
