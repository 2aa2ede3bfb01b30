/* Small helpers shared by the data-type command families: typed key lookup
 * with Redis's WRONGTYPE reply, and the option parser of the SCAN family.
 *
 * Thread: executor (every function here). */
#include "cmd.h"
#include "db.h"
#include "reply.h"

#include <ctype.h>
#include <errno.h>
#include <stdlib.h>

kobj_t *cmd_lookup_typed(client_t *c, const resp_arg_t *key, int type, bool write, bool *wrong) {
    kobj_t *o = write ? db_lookup_write(c->db, key->ptr, key->len)
                      : db_lookup_read(c->db, key->ptr, key->len);
    *wrong = false;
    if (o && o->type != type) {
        reply_wrongtype(c);
        *wrong = true;
        return NULL;
    }
    return o;
}

int cmd_parse_scan_opts(client_t *c, uint32_t first, bool allow_type, scan_opts_t *o) {
    o->count = 10;
    o->pat = NULL;
    o->plen = 0;
    o->use_pattern = false;
    o->type = NULL;
    for (uint32_t i = first; i < c->argc;) {
        uint32_t left = c->argc - i;
        if (arg_is(&c->argv[i], "count") && left >= 2) {
            if (arg_ll(c, &c->argv[i + 1], &o->count) != 0) return -1;
            if (o->count < 1) {
                reply_syntax_error(c);
                return -1;
            }
            i += 2;
        } else if (arg_is(&c->argv[i], "match") && left >= 2) {
            o->pat = c->argv[i + 1].ptr;
            o->plen = c->argv[i + 1].len;
            /* "*" matches everything: skip the matching altogether. */
            o->use_pattern = !(o->plen == 1 && o->pat[0] == '*');
            i += 2;
        } else if (allow_type && arg_is(&c->argv[i], "type") && left >= 2) {
            o->type = c->argv[i + 1].ptr;
            i += 2;
        } else {
            reply_syntax_error(c);
            return -1;
        }
    }
    return 0;
}

int cmd_parse_scan_cursor(client_t *c, const resp_arg_t *a, uint64_t *out) {
    char *end;
    errno = 0;
    unsigned long long v = strtoull(a->ptr, &end, 10);
    if (isspace((unsigned char)a->ptr[0]) || end[0] != '\0' || errno == ERANGE) {
        reply_error(c, "ERR invalid cursor");
        return -1;
    }
    *out = v;
    return 0;
}
