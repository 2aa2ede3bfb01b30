/* SLOWLOG and LATENCY: the slow-command log and the latency monitor.
 * Thread: executor. */
#ifndef KL_SLOWLOG_H
#define KL_SLOWLOG_H

#include "client.h"

struct kl_command;

void slowlog_maybe_add(client_t *c, long long duration_us);
void latency_maybe_add(const struct kl_command *cmd, long long duration_us);
/* Record a latency sample for a named event (ms), if over the threshold. */
void latency_add_sample(const char *event, long long ms);
void slowlog_free(void);

void cmd_slowlog(client_t *c);
void cmd_latency(client_t *c);

#endif
