/* The command table: every family's array registered into one lookup dict. */
#include "cmd.h"

#include "dict.h"
#include "kl_alloc.h"
#include "kl_util.h"
#include "slowlog.h"

#include <ctype.h>
#include <string.h>

static const dict_type_t table_type = {NULL};

/* Commands whose keys are counted by a numkeys argument (Redis's movablekeys):
 * numkeys at argv[numkeys_at], keys right after it, plus a destination key at
 * argv[1] for the *STORE forms. */
static const struct movable {
    const char *name;
    int numkeys_at;
    int dest_first;
} movables[] = {
    {"sintercard", 1, 0}, {"zintercard", 1, 0},  {"lmpop", 1, 0},       {"zmpop", 1, 0},
    {"zunion", 1, 0},     {"zinter", 1, 0},      {"zdiff", 1, 0},       {"blmpop", 2, 0},
    {"bzmpop", 2, 0},     {"zunionstore", 2, 1}, {"zinterstore", 2, 1}, {"zdiffstore", 2, 1},
};

static const struct movable *movable_of(const kl_command_t *cmd) {
    for (size_t i = 0; i < sizeof(movables) / sizeof(movables[0]); i++)
        if (!strcmp(movables[i].name, cmd->name)) return &movables[i];
    return NULL;
}

int cmd_get_keys(const kl_command_t *cmd, const resp_arg_t *argv, int argc, int *keys, int max) {
    int n = 0;
    if (cmd->flags & CMD_MOVABLE_KEYS) {
        const struct movable *m = movable_of(cmd);
        long long numkeys;
        if (!m || m->numkeys_at >= argc) return -1;
        if (kl_str_to_ll(argv[m->numkeys_at].ptr, argv[m->numkeys_at].len, &numkeys) ||
            numkeys <= 0 || numkeys > argc - m->numkeys_at - 1)
            return -1;
        if (m->dest_first) {
            if (n < max) keys[n] = 1;
            n++;
        }
        for (int i = 0; i < (int)numkeys; i++) {
            if (n < max) keys[n] = m->numkeys_at + 1 + i;
            n++;
        }
        return n;
    }
    if (cmd->first_key <= 0) return 0;
    int last = cmd->last_key < 0 ? argc + cmd->last_key : cmd->last_key;
    int step = cmd->key_step > 0 ? cmd->key_step : 1;
    for (int i = cmd->first_key; i <= last && i < argc; i += step) {
        if (n < max) keys[n] = i;
        n++;
    }
    return n;
}
static dict_t *table;
static kl_command_t **all;
static size_t nall, all_cap;

static void add_family(kl_command_t *fam) {
    for (kl_command_t *c = fam; c->name; c++) {
        if (movable_of(c)) c->flags |= CMD_MOVABLE_KEYS;
        dict_entry_t *e = dict_add_or_find(table, c->name, strlen(c->name), NULL);
        dict_entry_set_val(e, c);
        if (nall == all_cap) {
            all_cap = all_cap ? all_cap * 2 : 256;
            all = kl_realloc(all, all_cap * sizeof(*all));
        }
        all[nall++] = c;
    }
}

void cmd_table_init(void) {
    table = dict_create(&table_type);
    add_family(cmds_connection);
    add_family(cmds_server);
    add_family(cmds_string);
    add_family(cmds_keyspace);
    add_family(cmds_list);
    add_family(cmds_hash);
    add_family(cmds_set);
    add_family(cmds_zset);
    add_family(cmds_pubsub);
    add_family(cmds_multi);
    add_family(cmds_memory);
    memory_note_startup(); /* the last start-up step before the I/O layer and clients */
}

void cmd_table_free(void) {
    cmd_stats_reset();
    dict_release(table);
    table = NULL;
    kl_free(all);
    all = NULL;
    nall = all_cap = 0;
}

kl_command_t *cmd_lookup(const char *name, size_t len) {
    char low[64];
    if (len >= sizeof(low)) return NULL;
    for (size_t i = 0; i < len; i++)
        low[i] = (char)tolower((unsigned char)name[i]);
    dict_entry_t *e = dict_find(table, low, len);
    return e ? dict_entry_val(e) : NULL;
}

kl_command_t *cmd_lookup_sub(const kl_command_t *parent, const char *name, size_t len) {
    for (const kl_command_t *s = parent->subcommands; s && s->name; s++) {
        const char *bar = strchr(s->name, '|');
        const char *sn = bar ? bar + 1 : s->name;
        if (strlen(sn) == len && strncasecmp(sn, name, len) == 0) return (kl_command_t *)s;
    }
    return NULL;
}

kl_command_t *cmd_at(size_t i) {
    return i < nall ? all[i] : NULL;
}

size_t cmd_count(void) {
    return nall;
}

void cmd_stats_reset(void) {
    for (size_t i = 0; i < nall; i++) {
        all[i]->calls = all[i]->usec = all[i]->rejected_calls = all[i]->failed_calls = 0;
        latency_hist_reset(all[i]);
        for (kl_command_t *s = (kl_command_t *)all[i]->subcommands; s && s->name; s++) {
            s->calls = s->usec = s->rejected_calls = s->failed_calls = 0;
            latency_hist_reset(s);
        }
    }
}
