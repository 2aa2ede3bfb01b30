/* Registration of the non-string data types with object.c (free/dup/mem
 * hooks). Called once at start-up, before any key exists.
 *
 * Thread: main (before the executor starts). */
#ifndef KL_TYPES_H
#define KL_TYPES_H

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
