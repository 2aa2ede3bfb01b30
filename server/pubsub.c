/* Pub/Sub and keyspace notifications (in progress: issue 4). */
#include "cmd.h"
#include "notify.h"

void notify_keyspace_event(int cls, const char *event, const char *key, size_t klen, int dbid) {
}

kl_command_t cmds_pubsub[] = {
    {NULL},
};
