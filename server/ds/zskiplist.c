/* The skiplist encoding of sorted sets (see zskiplist.h).
 *
 * The skiplist is the classic one with span counts (as described by Pugh and
 * used by Redis): every level link records how many level-0 steps it skips,
 * so rank queries and rank-indexed lookups sum spans on the way down in
 * O(log n). Node levels are drawn with p = 1/4, capped at ZSL_MAXLEVEL. */
#include "zskiplist.h"

#include "kl_alloc.h"
#include "kl_util.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

static const dict_type_t zsl_dict_type = {NULL};

/* ---------------------------------------------------------------- compare */

int zsl_member_cmp(const char *a, size_t alen, const char *b, size_t blen) {
    size_t n = alen < blen ? alen : blen;
    int c = n ? memcmp(a, b, n) : 0;
    if (c) return c;
    return alen < blen ? -1 : (alen > blen ? 1 : 0);
}

/* Does node n sort before (score, m)? */
static inline bool node_before(const zsl_node_t *n, double score, const char *m, size_t len) {
    if (n->score != score) return n->score < score;
    return zsl_member_cmp(dict_entry_key(n->de), dict_entry_klen(n->de), m, len) < 0;
}

bool zsl_value_gte_min(double v, const zsl_range_t *r) {
    return r->minex ? v > r->min : v >= r->min;
}

bool zsl_value_lte_max(double v, const zsl_range_t *r) {
    return r->maxex ? v < r->max : v <= r->max;
}

bool zsl_range_empty(const zsl_range_t *r) {
    return r->min > r->max || (r->min == r->max && (r->minex || r->maxex));
}

/* Compare a member with a lex range end (the infinities sort outside every
 * member). */
static int lex_cmp_end(const char *m, size_t len, int kind, const char *e, size_t elen) {
    if (kind == ZLEX_NEG_INF) return 1;
    if (kind == ZLEX_POS_INF) return -1;
    return zsl_member_cmp(m, len, e, elen);
}

bool zsl_lex_gte_min(const char *m, size_t len, const zsl_lex_t *r) {
    int c = lex_cmp_end(m, len, r->minkind, r->min, r->minlen);
    return r->minex ? c > 0 : c >= 0;
}

bool zsl_lex_lte_max(const char *m, size_t len, const zsl_lex_t *r) {
    int c = lex_cmp_end(m, len, r->maxkind, r->max, r->maxlen);
    return r->maxex ? c < 0 : c <= 0;
}

bool zsl_lex_empty(const zsl_lex_t *r) {
    int c;
    if (r->minkind == r->maxkind && r->minkind != ZLEX_VALUE)
        c = 0;
    else if (r->minkind == ZLEX_NEG_INF || r->maxkind == ZLEX_POS_INF)
        c = -1;
    else if (r->minkind == ZLEX_POS_INF || r->maxkind == ZLEX_NEG_INF)
        c = 1;
    else
        c = zsl_member_cmp(r->min, r->minlen, r->max, r->maxlen);
    return c > 0 || (c == 0 && (r->minex || r->maxex));
}

static int parse_score_end(const char *s, double *v, bool *ex) {
    char *eptr;
    *ex = false;
    if (s[0] == '(') {
        *ex = true;
        s++;
    }
    *v = strtod(s, &eptr);
    if (eptr[0] != '\0' || isnan(*v)) return -1;
    return 0;
}

int zsl_parse_range(const char *min, const char *max, zsl_range_t *out) {
    if (parse_score_end(min, &out->min, &out->minex) != 0) return -1;
    if (parse_score_end(max, &out->max, &out->maxex) != 0) return -1;
    return 0;
}

static int parse_lex_end(const char *s, size_t len, const char **p, size_t *plen, int *kind,
                         bool *ex) {
    *p = NULL;
    *plen = 0;
    *kind = ZLEX_VALUE;
    switch (s[0]) {
    case '+':
    case '-':
        /* Like Redis, only the C string is looked at: "+" must end there. */
        if (s[1] != '\0') return -1;
        *ex = true;
        *kind = s[0] == '+' ? ZLEX_POS_INF : ZLEX_NEG_INF;
        return 0;
    case '(':
    case '[':
        if (len == 0) return -1;
        *ex = s[0] == '(';
        *p = s + 1;
        *plen = len - 1;
        return 0;
    default:
        return -1;
    }
}

