/* Unit tests for server/zskiplist.c: ordering, ranks, rank lookups, score and
 * lex ranges and range deletions under random workloads, checked against a
 * sorted-array model (fixed seeds, bounded sizes), plus the range parsers. */
#include <criterion/criterion.h>

#include "zskiplist.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Deterministic test RNG (xorshift64*). */
static uint64_t rng_state;
static uint64_t rnd(void) {
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1dULL;
}

/* ---------------------------------------------------------------- model */

typedef struct mel {
    char m[8];
    size_t len;
    double score;
} mel_t;

typedef struct model {
    mel_t *v;
    size_t n, cap;
} model_t;

static int mel_cmp(const mel_t *a, const mel_t *b) {
    if (a->score < b->score) return -1;
    if (a->score > b->score) return 1;
    return zsl_member_cmp(a->m, a->len, b->m, b->len);
}

static long model_find(const model_t *md, const char *m, size_t len) {
    for (size_t i = 0; i < md->n; i++)
        if (md->v[i].len == len && memcmp(md->v[i].m, m, len) == 0) return (long)i;
    return -1;
}

static void model_del_at(model_t *md, size_t i) {
    memmove(&md->v[i], &md->v[i + 1], (md->n - i - 1) * sizeof(mel_t));
    md->n--;
}

static void model_insert(model_t *md, const char *m, size_t len, double score) {
    long at = model_find(md, m, len);
    if (at >= 0) model_del_at(md, (size_t)at);
    if (md->n == md->cap) {
        md->cap = md->cap ? md->cap * 2 : 64;
        md->v = realloc(md->v, md->cap * sizeof(mel_t));
    }
    mel_t e;
    memcpy(e.m, m, len);
    e.len = len;
    e.score = score;
    size_t i = 0;
    while (i < md->n && mel_cmp(&md->v[i], &e) < 0)
        i++;
    memmove(&md->v[i + 1], &md->v[i], (md->n - i) * sizeof(mel_t));
    md->v[i] = e;
    md->n++;
}

/* Random members over a small alphabet (with NUL bytes) so they collide. */
static size_t rand_member(char *m) {
    static const char alpha[] = {'a', 'b', 'c', '\0', 'z'};
    size_t len = rnd() % 4; /* the empty member too */
    for (size_t i = 0; i < len; i++)
        m[i] = alpha[rnd() % sizeof(alpha)];
    return len;
}

static double rand_score(void) {
    static const double pool[] = {-INFINITY, -1e300, -2.5, -1, -0.0,  0,
                                  0.5,       1,      1,    3,  1e300, INFINITY};
    if (rnd() % 4 == 0) return (double)(int)(rnd() % 20) - 10;
    return pool[rnd() % (sizeof(pool) / sizeof(pool[0]))];
}

static void check_same(zsl_set_t *zs, const model_t *md) {
    cr_assert_eq(zsl_set_validate(zs), 0, "skiplist invariants broken");
    cr_assert_eq(zsl_set_len(zs), md->n);
    size_t i = 0;
    for (zsl_node_t *x = zsl_first(&zs->zsl); x; x = zsl_next(x), i++) {
        size_t len;
        const char *m = zsl_node_member(x, &len);
        cr_assert_lt(i, md->n);
        cr_assert_eq(len, md->v[i].len);
        cr_assert(memcmp(m, md->v[i].m, len) == 0);
        cr_assert(x->score == md->v[i].score);
    }
    cr_assert_eq(i, md->n);
}

/* ---------------------------------------------------------------- helpers */

static zsl_range_t rand_range(void) {
    zsl_range_t r;
    r.min = rand_score();
    r.max = rand_score();
    if (rnd() % 3 && r.min > r.max) {
        double t = r.min;
        r.min = r.max;
        r.max = t;
    }
    r.minex = rnd() % 2;
    r.maxex = rnd() % 2;
    return r;
}

typedef struct lexend {
    char buf[8];
} lexend_t;

