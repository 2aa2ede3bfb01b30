/* The list type and its commands (in progress: issue 4). */
#include "cmd.h"
#include "types.h"

void t_list_register(void) {
}

kl_command_t cmds_list[] = {
    {NULL},
};
