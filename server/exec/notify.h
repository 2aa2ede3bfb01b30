/* Keyspace notifications (notify-keyspace-events): commands report what they
 * did to a key; when the event's class is enabled, a message is published on
 * __keyspace@<db>__:<key> (event name as payload, class K) and/or
 * __keyevent@<db>__:<event> (key name as payload, class E).
 *
 * The class bits are config.h's KL_NOTIFY_* (the letters of Redis's flag
 * string). Event names are exactly Redis 7.0's ("set", "lpush", "expired",
 * "hincrbyfloat", ...).
 *
 * Thread: executor. */
#ifndef KL_NOTIFY_H
#define KL_NOTIFY_H

#include "config.h"

#include <stddef.h>

/* The publishing part (pubsub.c); call notify_keyspace_event(). */
void notify__keyspace_event(int cls, const char *event, const char *key, size_t klen, int dbid);

/* cls: one KL_NOTIFY_* type class (KL_NOTIFY_GENERIC, KL_NOTIFY_STRING,
 * KL_NOTIFY_LIST, ...). Inline so that with notifications off (the default)
 * a command pays one load and one branch, not a call. */
static inline void notify_keyspace_event(int cls, const char *event, const char *key, size_t klen,
                                         int dbid) {
    if (g_cfg.notify_keyspace_events & cls) notify__keyspace_event(cls, event, key, klen, dbid);
}

#endif