static zsl_lex_t rand_lex(lexend_t *a, lexend_t *b) {
    zsl_lex_t r;
    memset(&r, 0, sizeof(r));
    int k1 = (int)(rnd() % 6), k2 = (int)(rnd() % 6);
    r.minkind = k1 == 0 ? ZLEX_NEG_INF : (k1 == 1 ? ZLEX_POS_INF : ZLEX_VALUE);
    r.maxkind = k2 == 0 ? ZLEX_POS_INF : (k2 == 1 ? ZLEX_NEG_INF : ZLEX_VALUE);
    r.minlen = rand_member(a->buf);
    r.maxlen = rand_member(b->buf);
    r.min = a->buf;
    r.max = b->buf;
    r.minex = r.minkind != ZLEX_VALUE || rnd() % 2;
    r.maxex = r.maxkind != ZLEX_VALUE || rnd() % 2;
    return r;
}

static bool model_in_range(const mel_t *e, const zsl_range_t *r) {
    return zsl_value_gte_min(e->score, r) && zsl_value_lte_max(e->score, r);
}

static bool model_in_lex(const mel_t *e, const zsl_lex_t *r) {
    return zsl_lex_gte_min(e->m, e->len, r) && zsl_lex_lte_max(e->m, e->len, r);
}

/* ---------------------------------------------------------------- tests */

Test(zskiplist, empty_set) {
    zsl_set_t *zs = zsl_set_new();
    cr_assert_eq(zsl_set_len(zs), 0);
    cr_assert_null(zsl_first(&zs->zsl));
    cr_assert_null(zsl_by_rank(&zs->zsl, 1));
    cr_assert_eq(zsl_rank(&zs->zsl, 1, "a", 1), 0);
    zsl_range_t r = {.min = -INFINITY, .max = INFINITY};
    cr_assert_null(zsl_first_in_range(&zs->zsl, &r));
    cr_assert_null(zsl_last_in_range(&zs->zsl, &r));
    cr_assert_not(zsl_set_delete(zs, "a", 1));
    cr_assert_eq(zsl_set_delete_range_by_score(zs, &r), 0);
    cr_assert_eq(zsl_set_validate(zs), 0);
    zsl_set_free(zs);
}

Test(zskiplist, order_ties_by_member) {
    zsl_set_t *zs = zsl_set_new();
    zsl_set_insert(zs, "b", 1, 1);
    zsl_set_insert(zs, "a", 1, 1);
    zsl_set_insert(zs, "ab", 2, 1);
    zsl_set_insert(zs, "", 0, 1);
    zsl_set_insert(zs, "z", 1, -0.0);
    zsl_set_insert(zs, "y", 1, 0.0);
    const char *want[] = {"y", "z", "", "a", "ab", "b"};
    size_t i = 0;
    for (zsl_node_t *x = zsl_first(&zs->zsl); x; x = zsl_next(x), i++) {
        size_t len;
        const char *m = zsl_node_member(x, &len);
        cr_assert_eq(len, strlen(want[i]));
        cr_assert(memcmp(m, want[i], len) == 0, "at %zu", i);
        cr_assert_eq(zsl_rank(&zs->zsl, x->score, m, len), i + 1);
        cr_assert_eq(zsl_by_rank(&zs->zsl, i + 1), x);
    }
    /* -0 keeps its sign in the node. */
    zsl_node_t *z = zsl_set_find(zs, "z", 1);
    cr_assert(signbit(z->score));
    cr_assert_eq(zsl_set_validate(zs), 0);
    zsl_set_free(zs);
}

