/* MULTI/EXEC/DISCARD/WATCH/UNWATCH (in progress: issue 4). */
#include "cmd.h"
#include "multi.h"

void multi_touch_key(struct kdb *db, const char *key, size_t klen) {
}

kl_command_t cmds_multi[] = {
    {NULL},
};
