/* The command families of commands/: their tables, which main.c registers
 * with the executor's command table (cmd.h), and the registration of the
 * non-string data types with object.c (free/dup/mem hooks).
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

void t_list_register(void);
void t_hash_register(void);
void t_set_register(void);
void t_zset_register(void);

static inline void types_register(void) {
    t_list_register();
    t_hash_register();
    t_set_register();
    t_zset_register();
}

#endif
