/* What the files of replication/ share among themselves. */
#ifndef KL_REPL_INTERNAL_H
#define KL_REPL_INTERNAL_H

#include "iol_repl.h"
#include "repl.h"

/* The shared buffer behind the backlog (backlog.c), NULL when none. */
extern iol_rbuf_t *repl__rbuf;
/* Register or drop the write path's PROP_REPL stream: wanted while a
 * backlog exists on a master (repl.c). */
void repl__stream_update(void);

/* INFO replication and the memory fields (repl_info.c). */
void repl__info_init(void);

#endif