Test(zskiplist, update_in_place_and_moved) {
    zsl_set_t *zs = zsl_set_new();
    for (int i = 0; i < 100; i++) {
        char m[16];
        int n = snprintf(m, sizeof(m), "m%03d", i);
        zsl_set_insert(zs, m, (size_t)n, i * 10);
    }
    zsl_node_t *n = zsl_set_find(zs, "m050", 4);
    zsl_node_t *n2 = zsl_set_update(zs, n, 505);
    cr_assert_eq(n, n2, "order kept: updated in place");
    n2 = zsl_set_update(zs, n2, -1);
    cr_assert_eq(zsl_by_rank(&zs->zsl, 1), n2);
    cr_assert_eq(zsl_set_find(zs, "m050", 4), n2);
    n2 = zsl_set_update(zs, n2, 1e9);
    cr_assert_eq(zs->zsl.tail, n2);
    cr_assert_eq(zsl_set_validate(zs), 0);
    zsl_set_t *d = zsl_set_dup(zs);
    cr_assert_eq(zsl_set_validate(d), 0);
    cr_assert_eq(zsl_set_len(d), 100);
    cr_assert(zsl_set_find(d, "m050", 4)->score == 1e9);
    cr_assert_gt(zsl_set_mem(d), 100 * sizeof(zsl_node_t));
    zsl_set_free(d);
    zsl_set_free(zs);
}

Test(zskiplist, find_or_insert) {
    zsl_set_t *zs = zsl_set_new();
    bool added = false;
    zsl_node_t *a = zsl_set_find_or_insert(zs, "a", 1, 5, &added);
    cr_assert(added);
    cr_assert(a->score == 5);
    zsl_node_t *again = zsl_set_find_or_insert(zs, "a", 1, 7, &added);
    cr_assert_not(added);
    cr_assert_eq(again, a);
    cr_assert(a->score == 5, "an existing member keeps its score");
    /* zsl_set_insert on an existing member updates it instead. */
    zsl_node_t *u = zsl_set_insert(zs, "a", 1, 9);
    cr_assert(u->score == 9);
    cr_assert_eq(zsl_set_len(zs), 1);
    cr_assert_eq(zsl_set_validate(zs), 0);
    zsl_set_free(zs);
}

Test(zskiplist, parse_ranges) {
    zsl_range_t r;
    cr_assert_eq(zsl_parse_range("1", "(2.5", &r), 0);
    cr_assert(r.min == 1 && !r.minex && r.max == 2.5 && r.maxex);
    cr_assert_eq(zsl_parse_range("-inf", "+inf", &r), 0);
    cr_assert(isinf(r.min) && r.min < 0 && isinf(r.max) && r.max > 0);
    cr_assert_eq(zsl_parse_range("(", "", &r), 0, "strtod accepts empty strings");
    cr_assert(r.min == 0 && r.minex && r.max == 0 && !r.maxex);
    cr_assert_eq(zsl_parse_range("nan", "1", &r), -1);
    cr_assert_eq(zsl_parse_range("1", "(nan", &r), -1);
    cr_assert_eq(zsl_parse_range("1x", "1", &r), -1);
    cr_assert_eq(zsl_parse_range("[1", "1", &r), -1);
    cr_assert_eq(zsl_parse_range("0x10", "1e3", &r), 0);
    cr_assert(r.min == 16 && r.max == 1000);
    cr_assert(zsl_range_empty(&(zsl_range_t){.min = 2, .max = 1}));
    cr_assert(zsl_range_empty(&(zsl_range_t){.min = 1, .max = 1, .maxex = true}));
    cr_assert_not(zsl_range_empty(&(zsl_range_t){.min = 1, .max = 1}));

    zsl_lex_t l;
    cr_assert_eq(zsl_parse_lex("-", 1, "+", 1, &l), 0);
    cr_assert(l.minkind == ZLEX_NEG_INF && l.maxkind == ZLEX_POS_INF && l.minex && l.maxex);
    cr_assert_eq(zsl_parse_lex("[a", 2, "(b", 2, &l), 0);
    cr_assert(l.minkind == ZLEX_VALUE && !l.minex && l.minlen == 1 && l.min[0] == 'a');
    cr_assert(l.maxex && l.maxlen == 1 && l.max[0] == 'b');
    cr_assert_eq(zsl_parse_lex("[", 1, "(", 1, &l), 0, "empty values");
    cr_assert(l.minlen == 0 && l.maxlen == 0);
    cr_assert_eq(zsl_parse_lex("a", 1, "+", 1, &l), -1);
    cr_assert_eq(zsl_parse_lex("-", 1, "+x", 2, &l), -1);
    cr_assert_eq(zsl_parse_lex("", 0, "+", 1, &l), -1);
    cr_assert_eq(zsl_parse_lex("+", 1, "+", 1, &l), 0);
    cr_assert(zsl_lex_empty(&l));
    cr_assert_eq(zsl_parse_lex("-", 1, "-", 1, &l), 0);
    cr_assert(zsl_lex_empty(&l));
    cr_assert_eq(zsl_parse_lex("+", 1, "-", 1, &l), 0);
    cr_assert(zsl_lex_empty(&l));
    cr_assert_eq(zsl_parse_lex("[b", 2, "[a", 2, &l), 0);
    cr_assert(zsl_lex_empty(&l));
    cr_assert_eq(zsl_parse_lex("[a", 2, "[a", 2, &l), 0);
    cr_assert_not(zsl_lex_empty(&l));
    cr_assert_eq(zsl_parse_lex("[a", 2, "(a", 2, &l), 0);
    cr_assert(zsl_lex_empty(&l));
}

