/* The replica side (replica.h). Being written. */
#include "replica.h"

#include "repl_internal.h"

#include <stddef.h>
#include <stdio.h>

int replica_set_master(const char *host, int port, char *err, size_t errlen) {
    (void)host;
    (void)port;
    snprintf(err, errlen, "ERR replication is not available yet");
    return -1;
}
void replica_unset_master(void) {}
bool replica_link_up(void) {
    return false;
}
enum replica_link_state replica_state(void) {
    return REPLICA_NONE;
}
const char *replica_master_host(void) {
    return NULL;
}
int replica_master_port(void) {
    return 0;
}
struct client *replica_master_client(void) {
    return NULL;
}
void replica_send_ack(void) {}
void replica_info_fields(kl_buf_t *out) {
    (void)out;
}
const char *replica_role_state(void) {
    return "";
}
bool repl_is_replica(void) {
    return false;
}
void replica_init(void) {}
void replica_cron(void) {}
void replica_shutdown(void) {}