int zsl_parse_lex(const char *min, size_t minlen, const char *max, size_t maxlen, zsl_lex_t *out) {
    if (parse_lex_end(min, minlen, &out->min, &out->minlen, &out->minkind, &out->minex) != 0)
        return -1;
    if (parse_lex_end(max, maxlen, &out->max, &out->maxlen, &out->maxkind, &out->maxex) != 0)
        return -1;
    return 0;
}

/* ---------------------------------------------------------------- nodes */

static zsl_node_t *node_new(int level, double score, dict_entry_t *de) {
    zsl_node_t *n = kl_malloc(sizeof(*n) + (size_t)level * sizeof(struct zsl_level));
    n->de = de;
    n->score = score;
    n->backward = NULL;
    for (int i = 0; i < level; i++) {
        n->level[i].forward = NULL;
        n->level[i].span = 0;
    }
    return n;
}

/* Levels 1..ZSL_MAXLEVEL with P(level > k) = 4^-k. */
static int random_level(void) {
    uint64_t r = kl_rand64();
    int level = 1;
    /* Two random bits per extra level: 1 in 4 chance to go up each time. */
    while ((r & 3) == 0 && level < ZSL_MAXLEVEL) {
        level++;
        r >>= 2; /* 64 bits give the 31 draws ZSL_MAXLEVEL can use */
    }
    return level;
}

static void zsl_init(zsl_t *zsl) {
    zsl->level = 1;
    zsl->length = 0;
    zsl->header = node_new(ZSL_MAXLEVEL, 0, NULL);
    zsl->tail = NULL;
}

/* Link a new node for de (member bytes in de) at its place. */
static zsl_node_t *zsl_insert(zsl_t *zsl, double score, dict_entry_t *de) {
    zsl_node_t *update[ZSL_MAXLEVEL], *x = zsl->header;
    unsigned long rank[ZSL_MAXLEVEL];
    const char *m = dict_entry_key(de);
    size_t len = dict_entry_klen(de);
    for (int i = zsl->level - 1; i >= 0; i--) {
        rank[i] = i == zsl->level - 1 ? 0 : rank[i + 1];
        while (x->level[i].forward && node_before(x->level[i].forward, score, m, len)) {
            rank[i] += x->level[i].span;
            x = x->level[i].forward;
        }
        update[i] = x;
    }
    int level = random_level();
    if (level > zsl->level) {
        for (int i = zsl->level; i < level; i++) {
            rank[i] = 0;
            update[i] = zsl->header;
            update[i]->level[i].span = zsl->length;
        }
        zsl->level = level;
    }
    x = node_new(level, score, de);
    for (int i = 0; i < level; i++) {
        x->level[i].forward = update[i]->level[i].forward;
        update[i]->level[i].forward = x;
        x->level[i].span = update[i]->level[i].span - (rank[0] - rank[i]);
        update[i]->level[i].span = (rank[0] - rank[i]) + 1;
    }
    for (int i = level; i < zsl->level; i++)
        update[i]->level[i].span++;
    x->backward = update[0] == zsl->header ? NULL : update[0];
    if (x->level[0].forward)
        x->level[0].forward->backward = x;
    else
        zsl->tail = x;
    zsl->length++;
    return x;
}

/* Unlink x given the rightmost node before it on every level. */
static void zsl_unlink(zsl_t *zsl, zsl_node_t *x, zsl_node_t **update) {
    for (int i = 0; i < zsl->level; i++) {
        if (update[i]->level[i].forward == x) {
            update[i]->level[i].span += x->level[i].span - 1;
            update[i]->level[i].forward = x->level[i].forward;
        } else {
            update[i]->level[i].span -= 1;
        }
    }
    if (x->level[0].forward)
        x->level[0].forward->backward = x->backward;
    else
        zsl->tail = x->backward;
    while (zsl->level > 1 && zsl->header->level[zsl->level - 1].forward == NULL)
        zsl->level--;
    zsl->length--;
}

/* Fill update[] for node n (which is in the list). */
static void find_update(const zsl_t *zsl, const zsl_node_t *n, zsl_node_t **update) {
    zsl_node_t *x = zsl->header;
    const char *m = dict_entry_key(n->de);
    size_t len = dict_entry_klen(n->de);
    for (int i = zsl->level - 1; i >= 0; i--) {
        while (x->level[i].forward && x->level[i].forward != n &&
               node_before(x->level[i].forward, n->score, m, len))
            x = x->level[i].forward;
        update[i] = x;
    }
}

/* ---------------------------------------------------------------- the set */

zsl_set_t *zsl_set_new(void) {
    zsl_set_t *zs = kl_malloc(sizeof(*zs));
    zs->dict = dict_create(&zsl_dict_type);
    zsl_init(&zs->zsl);
    return zs;
}

