/* The master side (master.h). Being written: replicas attach with
 * SYNC/PSYNC in the next steps. */
#include "master.h"

#include "repl_internal.h"

void master_disconnect_replicas(void) {}
size_t master_replica_count(void) {
    return 0;
}
int master_good_replicas(void) {
    return 0;
}
void master_info_fields(kl_buf_t *out) {
    kl_buf_appendf(out, "connected_slaves:0\r\n");
}
bool master_writes_denied(void) {
    return false;
}
void master_client_closed(struct client *c) {
    (void)c;
}
void master_init(void) {}
void master_cron(void) {}
void master_shutdown(void) {}
