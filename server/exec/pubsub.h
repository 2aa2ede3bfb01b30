/* Pub/Sub: channel, pattern and shard-channel subscriptions, message
 * delivery, and the hooks the executor and the connection commands call.
 * Keyspace notifications (notify.h) are published through the same tables.
 *
 * A client with at least one subscription of any kind carries CF_PUBSUB
 * (client type "pubsub", the pubsub output-buffer class on its I/O thread);
 * its per-client subscription sets live in a side table of this module, so
 * a client that never subscribes pays nothing.
 *
 * Thread: executor (every function here). */
#ifndef KL_PUBSUB_H
#define KL_PUBSUB_H

#include "client.h"

#include <stdbool.h>
#include <stddef.h>

struct kl_command;

/* RESP2 subscribed mode: only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING /
 * QUIT / RESET may run. Replies with Redis's error, counts the rejection and
 * returns false when cmd is not allowed. Use pubsub_cmd_allowed(). */
bool pubsub__check_context(client_t *c, struct kl_command *cmd);

/* Called by the executor for every command after the arity and
 * authentication checks: one branch for a client that is not subscribed. */
static inline bool pubsub_cmd_allowed(client_t *c, struct kl_command *cmd) {
    if (!(c->flags & CF_PUBSUB) || c->resp != 2) return true;
    return pubsub__check_context(c, cmd);
}

/* Drop every subscription of c without replying (RESET, disconnect) and
 * move it back to the normal client class. Cheap when c has none. */
void pubsub__unsubscribe_all(client_t *c, bool notify_io);

/* The client is gone (executor's closed hook). */
static inline void pubsub_client_closed(client_t *c) {
    if (c->flags & CF_PUBSUB) pubsub__unsubscribe_all(c, false);
}

/* RESET: leave every subscription silently; the client is held. */
static inline void pubsub_client_reset(client_t *c) {
    if (c->flags & CF_PUBSUB) pubsub__unsubscribe_all(c, true);
}

/* Subscription counts of one client (CLIENT LIST sub= psub= ssub=). */
void pubsub_client_counts(const client_t *c, size_t *sub, size_t *psub, size_t *ssub);

/* Server-wide counts (INFO stats pubsub_channels, pubsub_patterns,
 * pubsubshard_channels). */
size_t pubsub_channels_count(void);
size_t pubsub_patterns_count(void);
size_t pubsub_shard_channels_count(void);

/* PUBLISH from inside the server: deliver msg on channel to its
 * subscribers and to matching pattern subscribers. Returns the number of
 * receivers. */
long long pubsub_publish(const char *ch, size_t chlen, const char *msg, size_t msglen);

#endif
