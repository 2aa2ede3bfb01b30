/* The set type and its commands (in progress: issue 4). */
#include "cmd.h"
#include "types.h"

void t_set_register(void) {
}

kl_command_t cmds_set[] = {
    {NULL},
};
