/* The command families of commands/: their tables, which main.c registers
 * with the executor's command table (cmd.h).
 *
 * Thread: main (registration, before the executor starts). */
#ifndef KL_COMMANDS_H
#define KL_COMMANDS_H

#include "cmd.h"

extern kl_command_t cmds_string[];
extern kl_command_t cmds_keyspace[];
extern kl_command_t cmds_connection[];
extern kl_command_t cmds_list[];
extern kl_command_t cmds_hash[];
extern kl_command_t cmds_set[];
extern kl_command_t cmds_zset[];
extern kl_command_t cmds_dump[];

#endif