void zsl_set_free(zsl_set_t *zs) {
    if (!zs) return;
    zsl_node_t *n = zs->zsl.header->level[0].forward;
    while (n) {
        zsl_node_t *next = n->level[0].forward;
        kl_free(n);
        n = next;
    }
    kl_free(zs->zsl.header);
    dict_release(zs->dict);
    kl_free(zs);
}

zsl_set_t *zsl_set_dup(const zsl_set_t *zs) {
    zsl_set_t *d = zsl_set_new();
    /* Walking backwards and inserting each node first keeps every insert at
     * the head: O(level) per node instead of O(log n). */
    for (zsl_node_t *n = zs->zsl.tail; n; n = n->backward) {
        size_t len;
        const char *m = zsl_node_member(n, &len);
        zsl_set_insert(d, m, len, n->score);
    }
    return d;
}

size_t zsl_set_mem(const zsl_set_t *zs) {
    /* An estimate in O(1): the average node has 4/3 levels. */
    size_t node = sizeof(zsl_node_t) + sizeof(struct zsl_level) * 4 / 3;
    return sizeof(*zs) + dict_mem_usage(zs->dict) + sizeof(zsl_node_t) +
           ZSL_MAXLEVEL * sizeof(struct zsl_level) + zs->zsl.length * node;
}

zsl_node_t *zsl_set_find(zsl_set_t *zs, const char *m, size_t len) {
    dict_entry_t *de = dict_find(zs->dict, m, len);
    return de ? dict_entry_val(de) : NULL;
}

zsl_node_t *zsl_set_insert(zsl_set_t *zs, const char *m, size_t len, double score) {
    int existed;
    dict_entry_t *de = dict_add_or_find(zs->dict, m, len, &existed);
    if (existed) return zsl_set_update(zs, dict_entry_val(de), score);
    zsl_node_t *n = zsl_insert(&zs->zsl, score, de);
    dict_entry_set_val(de, n);
    return n;
}

zsl_node_t *zsl_set_find_or_insert(zsl_set_t *zs, const char *m, size_t len, double score,
                                   bool *added) {
    int existed;
    dict_entry_t *de = dict_add_or_find(zs->dict, m, len, &existed);
    *added = !existed;
    if (existed) return dict_entry_val(de);
    zsl_node_t *n = zsl_insert(&zs->zsl, score, de);
    dict_entry_set_val(de, n);
    return n;
}

zsl_node_t *zsl_set_update(zsl_set_t *zs, zsl_node_t *n, double score) {
    zsl_t *zsl = &zs->zsl;
    /* The same place is still right when the neighbours' scores keep it in
     * order: only the score changes. */
    if ((n->backward == NULL || n->backward->score < score) &&
        (n->level[0].forward == NULL || n->level[0].forward->score > score)) {
        n->score = score;
        return n;
    }
    zsl_node_t *update[ZSL_MAXLEVEL];
    find_update(zsl, n, update);
    zsl_unlink(zsl, n, update);
    dict_entry_t *de = n->de;
    kl_free(n);
    n = zsl_insert(zsl, score, de);
    dict_entry_set_val(de, n);
    return n;
}

void zsl_set_delete_node(zsl_set_t *zs, zsl_node_t *n) {
    zsl_node_t *update[ZSL_MAXLEVEL];
    find_update(&zs->zsl, n, update);
    zsl_unlink(&zs->zsl, n, update);
    dict_entry_t *de = dict_unlink(zs->dict, dict_entry_key(n->de), dict_entry_klen(n->de));
    dict_entry_free(zs->dict, de, 0);
    kl_free(n);
}

bool zsl_set_delete(zsl_set_t *zs, const char *m, size_t len) {
    zsl_node_t *n = zsl_set_find(zs, m, len);
    if (!n) return false;
    zsl_set_delete_node(zs, n);
    return true;
}

/* Remove nodes from x on while keep(x) says so; update[] is the rightmost
 * node before x on every level. */
static void remove_node_at(zsl_set_t *zs, zsl_node_t *x, zsl_node_t **update) {
    zsl_unlink(&zs->zsl, x, update);
    dict_entry_t *de = dict_unlink(zs->dict, dict_entry_key(x->de), dict_entry_klen(x->de));
    dict_entry_free(zs->dict, de, 0);
    kl_free(x);
}

