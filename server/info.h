/* INFO generation. Thread: executor. */
#ifndef KL_INFO_H
#define KL_INFO_H

#include "kl_util.h"
#include "resp_parser.h"

#include <stdint.h>

void info_generate(kl_buf_t *out, int argc, const resp_arg_t *argv);
void info_track_ops(void);
uint64_t info_ops_per_sec(void);
void info_update_peak(void);

#endif
