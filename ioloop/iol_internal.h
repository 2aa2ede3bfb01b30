/* Glue between the I/O threads (iothread.c) and outbound links (link.c).
 * Internal to ioloop: nothing outside it includes this header. */
#ifndef IOL_INTERNAL_H
#define IOL_INTERNAL_H

#include "iol.h"

#include <stdint.h>
#include <uv.h>

/* Channel message kinds from this value up belong to link.c, on both
 * channels of every I/O thread (iothread.c's own kinds are all below). */
#define IOL__MSG_LINK_FIRST 64

/* Thread 0 is the main loop; 1..iol_nthreads() the I/O threads.
 * Thread: any (the threads array is fixed between iol_init and iol_shutdown). */
iol_thread_t *iol__thread(int index);
int iol__thread_index(const iol_thread_t *t);
uv_loop_t *iol__thread_loop(iol_thread_t *t);
/* Thread: t (an I/O thread, io-threads > 1). Queue a message to the executor. */
void iol__send_to_exec(iol_thread_t *t, void *ptr, uint64_t kind);
/* Thread: executor (io-threads > 1). Queue a message to I/O thread t. */
void iol__send_to_thread(iol_thread_t *t, void *ptr, uint64_t kind);

/* link.c, called by iothread.c. */
/* Thread: executor. A link message (kind >= IOL__MSG_LINK_FIRST) from to_exec. */
void iol__link_exec_msg(void *ptr, uint64_t kind);
/* Thread: t. A link message from t's from_exec. */
void iol__link_io_msg(iol_thread_t *t, void *ptr, uint64_t kind);
/* Thread: main, first thing in iol_shutdown: new links are refused and link
 * calls become no-ops from here on. */
void iol__links_shutdown_begin(void);
/* Thread: t, when it stops (MSG_STOP, or single-thread shutdown): close every
 * link of t. Their closed hooks run later, in iol__links_shutdown. */
void iol__links_stop(iol_thread_t *t);
/* Thread: main, after the I/O threads were joined: settle a link message left
 * in a channel (free what it carries; a link that never started or whose
 * CLOSED was not seen gets its closed hook). */
void iol__link_settle_msg(void *ptr, uint64_t kind);
/* Thread: main, last: run the closed hook of every link still listed and
 * free them, close link.c's handles on the main loop. */
void iol__links_shutdown(void);

#endif
