/* The process-wide executor state (server.h). Kept out of main.c so that
 * the server's library (and the unit tests that link it) has it.
 *
 * Thread: executor, except where server.h says otherwise. */
#include "server.h"

kl_server_t g_srv;
