/* The zset type and its commands (in progress: issue 4). */
#include "cmd.h"
#include "types.h"

void t_zset_register(void) {
}

kl_command_t cmds_zset[] = {
    {NULL},
};
