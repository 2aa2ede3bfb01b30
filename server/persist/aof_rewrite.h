/* The dataset written as commands: an AOF base without RDB preamble
 * (aof-use-rdb-preamble no), in Redis 7.0's rewrite form.
 *
 * Thread: executor, or the rewrite child (the fork rules of snapshot.h:
 * it only reads the keyspace and writes fd). */
#ifndef KL_AOF_REWRITE_H
#define KL_AOF_REWRITE_H

#include <stdint.h>

/* Write every key of every database to fd as commands. 0 or -errno;
 * *keys gets the number of keys written. */
int aof_rewrite_fd(int fd, uint64_t *keys);

#endif