unsigned long zsl_set_delete_range_by_score(zsl_set_t *zs, const zsl_range_t *r) {
    zsl_t *zsl = &zs->zsl;
    zsl_node_t *update[ZSL_MAXLEVEL], *x = zsl->header;
    unsigned long removed = 0;
    for (int i = zsl->level - 1; i >= 0; i--) {
        while (x->level[i].forward && !zsl_value_gte_min(x->level[i].forward->score, r))
            x = x->level[i].forward;
        update[i] = x;
    }
    x = x->level[0].forward;
    while (x && zsl_value_lte_max(x->score, r)) {
        zsl_node_t *next = x->level[0].forward;
        remove_node_at(zs, x, update);
        removed++;
        x = next;
    }
    return removed;
}

unsigned long zsl_set_delete_range_by_lex(zsl_set_t *zs, const zsl_lex_t *r) {
    zsl_t *zsl = &zs->zsl;
    zsl_node_t *update[ZSL_MAXLEVEL], *x = zsl->header;
    unsigned long removed = 0;
    size_t len;
    const char *m;
    for (int i = zsl->level - 1; i >= 0; i--) {
        while (x->level[i].forward) {
            m = zsl_node_member(x->level[i].forward, &len);
            if (zsl_lex_gte_min(m, len, r)) break;
            x = x->level[i].forward;
        }
        update[i] = x;
    }
    x = x->level[0].forward;
    while (x) {
        m = zsl_node_member(x, &len);
        if (!zsl_lex_lte_max(m, len, r)) break;
        zsl_node_t *next = x->level[0].forward;
        remove_node_at(zs, x, update);
        removed++;
        x = next;
    }
    return removed;
}

unsigned long zsl_set_delete_range_by_rank(zsl_set_t *zs, unsigned long start, unsigned long end) {
    zsl_t *zsl = &zs->zsl;
    zsl_node_t *update[ZSL_MAXLEVEL], *x = zsl->header;
    unsigned long traversed = 0, removed = 0;
    for (int i = zsl->level - 1; i >= 0; i--) {
        while (x->level[i].forward && traversed + x->level[i].span < start) {
            traversed += x->level[i].span;
            x = x->level[i].forward;
        }
        update[i] = x;
    }
    traversed++;
    x = x->level[0].forward;
    while (x && traversed <= end) {
        zsl_node_t *next = x->level[0].forward;
        remove_node_at(zs, x, update);
        removed++;
        traversed++;
        x = next;
    }
    return removed;
}

/* ---------------------------------------------------------------- queries */

unsigned long zsl_rank(const zsl_t *zsl, double score, const char *m, size_t len) {
    zsl_node_t *x = zsl->header;
    unsigned long rank = 0;
    for (int i = zsl->level - 1; i >= 0; i--) {
        while (x->level[i].forward) {
            zsl_node_t *f = x->level[i].forward;
            if (f->score < score) {
                /* before */
            } else if (f->score == score) {
                size_t flen = dict_entry_klen(f->de);
                if (zsl_member_cmp(dict_entry_key(f->de), flen, m, len) > 0) break;
            } else {
                break;
            }
            rank += x->level[i].span;
            x = f;
        }
        /* x is the last node <= (score, m): it is the member itself or the
         * member is not in the list. */
        if (x != zsl->header && x->score == score &&
            zsl_member_cmp(dict_entry_key(x->de), dict_entry_klen(x->de), m, len) == 0)
            return rank;
    }
    return 0;
}

zsl_node_t *zsl_by_rank(const zsl_t *zsl, unsigned long rank) {
    if (rank == 0 || rank > zsl->length) return NULL;
    zsl_node_t *x = zsl->header;
    unsigned long traversed = 0;
    for (int i = zsl->level - 1; i >= 0; i--) {
        while (x->level[i].forward && traversed + x->level[i].span <= rank) {
            traversed += x->level[i].span;
            x = x->level[i].forward;
        }
        if (traversed == rank) return x;
    }
    return NULL;
}

static bool zsl_in_range(const zsl_t *zsl, const zsl_range_t *r) {
    if (zsl_range_empty(r)) return false;
    zsl_node_t *x = zsl->tail;
    if (!x || !zsl_value_gte_min(x->score, r)) return false;
    x = zsl->header->level[0].forward;
    if (!x || !zsl_value_lte_max(x->score, r)) return false;
    return true;
}

zsl_node_t *zsl_first_in_range(const zsl_t *zsl, const zsl_range_t *r) {
    if (!zsl_in_range(zsl, r)) return NULL;
    zsl_node_t *x = zsl->header;
    for (int i = zsl->level - 1; i >= 0; i--)
        while (x->level[i].forward && !zsl_value_gte_min(x->level[i].forward->score, r))
            x = x->level[i].forward;
    x = x->level[0].forward;
    if (!x || !zsl_value_lte_max(x->score, r)) return NULL;
    return x;
}

