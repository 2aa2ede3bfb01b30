/* The command table: every family's array registered into one lookup dict. */
#include "cmd.h"

#include "dict.h"
#include "kl_alloc.h"
#include "kl_util.h"
#include "slowlog.h"

#include <ctype.h>
#include <string.h>

static const dict_type_t table_type = {NULL};

int cmd_get_keys(const kl_command_t *cmd, const resp_arg_t *argv, int argc, int *keys, int max) {
    int n = 0;
    const cmd_keyspec_t *ks = &cmd->keys;
    if (ks->numkeys_at > 0) {
        long long numkeys;
        int at = ks->numkeys_at;
        if (at >= argc) return -1;
        if (kl_str_to_ll(argv[at].ptr, argv[at].len, &numkeys) || numkeys <= 0 ||
            numkeys > argc - at - 1)
            return -1;
        if (ks->dest > 0) {
            if (n < max) keys[n] = ks->dest;
            n++;
        }
        for (int i = 0; i < (int)numkeys; i++) {
            if (n < max) keys[n] = at + 1 + i;
            n++;
        }
        return n;
    }
    if (ks->first <= 0) return 0;
    int last = ks->last < 0 ? argc + ks->last : ks->last;
    int step = ks->step > 0 ? ks->step : 1;
    for (int i = ks->first; i <= last && i < argc; i += step) {
        if (n < max) keys[n] = i;
        n++;
    }
    return n;
}
static dict_t *table;
static kl_command_t **all;
static size_t nall, all_cap;

void cmd_table_register(kl_command_t *fam) {
    for (kl_command_t *c = fam; c->name; c++) {
        if (c->keys.numkeys_at > 0) c->flags |= CMD_MOVABLE_KEYS;
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
