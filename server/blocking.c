/* Blocking commands (in progress: issue 4). */
#include "blocking.h"

#include "reply.h"

int block_parse_timeout(client_t *c, const resp_arg_t *a, int64_t *abs_ms) {
    *abs_ms = 0;
    return 0;
}

void block_for_keys(client_t *c, const resp_arg_t *keys, int nkeys, int64_t abs_ms) {
    reply_null_array(c);
}

void block_key_ready(struct kdb *db, const char *key, size_t klen) {
}