zsl_node_t *zsl_last_in_range(const zsl_t *zsl, const zsl_range_t *r) {
    if (!zsl_in_range(zsl, r)) return NULL;
    zsl_node_t *x = zsl->header;
    for (int i = zsl->level - 1; i >= 0; i--)
        while (x->level[i].forward && zsl_value_lte_max(x->level[i].forward->score, r))
            x = x->level[i].forward;
    if (x == zsl->header || !zsl_value_gte_min(x->score, r)) return NULL;
    return x;
}

static bool zsl_in_lex(const zsl_t *zsl, const zsl_lex_t *r) {
    size_t len;
    const char *m;
    if (zsl_lex_empty(r)) return false;
    zsl_node_t *x = zsl->tail;
    if (!x) return false;
    m = zsl_node_member(x, &len);
    if (!zsl_lex_gte_min(m, len, r)) return false;
    x = zsl->header->level[0].forward;
    m = zsl_node_member(x, &len);
    if (!zsl_lex_lte_max(m, len, r)) return false;
    return true;
}

zsl_node_t *zsl_first_in_lex(const zsl_t *zsl, const zsl_lex_t *r) {
    if (!zsl_in_lex(zsl, r)) return NULL;
    zsl_node_t *x = zsl->header;
    size_t len;
    const char *m;
    for (int i = zsl->level - 1; i >= 0; i--) {
        while (x->level[i].forward) {
            m = zsl_node_member(x->level[i].forward, &len);
            if (zsl_lex_gte_min(m, len, r)) break;
            x = x->level[i].forward;
        }
    }
    x = x->level[0].forward;
    if (!x) return NULL;
    m = zsl_node_member(x, &len);
    return zsl_lex_lte_max(m, len, r) ? x : NULL;
}

zsl_node_t *zsl_last_in_lex(const zsl_t *zsl, const zsl_lex_t *r) {
    if (!zsl_in_lex(zsl, r)) return NULL;
    zsl_node_t *x = zsl->header;
    size_t len;
    const char *m;
    for (int i = zsl->level - 1; i >= 0; i--) {
        while (x->level[i].forward) {
            m = zsl_node_member(x->level[i].forward, &len);
            if (!zsl_lex_lte_max(m, len, r)) break;
            x = x->level[i].forward;
        }
    }
    if (x == zsl->header) return NULL;
    m = zsl_node_member(x, &len);
    return zsl_lex_gte_min(m, len, r) ? x : NULL;
}

/* ---------------------------------------------------------------- checks */

int zsl_set_validate(const zsl_set_t *zs) {
    const zsl_t *zsl = &zs->zsl;
    if (zsl->level < 1 || zsl->level > ZSL_MAXLEVEL) return -1;
    /* Level 0: order, backward links, tail, length, dict. */
    unsigned long count = 0;
    zsl_node_t *prev = NULL;
    for (zsl_node_t *x = zsl->header->level[0].forward; x; x = x->level[0].forward) {
        if (x->backward != prev) return -1;
        if (isnan(x->score)) return -1;
        if (prev) {
            size_t len;
            const char *m = zsl_node_member(x, &len);
            if (!node_before(prev, x->score, m, len)) return -1;
        }
        dict_entry_t *de = dict_find(zs->dict, dict_entry_key(x->de), dict_entry_klen(x->de));
        if (de != x->de || dict_entry_val(de) != x) return -1;
        count++;
        if (count > zsl->length) return -1;
        prev = x;
    }
    if (count != zsl->length || zsl->tail != prev) return -1;
    if (dict_size(zs->dict) != count) return -1;
    /* Every level: spans equal the rank differences. */
    for (int i = 0; i < ZSL_MAXLEVEL; i++) {
        zsl_node_t *x = zsl->header;
        unsigned long rank = 0;
        if (i >= zsl->level) {
            if (x->level[i].forward) return -1;
            continue;
        }
        while (x->level[i].forward) {
            zsl_node_t *f = x->level[i].forward;
            size_t len;
            const char *m = zsl_node_member(f, &len);
            unsigned long r = zsl_rank(zsl, f->score, m, len);
            if (r == 0 || r != rank + x->level[i].span) return -1;
            rank = r;
            x = f;
        }
    }
    if (zsl->level > 1 && !zsl->header->level[zsl->level - 1].forward) return -1;
    return 0;
}
