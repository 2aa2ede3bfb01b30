/* The process-wide executor state (server.h). Kept out of main.c so that
 * the server's library (and the unit tests that link it) has it.
 *
 * Thread: executor, except where server.h says otherwise. */
#include "server.h"

#include "kl_util.h"

kl_server_t g_srv;

/* Refresh the cached clocks (Thread: executor). */
void srv_update_time(void) {
    g_srv.ustime = kl_ustime();
    g_srv.mstime = g_srv.ustime / 1000;
    g_srv.lruclock = (uint32_t)((g_srv.mstime / 1000) & ((1u << 24) - 1));
}
