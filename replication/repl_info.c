/* INFO replication and the replication buffers' memory, handed to admin/
 * through info_set_replication. */
#include "repl_internal.h"

#include "config.h"
#include "info.h"
#include "master.h"
#include "replica.h"

static void section(kl_buf_t *b) {
    kl_buf_appendf(b, "# Replication\r\nrole:%s\r\n", repl_is_replica() ? "slave" : "master");
    if (repl_is_replica()) replica_info_fields(b);
    master_info_fields(b);
    kl_buf_appendf(b,
                   "master_failover_state:%s\r\n"
                   "master_replid:%s\r\n"
                   "master_replid2:%s\r\n"
                   "master_repl_offset:%lld\r\n"
                   "second_repl_offset:%lld\r\n"
                   "repl_backlog_active:%d\r\n"
                   "repl_backlog_size:%lld\r\n"
                   "repl_backlog_first_byte_offset:%lld\r\n"
                   "repl_backlog_histlen:%lld\r\n",
                   failover_state_name(), g_repl.replid, g_repl.replid2, g_repl.master_repl_offset,
                   g_repl.second_replid_offset, repl__rbuf ? 1 : 0, g_cfg.repl_backlog_size,
                   repl_backlog_first_offset(), repl_backlog_histlen());
}

/* mem_replication_backlog: the backlog window's share; the total: every
 * block alive, what replicas hold beyond the window included. */
static void mem(size_t *backlog, size_t *total) {
    if (!repl__rbuf) {
        *backlog = *total = 0;
        return;
    }
    *total = iol_rbuf_mem(repl__rbuf);
    size_t hist = (size_t)repl_backlog_histlen();
    *backlog = hist < *total ? hist : *total;
}

void repl__info_init(void) {
    info_set_replication(section, mem);
}
