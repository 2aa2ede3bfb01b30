/* INFO generation. Thread: executor. */
#ifndef KL_INFO_H
#define KL_INFO_H

#include "kl_util.h"
#include "resp_parser.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

void info_generate(kl_buf_t *out, int argc, const resp_arg_t *argv);

/* replication/ provides INFO's replication section and the memory of its
 * buffers (mem_replication_backlog, mem_total_replication_buffers), which
 * this layer cannot reach directly. Thread: executor, at start-up. */
typedef void (*info_repl_mem_fn)(size_t *backlog, size_t *total);
void info_set_replication(void (*section)(kl_buf_t *b), info_repl_mem_fn mem);

/* Memory accounting shared by INFO memory and MEMORY STATS/DOCTOR (Redis's
 * struct redisMemOverhead, with keyloom's sources). Computed by
 * memory_overhead_compute() in cmd_memory.c. Ratios are floats as in Redis. */
typedef struct kl_mem_overhead {
    size_t peak_allocated, total_allocated, startup_allocated;
    size_t clients_slaves, clients_normal;
    size_t overhead_total, dataset, total_keys, bytes_per_key;
    float dataset_perc, peak_perc;
    size_t allocator_allocated, allocator_active, allocator_resident, rss;
    float allocator_frag, allocator_rss, rss_extra, total_frag;
    long long allocator_frag_bytes, allocator_rss_bytes, rss_extra_bytes, total_frag_bytes;
    size_t nclients;
    int ndbs; /* databases with keys, in dbs[] */
    struct {
        int id;
        size_t main, expires;
    } * dbs; /* owned; free with memory_overhead_free */
} kl_mem_overhead_t;

/* Fills mh from the allocator, /proc, the keyspace and the clients: O(clients
 * + databases). Release with memory_overhead_free. Thread: executor. */
void memory_overhead_compute(kl_mem_overhead_t *mh);
/* Frees what memory_overhead_compute allocated. Thread: executor. */
void memory_overhead_free(kl_mem_overhead_t *mh);

#endif