/* Random inserts, updates and deletes; after each step the whole list is
 * compared with the model, then ranks, rank lookups and ranges are checked. */
static void random_workload(uint64_t seed, int steps, bool equal_scores) {
    rng_state = seed;
    zsl_set_t *zs = zsl_set_new();
    model_t md = {0};
    for (int step = 0; step < steps; step++) {
        char m[8];
        size_t len = rand_member(m);
        double score = equal_scores ? 0 : rand_score();
        unsigned op = (unsigned)(rnd() % 100);
        if (op < 50) {
            zsl_node_t *n = zsl_set_find(zs, m, len);
            if (n)
                zsl_set_update(zs, n, score);
            else
                zsl_set_insert(zs, m, len, score);
            model_insert(&md, m, len, score);
        } else if (op < 75) {
            long at = model_find(&md, m, len);
            cr_assert_eq(zsl_set_delete(zs, m, len), at >= 0);
            if (at >= 0) model_del_at(&md, (size_t)at);
        } else if (op < 83) {
            zsl_range_t r = rand_range();
            unsigned long want = 0;
            for (size_t i = 0; i < md.n;) {
                if (model_in_range(&md.v[i], &r)) {
                    model_del_at(&md, i);
                    want++;
                } else {
                    i++;
                }
            }
            cr_assert_eq(zsl_set_delete_range_by_score(zs, &r), want);
        } else if (op < 91 && equal_scores) {
            lexend_t a, b;
            zsl_lex_t r = rand_lex(&a, &b);
            unsigned long want = 0;
            for (size_t i = 0; i < md.n;) {
                if (model_in_lex(&md.v[i], &r)) {
                    model_del_at(&md, i);
                    want++;
                } else {
                    i++;
                }
            }
            cr_assert_eq(zsl_set_delete_range_by_lex(zs, &r), want);
        } else if (md.n) {
            unsigned long s = 1 + rnd() % md.n;
            unsigned long e = s + rnd() % (md.n - s + 1);
            for (unsigned long i = s; i <= e; i++)
                model_del_at(&md, (size_t)(s - 1));
            cr_assert_eq(zsl_set_delete_range_by_rank(zs, s, e), e - s + 1);
        }
        check_same(zs, &md);

        /* Ranks and rank lookups for every element. */
        for (size_t i = 0; i < md.n; i++) {
            cr_assert_eq(zsl_rank(&zs->zsl, md.v[i].score, md.v[i].m, md.v[i].len), i + 1);
            zsl_node_t *x = zsl_by_rank(&zs->zsl, i + 1);
            cr_assert_not_null(x);
            cr_assert(x->score == md.v[i].score);
            zsl_node_t *f = zsl_set_find(zs, md.v[i].m, md.v[i].len);
            cr_assert_eq(f, x);
        }
        cr_assert_null(zsl_by_rank(&zs->zsl, md.n + 1));
        cr_assert_eq(zsl_rank(&zs->zsl, 12345, "q", 1), 0);

        /* A random score range: first and last in range. */
        zsl_range_t r = rand_range();
        long first = -1, last = -1;
        for (size_t i = 0; i < md.n; i++) {
            if (model_in_range(&md.v[i], &r)) {
                if (first < 0) first = (long)i;
                last = (long)i;
            }
        }
        zsl_node_t *fx = zsl_first_in_range(&zs->zsl, &r);
        zsl_node_t *lx = zsl_last_in_range(&zs->zsl, &r);
        if (first < 0) {
            cr_assert_null(fx);
            cr_assert_null(lx);
        } else {
            cr_assert_eq(fx, zsl_by_rank(&zs->zsl, (unsigned long)first + 1));
            cr_assert_eq(lx, zsl_by_rank(&zs->zsl, (unsigned long)last + 1));
        }

        /* Lex ranges when the scores are all equal. */
        if (equal_scores) {
            lexend_t a, b;
            zsl_lex_t l = rand_lex(&a, &b);
            first = last = -1;
            for (size_t i = 0; i < md.n; i++) {
                if (model_in_lex(&md.v[i], &l)) {
                    if (first < 0) first = (long)i;
                    last = (long)i;
                }
            }
            fx = zsl_first_in_lex(&zs->zsl, &l);
            lx = zsl_last_in_lex(&zs->zsl, &l);
            if (first < 0) {
                cr_assert_null(fx);
                cr_assert_null(lx);
            } else {
                cr_assert_eq(fx, zsl_by_rank(&zs->zsl, (unsigned long)first + 1));
                cr_assert_eq(lx, zsl_by_rank(&zs->zsl, (unsigned long)last + 1));
            }
        }
    }
    zsl_set_t *d = zsl_set_dup(zs);
    check_same(d, &md);
    zsl_set_free(d);
    zsl_set_free(zs);
    free(md.v);
}

