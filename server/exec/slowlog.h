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

/* Per-command latency histograms (INFO latencystats). */
void latency_hist_record(struct kl_command *cmd, long long us);
void latency_hist_reset(struct kl_command *cmd);
struct kl_buf;
void latency_hist_info(const struct kl_command *cmd, struct kl_buf *out);

void cmd_slowlog(client_t *c);
void cmd_latency(client_t *c);

#endif
