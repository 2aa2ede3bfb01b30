/* The server-administration commands of admin/ (CONFIG, CLIENT, DEBUG,
 * COMMAND, SLOWLOG, LATENCY, INFO, SHUTDOWN, MONITOR, MEMORY ...), which
 * main.c registers with the executor's command table (cmd.h). INFO's
 * generator is in info.h.
 *
 * Thread: main (registration) / executor. */
#ifndef KL_ADMIN_H
#define KL_ADMIN_H

#include "cmd.h"

extern kl_command_t cmds_server[];
extern kl_command_t cmds_memory[];

/* MEMORY STATS's startup.allocated baseline (cmd_memory.c): call once every
 * start-up allocation is done, before the I/O layer and clients. Thread: main. */
void memory_note_startup(void);

#endif