Test(zskiplist, random_scores_seed1) {
    random_workload(0x1234567ULL, 3000, false);
}

Test(zskiplist, random_scores_seed2) {
    random_workload(0xdeadbeefULL, 3000, false);
}

Test(zskiplist, random_lex_seed1) {
    random_workload(0xabcdefULL, 3000, true);
}

Test(zskiplist, random_lex_seed2) {
    random_workload(0x5eed5eedULL, 3000, true);
}

/* A larger list: ranks and rank lookups in O(log n) agree with the order. */
Test(zskiplist, large_ranks) {
    zsl_set_t *zs = zsl_set_new();
    enum { N = 20000 };
    for (int i = N - 1; i >= 0; i--) {
        char m[16];
        int n = snprintf(m, sizeof(m), "%08d", i);
        zsl_set_insert(zs, m, (size_t)n, (double)(i / 3));
    }
    cr_assert_eq(zsl_set_len(zs), N);
    for (int i = 0; i < N; i += 97) {
        char m[16];
        int n = snprintf(m, sizeof(m), "%08d", i);
        cr_assert_eq(zsl_rank(&zs->zsl, (double)(i / 3), m, (size_t)n), (unsigned long)i + 1);
        zsl_node_t *x = zsl_by_rank(&zs->zsl, (unsigned long)i + 1);
        size_t len;
        const char *xm = zsl_node_member(x, &len);
        cr_assert(len == (size_t)n && memcmp(xm, m, len) == 0);
    }
    zsl_range_t r = {.min = 100, .max = 200, .maxex = true};
    zsl_node_t *f = zsl_first_in_range(&zs->zsl, &r), *l = zsl_last_in_range(&zs->zsl, &r);
    size_t len;
    cr_assert(memcmp(zsl_node_member(f, &len), "00000300", 8) == 0);
    cr_assert(memcmp(zsl_node_member(l, &len), "00000599", 8) == 0);
    cr_assert_eq(zsl_set_delete_range_by_rank(zs, 1, N / 2), N / 2);
    cr_assert_eq(zsl_set_delete_range_by_score(zs, &r), 0);
    cr_assert_eq(zsl_set_validate(zs), 0);
    cr_assert_eq(zsl_set_len(zs), N / 2);
    zsl_set_free(zs);
}
