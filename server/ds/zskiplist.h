/* The skiplist encoding of sorted sets: a skiplist ordered by (score, member
 * bytes) with span counts (O(log n) rank and rank-indexed access) plus a
 * dict from member to node (O(1) ZSCORE and membership).
 *
 * Memory: a member's bytes are stored once, in its dict entry (the dict copies
 * keys into the entry). The skiplist node points at that entry and the entry's
 * value points back at the node, so one member costs one dict entry, one node
 * (score, backward pointer and 1.33 levels on average) and a bucket slot,
 * which is a little less than Redis's dictEntry + sds + node.
 *
 * Ordering: scores compare numerically (so -0 == 0), ties by member bytes with
 * memcmp over the shorter length and the shorter member first (sdscmp). NaN
 * scores are never stored.
 *
 * Ranges: score ranges (zsl_range_t, inclusive or exclusive ends, +/-inf are
 * plain doubles) and lex ranges (zsl_lex_t, ends may be "-"/"+" infinities).
 * Lex ranges are only meaningful when all scores are equal; otherwise the
 * result depends on the skiplist's shape, as in Redis.
 *
 * Pure module: no I/O, no globals except the random level generator.
 * Thread: a zsl_set_t is owned by one thread (the executor). */
#ifndef KL_ZSKIPLIST_H
#define KL_ZSKIPLIST_H

#include "dict.h"

#include <stdbool.h>
#include <stddef.h>

#define ZSL_MAXLEVEL 32

typedef struct zsl_node {
    dict_entry_t *de; /* member bytes: dict_entry_key / dict_entry_klen */
    double score;
    struct zsl_node *backward;
    struct zsl_level {
        struct zsl_node *forward;
        unsigned long span; /* nodes skipped by forward, counting it */
    } level[];
} zsl_node_t;

typedef struct zsl {
    zsl_node_t *header, *tail;
    unsigned long length;
    int level;
} zsl_t;

/* The whole encoding: member -> node dict plus the skiplist. */
typedef struct zsl_set {
    dict_t *dict;
    zsl_t zsl;
} zsl_set_t;

/* A score interval. */
typedef struct zsl_range {
    double min, max;
    bool minex, maxex; /* exclusive ends */
} zsl_range_t;

/* A lex interval end: a member value or one of the two infinities. */
enum { ZLEX_VALUE = 0, ZLEX_NEG_INF = 1, ZLEX_POS_INF = 2 };
typedef struct zsl_lex {
    const char *min, *max; /* point into the caller's arguments */
    size_t minlen, maxlen;
    int minkind, maxkind; /* ZLEX_* */
    bool minex, maxex;
} zsl_lex_t;

static inline const char *zsl_node_member(const zsl_node_t *n, size_t *len) {
    *len = dict_entry_klen(n->de);
    return dict_entry_key(n->de);
}

/* ---- Comparisons and range predicates (Thread: any) ------------------- */

/* sdscmp order: memcmp of the common prefix, then the shorter first. */
int zsl_member_cmp(const char *a, size_t alen, const char *b, size_t blen);
bool zsl_value_gte_min(double v, const zsl_range_t *r);
bool zsl_value_lte_max(double v, const zsl_range_t *r);
/* True when the interval can contain nothing (min > max, or a point with an
 * exclusive end). */
bool zsl_range_empty(const zsl_range_t *r);
bool zsl_lex_gte_min(const char *m, size_t len, const zsl_lex_t *r);
bool zsl_lex_lte_max(const char *m, size_t len, const zsl_lex_t *r);
bool zsl_lex_empty(const zsl_lex_t *r);
/* Parse Redis's range arguments (NUL-terminated strings; what follows an
 * embedded NUL is ignored, as strtod does in Redis). Score ends: "(x"
 * exclusive, otherwise inclusive, strtod syntax, NaN rejected. Lex ends:
 * "-", "+", "[x", "(x". Return 0 or -1. */
int zsl_parse_range(const char *min, const char *max, zsl_range_t *out);
int zsl_parse_lex(const char *min, size_t minlen, const char *max, size_t maxlen, zsl_lex_t *out);

/* ---- The encoding ------------------------------------------------------ */

/* A new empty set (caller owns it). */
zsl_set_t *zsl_set_new(void);
void zsl_set_free(zsl_set_t *zs);
/* Deep copy. */
zsl_set_t *zsl_set_dup(const zsl_set_t *zs);
/* Bytes owned by the set (nodes, dict entries and tables). */
size_t zsl_set_mem(const zsl_set_t *zs);

static inline unsigned long zsl_set_len(const zsl_set_t *zs) {
    return zs->zsl.length;
}
/* The member's node, or NULL. */
zsl_node_t *zsl_set_find(zsl_set_t *zs, const char *m, size_t len);
/* Add a member (a member already there gets the new score, as with
 * zsl_set_update); returns its node. */
zsl_node_t *zsl_set_insert(zsl_set_t *zs, const char *m, size_t len, double score);
/* The member's node, adding it with score when absent (*added says which):
 * one hash lookup either way. An existing node is returned unchanged. */
zsl_node_t *zsl_set_find_or_insert(zsl_set_t *zs, const char *m, size_t len, double score,
                                   bool *added);
/* Change a node's score: in place when the neighbours' scores keep the order,
 * otherwise the node is unlinked, freed and a new one inserted. Returns the
 * member's node (n is invalid afterwards if it was replaced). */
zsl_node_t *zsl_set_update(zsl_set_t *zs, zsl_node_t *n, double score);
/* Remove a node (and its dict entry). */
void zsl_set_delete_node(zsl_set_t *zs, zsl_node_t *n);
/* Remove a member; returns true if it was there. */
bool zsl_set_delete(zsl_set_t *zs, const char *m, size_t len);

/* Range deletions; return how many members were removed. Ranks are 1-based
 * and inclusive (start <= end, both within 1..length). */
unsigned long zsl_set_delete_range_by_score(zsl_set_t *zs, const zsl_range_t *r);
unsigned long zsl_set_delete_range_by_lex(zsl_set_t *zs, const zsl_lex_t *r);
unsigned long zsl_set_delete_range_by_rank(zsl_set_t *zs, unsigned long start, unsigned long end);

/* ---- Queries on the skiplist ------------------------------------------ */

static inline zsl_node_t *zsl_first(const zsl_t *zsl) {
    return zsl->header->level[0].forward;
}
static inline zsl_node_t *zsl_last(const zsl_t *zsl) {
    return zsl->tail;
}
static inline zsl_node_t *zsl_next(const zsl_node_t *n) {
    return n->level[0].forward;
}
static inline zsl_node_t *zsl_prev(const zsl_node_t *n) {
    return n->backward;
}
/* 1-based rank of (score, member), 0 if it is not in the list. */
unsigned long zsl_rank(const zsl_t *zsl, double score, const char *m, size_t len);
/* The node at 1-based rank, NULL when out of range. */
zsl_node_t *zsl_by_rank(const zsl_t *zsl, unsigned long rank);
/* First / last node within the range, NULL if none. */
zsl_node_t *zsl_first_in_range(const zsl_t *zsl, const zsl_range_t *r);
zsl_node_t *zsl_last_in_range(const zsl_t *zsl, const zsl_range_t *r);
zsl_node_t *zsl_first_in_lex(const zsl_t *zsl, const zsl_lex_t *r);
zsl_node_t *zsl_last_in_lex(const zsl_t *zsl, const zsl_lex_t *r);

/* Consistency check for tests: ordering, spans, backward links, tail, length
 * and the dict. Returns 0 or -1. */
int zsl_set_validate(const zsl_set_t *zs);

#endif
