/* Unit tests for server/quicklist.c: pushes, indexes, inserts, replaces and
 * range deletes at every fill setting, plain nodes for big elements, node
 * merging, iteration with deletion in both directions, and randomized
 * workloads checked against a simple array model (fixed seeds, bounded
 * loops). ql_validate checks links, counts and node limits after each step. */
#include <criterion/criterion.h>

#include "kl_alloc.h"
#include "kl_util.h"
#include "quicklist.h"

#include <limits.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

static uint64_t rng_state;
static uint64_t rnd(void) {
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545f4914f6cdd1dULL;
}

/* ---- model ------------------------------------------------------------------- */

typedef struct mstr {
    unsigned char *p;
    size_t len;
} mstr_t;

typedef struct model {
    mstr_t *v;
    long n, cap;
} model_t;

static void m_insert(model_t *m, long pos, const unsigned char *s, size_t len) {
    if (m->n == m->cap) {
        m->cap = m->cap ? m->cap * 2 : 64;
        m->v = kl_realloc(m->v, (size_t)m->cap * sizeof *m->v);
    }
    memmove(m->v + pos + 1, m->v + pos, (size_t)(m->n - pos) * sizeof *m->v);
    m->v[pos].p = kl_memdup(s, len ? len : 1);
    m->v[pos].len = len;
    m->n++;
}

static void m_delete(model_t *m, long pos, long num) {
    for (long i = 0; i < num; i++)
        kl_free(m->v[pos + i].p);
    memmove(m->v + pos, m->v + pos + num, (size_t)(m->n - pos - num) * sizeof *m->v);
    m->n -= num;
}

static void m_free(model_t *m) {
    m_delete(m, 0, m->n);
    kl_free(m->v);
    memset(m, 0, sizeof *m);
}

static bool entry_is(const ql_entry_t *e, const unsigned char *s, size_t len) {
    unsigned char buf[KL_LLSTR_SIZE];
    size_t l;
    const unsigned char *b = ql_entry_bytes(e, buf, &l);
    return l == len && (len == 0 || memcmp(b, s, len) == 0);
}

static void check(quicklist_t *ql, model_t *m) {
    cr_assert_eq(ql_validate(ql), 0, "quicklist does not validate");
    cr_assert_eq(ql_count(ql), (unsigned long)m->n);
    ql_iter_t it;
    ql_entry_t e;
    long i = 0;
    ql_iter_init(&it, ql, QL_FORWARD, 0);
    while (ql_iter_next(&it, &e)) {
        cr_assert_lt(i, m->n);
        cr_assert_eq(ql_iter_index(&it), i);
        cr_assert(entry_is(&e, m->v[i].p, m->v[i].len), "mismatch at %ld", i);
        i++;
    }
    ql_iter_done(&it);
    cr_assert_eq(i, m->n);
    ql_iter_init(&it, ql, QL_BACKWARD, -1);
    while (ql_iter_next(&it, &e)) {
        i--;
        cr_assert_eq(ql_iter_index(&it), i);
        cr_assert(entry_is(&e, m->v[i].p, m->v[i].len), "backwards mismatch at %ld", i);
    }
    ql_iter_done(&it);
    cr_assert_eq(i, 0);
}

/* Values: small ints, big ints, short strings, and now and then an element
 * larger than any node limit. */
static size_t rand_value(unsigned char *buf, size_t cap, int big_pct) {
    uint64_t k = rnd() % 100;
    if (k < 30) return (size_t)kl_ll_to_str((char *)buf, cap, (long long)(rnd() % 2000) - 1000);
    if (k < 40) return (size_t)kl_ll_to_str((char *)buf, cap, (long long)rnd());
    size_t len;
    if ((int)(rnd() % 100) < big_pct)
        len = 4000 + rnd() % 70000;
    else
        len = rnd() % 40;
    if (len > cap) len = cap;
    for (size_t i = 0; i < len; i++)
        buf[i] = (unsigned char)('a' + rnd() % 26);
    if (len > 2 && rnd() % 4 == 0) buf[1] = 0;
    return len;
}

/* ---- directed tests ------------------------------------------------------------ */

Test(quicklist, empty) {
    quicklist_t *ql = ql_new(-2, 0);
    ql_entry_t e;
    cr_assert_eq(ql_count(ql), 0);
    cr_assert_eq(ql_node_count(ql), 0);
    cr_assert_not(ql_index(ql, 0, &e));
    cr_assert_not(ql_index(ql, -1, &e));
    cr_assert_not(ql_replace_at(ql, 0, (const unsigned char *)"x", 1));
    cr_assert_not(ql_insert_at(ql, 1, (const unsigned char *)"x", 1));
    cr_assert_not(ql_insert_at(ql, -1, (const unsigned char *)"x", 1));
    cr_assert_eq(ql_del_range(ql, 0, 5), 0);
    ql_iter_t it;
    ql_iter_init(&it, ql, QL_FORWARD, 0);
    cr_assert_not(ql_iter_next(&it, &e));
    ql_iter_done(&it);
    cr_assert_eq(ql_validate(ql), 0);
    ql_free(ql);
    ql_free(NULL);
}

Test(quicklist, push_index_fill_counts) {
    int fills[] = {1, 2, 3, 5, 128, 0, -1, -2, -5, -100, 100000};
    for (size_t f = 0; f < sizeof fills / sizeof fills[0]; f++) {
        quicklist_t *ql = ql_new(fills[f], 0);
        for (int i = 0; i < 1000; i++) {
            char b[32];
            int n = snprintf(b, sizeof b, "%s%d", i % 3 ? "v" : "", i);
            ql_push(ql, i % 2 ? QL_TAIL : QL_HEAD, (unsigned char *)b, (size_t)n);
        }
        cr_assert_eq(ql_validate(ql), 0, "fill %d", fills[f]);
        cr_assert_eq(ql_count(ql), 1000);
        if (fills[f] == 1 || fills[f] == 0) cr_assert_eq(ql_node_count(ql), 1000);
        if (fills[f] == 128) cr_assert_leq(ql_node_count(ql), 10);
        /* Head holds 998, 996, ..., 0, then 1, 3, ..., 999. */
        ql_entry_t e;
        for (long i = 0; i < 1000; i++) {
            long v = i < 500 ? 998 - 2 * i : 2 * (i - 500) + 1;
            char b[32];
            int n = snprintf(b, sizeof b, "%s%ld", v % 3 ? "v" : "", v);
            cr_assert(ql_index(ql, i, &e));
            cr_assert(entry_is(&e, (unsigned char *)b, (size_t)n), "fill %d i %ld", fills[f], i);
            cr_assert(ql_index(ql, i - 1000, &e));
            cr_assert(entry_is(&e, (unsigned char *)b, (size_t)n));
        }
        cr_assert_not(ql_index(ql, 1000, &e));
        cr_assert_not(ql_index(ql, -1001, &e));
        cr_assert_not(ql_index(ql, LONG_MIN, &e));
        cr_assert_eq(ql_fill(ql), fills[f] < -5 ? -5 : fills[f] > 32767 ? 32767 : fills[f]);
        ql_free(ql);
    }
}

Test(quicklist, node_byte_limits) {
    /* -1 = 4 KB nodes: 100-byte elements pack about 39 per node. */
    quicklist_t *ql = ql_new(-1, 1);
    unsigned char v[100];
    memset(v, 'x', sizeof v);
    for (int i = 0; i < 390; i++)
        ql_push(ql, QL_TAIL, v, sizeof v);
    cr_assert_eq(ql_validate(ql), 0);
    cr_assert_geq(ql_node_count(ql), 10);
    cr_assert_leq(ql_node_count(ql), 11);
    cr_assert_eq(ql_compress_depth(ql), 1);
    cr_assert_geq(ql_payload_bytes(ql), 390 * 100);
    /* Inner nodes of repetitive data are compressed: far less memory. */
    cr_assert_eq(ql_compressed_nodes(ql), ql_node_count(ql) - 2);
    cr_assert_lt(ql_mem_usage(ql), ql_payload_bytes(ql) / 4);
    ql_free(ql);
    ql = ql_new(-1, 0);
    for (int i = 0; i < 390; i++)
        ql_push(ql, QL_TAIL, v, sizeof v);
    cr_assert_eq(ql_compressed_nodes(ql), 0);
    cr_assert_geq(ql_mem_usage(ql), ql_payload_bytes(ql));
    ql_free(ql);
}

Test(quicklist, big_elements_get_plain_nodes) {
    /* Plain nodes start at Redis's packed threshold (1 GB); lowered here as
     * DEBUG QUICKLIST-PACKED-THRESHOLD does in Redis's own tests. */
    size_t old_threshold = ql_set_packed_threshold(65536);
    quicklist_t *ql = ql_new(-2, 0);
    size_t big = 100000;
    unsigned char *b = kl_malloc(big);
    memset(b, 'B', big);
    ql_push(ql, QL_TAIL, (const unsigned char *)"a", 1);
    ql_push(ql, QL_TAIL, (const unsigned char *)"b", 1);
    ql_push(ql, QL_TAIL, b, big);
    ql_push(ql, QL_TAIL, (const unsigned char *)"c", 1);
    ql_push(ql, QL_HEAD, b, big);
    cr_assert_eq(ql_validate(ql), 0);
    cr_assert_eq(ql_node_count(ql), 4); /* [B] [a b] [B] [c] */
    ql_entry_t e;
    cr_assert(ql_index(ql, 3, &e));
    cr_assert(entry_is(&e, b, big));
    /* A big element inserted inside a packed node splits it. */
    cr_assert(ql_insert_at(ql, 2, b, big)); /* B a B b B c */
    cr_assert_eq(ql_validate(ql), 0);
    cr_assert_eq(ql_node_count(ql), 6);
    cr_assert(ql_index(ql, 2, &e));
    cr_assert(entry_is(&e, b, big));
    cr_assert(ql_index(ql, 3, &e));
    cr_assert(entry_is(&e, (const unsigned char *)"b", 1));
    /* Replacing a plain element with a small one and back. */
    cr_assert(ql_replace_at(ql, 2, (const unsigned char *)"small", 5)); /* B a small b B c */
    cr_assert_eq(ql_validate(ql), 0);
    cr_assert_eq(ql_node_count(ql), 4); /* merged: [B] [a small b] [B] [c] */
    cr_assert(ql_replace_at(ql, 2, b, big - 1));
    cr_assert(ql_index(ql, 2, &e));
    cr_assert(entry_is(&e, b, big - 1));
    cr_assert(ql_replace_at(ql, 2, b, big));
    cr_assert(ql_replace_at(ql, 0, b, 5000));
    cr_assert(ql_index(ql, 0, &e));
    cr_assert(entry_is(&e, b, 5000));
    cr_assert_eq(ql_validate(ql), 0);
    /* Delete every plain node: the small neighbours merge back together. */
    ql_del_range(ql, 4, 1);
    ql_del_range(ql, 2, 1);
    ql_del_range(ql, 0, 1);
    cr_assert_eq(ql_validate(ql), 0);
    cr_assert_eq(ql_count(ql), 3);
    cr_assert_eq(ql_node_count(ql), 1);
    quicklist_t *d = ql_dup(ql);
    cr_assert_eq(ql_validate(d), 0);
    ql_free(d);
    ql_push(ql, QL_TAIL, b, big);
    d = ql_dup(ql);
    cr_assert_eq(ql_validate(d), 0);
    cr_assert(ql_index(d, -1, &e));
    cr_assert(entry_is(&e, b, big));
    ql_free(d);
    kl_free(b);
    ql_free(ql);
    ql_set_packed_threshold(old_threshold);
}

/* Below the packed threshold, an element over the node limit gets a listpack
 * node of its own, and a node takes an element while its bytes + the
 * element's length + 8 fit (Redis 7.0's _quicklistNodeAllowInsert). */
Test(quicklist, node_limits_follow_redis) {
    quicklist_t *ql = ql_new(-2, 0);
    unsigned char *b = kl_malloc(9000);
    memset(b, 'Z', 9000);
    ql_push(ql, QL_TAIL, (const unsigned char *)"head", 4);
    ql_push(ql, QL_TAIL, b, 9000);
    ql_push(ql, QL_TAIL, (const unsigned char *)"tail", 4);
    cr_assert_eq(ql_validate(ql), 0);
    cr_assert_eq(ql_node_count(ql), 3);
    const ql_node_t *n = ql_node_next(ql_first_node(ql));
    size_t len;
    bool plain;
    ql_node_view(n, &len, &plain);
    cr_assert(!plain);
    cr_assert_eq(len, 9014); /* 6 header + 5 encoding + 9000 + 2 back-length + 1 end */
    ql_free(ql);
    kl_free(b);
    /* 100-byte elements: each adds 103 bytes to the listpack (2 encoding + 100
     * + 1 back-length), the estimate is 108, so a node takes one more while
     * its bytes + 108 <= 8192: 7 + 78 * 103 = 8041 takes a 79th (8144 bytes),
     * which is full. redis-server 7.0.15 makes 3 nodes of 79, 79, 42. */
    ql = ql_new(-2, 0);
    unsigned char e[100];
    memset(e, 'e', sizeof e);
    for (int i = 0; i < 200; i++)
        ql_push(ql, QL_TAIL, e, sizeof e);
    cr_assert_eq(ql_node_count(ql), 3);
    n = ql_first_node(ql);
    ql_node_view(n, &len, &plain);
    cr_assert_eq(len, 8144);
    cr_assert_eq(ql_validate(ql), 0);
    ql_free(ql);
}

Test(quicklist, del_range_merges) {
    quicklist_t *ql = ql_new(10, 0);
    for (int i = 0; i < 100; i++)
        ql_push(ql, QL_TAIL, (const unsigned char *)"x", 1);
    cr_assert_eq(ql_node_count(ql), 10);
    /* Leave 3 + 3 around a cut through several nodes: they merge into one. */
    cr_assert_eq(ql_del_range(ql, 3, 94), 94);
    cr_assert_eq(ql_validate(ql), 0);
    cr_assert_eq(ql_count(ql), 6);
    cr_assert_eq(ql_node_count(ql), 1);
    cr_assert_eq(ql_del_range(ql, -2, 100), 2);
    cr_assert_eq(ql_del_range(ql, 5, 1), 0);
    cr_assert_eq(ql_del_range(ql, -5, 1), 0);
    cr_assert_eq(ql_del_range(ql, -4, 0), 0);
    cr_assert_eq(ql_count(ql), 4);
    cr_assert_eq(ql_del_range(ql, 0, ULONG_MAX), 4);
    cr_assert_eq(ql_node_count(ql), 0);
    cr_assert_eq(ql_validate(ql), 0);
    ql_free(ql);
}

Test(quicklist, iter_delete_merges) {
    for (int dir = QL_FORWARD; dir <= QL_BACKWARD; dir++) {
        quicklist_t *ql = ql_new(16, 0);
        for (int i = 0; i < 1600; i++) {
            char b[16];
            int n = snprintf(b, sizeof b, "%d", i);
            ql_push(ql, QL_TAIL, (unsigned char *)b, (size_t)n);
        }
        cr_assert_eq(ql_node_count(ql), 100);
        ql_iter_t it;
        ql_entry_t e;
        ql_iter_init(&it, ql, dir, dir == QL_FORWARD ? 0 : -1);
        long seen = 0;
        while (ql_iter_next(&it, &e)) {
            cr_assert_null(e.s);
            /* Forward, the deletions so far shift the index down. */
            long want = dir == QL_FORWARD ? (long)(e.lval + 1) / 2 : (long)e.lval;
            cr_assert_eq(ql_iter_index(&it), want, "index %ld value %lld", ql_iter_index(&it),
                         e.lval);
            if (e.lval % 2) ql_iter_del(&it);
            seen++;
        }
        ql_iter_done(&it);
        cr_assert_eq(seen, 1600);
        cr_assert_eq(ql_validate(ql), 0);
        cr_assert_eq(ql_count(ql), 800);
        cr_assert_leq(ql_node_count(ql), 51, "nodes %lu", ql_node_count(ql));
        for (long i = 0; i < 800; i++) {
            cr_assert(ql_index(ql, i, &e));
            cr_assert_eq(e.lval, 2 * i);
        }
        ql_free(ql);
    }
}

Test(quicklist, iter_delete_everything) {
    for (int dir = QL_FORWARD; dir <= QL_BACKWARD; dir++) {
        quicklist_t *ql = ql_new(3, 0);
        for (int i = 0; i < 20; i++)
            ql_push(ql, QL_TAIL, (const unsigned char *)"abc", 3);
        ql_iter_t it;
        ql_entry_t e;
        ql_iter_init(&it, ql, dir, dir == QL_FORWARD ? 0 : -1);
        int n = 0;
        while (ql_iter_next(&it, &e)) {
            ql_iter_del(&it);
            n++;
        }
        ql_iter_done(&it);
        cr_assert_eq(n, 20);
        cr_assert_eq(ql_count(ql), 0);
        cr_assert_eq(ql_node_count(ql), 0);
        cr_assert_eq(ql_validate(ql), 0);
        ql_free(ql);
    }
}

Test(quicklist, keys_and_entries) {
    ql_key_t k;
    ql_entry_t e = {.s = NULL, .lval = 42};
    ql_key_init(&k, (const unsigned char *)"42", 2);
    cr_assert(ql_entry_eq(&e, &k));
    ql_key_init(&k, (const unsigned char *)"042", 3);
    cr_assert_not(ql_entry_eq(&e, &k));
    ql_entry_t s = {.s = (const unsigned char *)"042", .len = 3};
    cr_assert(ql_entry_eq(&s, &k));
    ql_key_init(&k, (const unsigned char *)"", 0);
    ql_entry_t empty = {.s = (const unsigned char *)"", .len = 0};
    cr_assert(ql_entry_eq(&empty, &k));
    cr_assert_not(ql_entry_eq(&s, &k));
}

/* ---- randomized ------------------------------------------------------------------ */

static void random_run(int fill, int compress, uint64_t seed, int ops, int big_pct) {
    rng_state = seed;
    quicklist_t *ql = ql_new(fill, compress);
    model_t m = {0};
    size_t cap = 80000;
    unsigned char *buf = kl_malloc(cap);
    unsigned long max_comp = 0;
    for (int op = 0; op < ops; op++) {
        uint64_t k = rnd() % 100;
        if (m.n < 400 && rnd() % 4 == 0) {
            /* Keep the list long enough to span many nodes. */
            for (int j = (int)(rnd() % 20); j >= 0; j--) {
                size_t len = rand_value(buf, cap, big_pct);
                ql_push(ql, QL_TAIL, buf, len);
                m_insert(&m, m.n, buf, len);
            }
        } else if (k < 30 && m.n < 3000) {
            size_t len = rand_value(buf, cap, big_pct);
            if (rnd() & 1) {
                ql_push(ql, QL_HEAD, buf, len);
                m_insert(&m, 0, buf, len);
            } else {
                ql_push(ql, QL_TAIL, buf, len);
                m_insert(&m, m.n, buf, len);
            }
        } else if (k < 45) {
            size_t len = rand_value(buf, cap, big_pct);
            long pos = (long)(rnd() % (uint64_t)(m.n + 1));
            cr_assert(ql_insert_at(ql, pos, buf, len));
            m_insert(&m, pos, buf, len);
        } else if (k < 55 && m.n > 0) {
            size_t len = rand_value(buf, cap, big_pct);
            long pos = (long)(rnd() % (uint64_t)m.n);
            cr_assert(ql_replace_at(ql, (rnd() & 1) ? pos : pos - m.n, buf, len));
            m_delete(&m, pos, 1);
            m_insert(&m, pos, buf, len);
        } else if (k < 65 && m.n > 0) {
            long pos = (long)(rnd() % (uint64_t)m.n);
            unsigned long num = rnd() % 4 == 0 ? rnd() % 200 : rnd() % 5;
            unsigned long del = ql_del_range(ql, (rnd() & 1) ? pos : pos - m.n, num);
            long expect = (long)num < m.n - pos ? (long)num : m.n - pos;
            cr_assert_eq(del, (unsigned long)expect);
            m_delete(&m, pos, expect);
        } else if (k < 75 && m.n > 0) { /* pops */
            int head = rnd() & 1;
            ql_entry_t e;
            cr_assert(ql_index(ql, head ? 0 : -1, &e));
            long pos = head ? 0 : m.n - 1;
            cr_assert(entry_is(&e, m.v[pos].p, m.v[pos].len));
            cr_assert_eq(ql_del_range(ql, head ? 0 : -1, 1), 1);
            m_delete(&m, pos, 1);
        } else if (k < 85 && m.n > 0) { /* LREM-like: delete matches of a value */
            long pos = (long)(rnd() % (uint64_t)m.n);
            mstr_t target = {kl_memdup(m.v[pos].p, m.v[pos].len ? m.v[pos].len : 1), m.v[pos].len};
            int dir = (rnd() & 1) ? QL_FORWARD : QL_BACKWARD;
            long limit = (long)(rnd() % 4); /* 0 = all */
            ql_key_t key;
            ql_key_init(&key, target.p, target.len);
            ql_iter_t it;
            ql_entry_t e;
            long removed = 0;
            ql_iter_init(&it, ql, dir, dir == QL_FORWARD ? 0 : -1);
            while (ql_iter_next(&it, &e)) {
                if (ql_entry_eq(&e, &key)) {
                    ql_iter_del(&it);
                    removed++;
                    if (limit && removed == limit) break;
                }
            }
            ql_iter_done(&it);
            long mr = 0;
            if (dir == QL_FORWARD) {
                for (long i = 0; i < m.n && (!limit || mr < limit);) {
                    if (m.v[i].len == target.len && memcmp(m.v[i].p, target.p, target.len) == 0) {
                        m_delete(&m, i, 1);
                        mr++;
                    } else {
                        i++;
                    }
                }
            } else {
                for (long i = m.n - 1; i >= 0 && (!limit || mr < limit); i--) {
                    if (m.v[i].len == target.len && memcmp(m.v[i].p, target.p, target.len) == 0) {
                        m_delete(&m, i, 1);
                        mr++;
                    }
                }
            }
            cr_assert_eq(removed, mr);
            kl_free(target.p);
        } else if (m.n > 0) { /* ranged iteration from a random start */
            long pos = (long)(rnd() % (uint64_t)m.n);
            int dir = (rnd() & 1) ? QL_FORWARD : QL_BACKWARD;
            ql_iter_t it;
            ql_entry_t e;
            ql_iter_init(&it, ql, dir, pos);
            long i = pos;
            for (int steps = 0; steps < 50 && ql_iter_next(&it, &e); steps++) {
                cr_assert(entry_is(&e, m.v[i].p, m.v[i].len));
                i += dir == QL_FORWARD ? 1 : -1;
            }
            ql_iter_done(&it);
        }
        cr_assert_eq(ql_validate(ql), 0, "fill %d compress %d seed %llu op %d", fill, compress,
                     (unsigned long long)seed, op);
        max_comp = ql_compressed_nodes(ql) > max_comp ? ql_compressed_nodes(ql) : max_comp;
        if (op % 100 == 0) check(ql, &m);
    }
    check(ql, &m);
    if (compress)
        cr_assert_gt(max_comp, 1, "fill %d: compression never kicked in (n %ld nodes %lu)", fill,
                     m.n, ql_node_count(ql));
    quicklist_t *d = ql_dup(ql);
    check(d, &m);
    ql_free(d);
    kl_free(buf);
    m_free(&m);
    ql_free(ql);
}

Test(quicklist, random_small_fills, .timeout = 120) {
    int fills[] = {0, 1, 2, 3, 7};
    for (size_t f = 0; f < sizeof fills / sizeof fills[0]; f++)
        random_run(fills[f], 0, 1000 + f, 10000, 1);
}

Test(quicklist, random_default_fills, .timeout = 120) {
    int fills[] = {128, -1, -2, -5};
    for (size_t f = 0; f < sizeof fills / sizeof fills[0]; f++)
        random_run(fills[f], 0, 2000 + f, 10000, 2);
}

Test(quicklist, random_many_big, .timeout = 120) {
    random_run(-2, 0, 31337, 4000, 25);
    random_run(4, 0, 4242, 4000, 25);
}

Test(quicklist, random_compressed, .timeout = 240) {
    int fills[] = {4, 8, 16, -1, -2, 2};
    int depths[] = {1, 2, 3, 1, 1, 4};
    for (size_t f = 0; f < sizeof fills / sizeof fills[0]; f++)
        random_run(fills[f], depths[f], 5000 + f, 2500, 1);
}

Test(quicklist, compressed_iteration_and_index) {
    for (int depth = 1; depth <= 3; depth++) {
        quicklist_t *ql = ql_new(8, depth);
        char b[64];
        for (int i = 0; i < 400; i++) {
            int n = snprintf(b, sizeof b, "element-number-%04d-with-padding", i);
            ql_push(ql, QL_TAIL, (unsigned char *)b, (size_t)n);
        }
        cr_assert_eq(ql_validate(ql), 0);
        cr_assert_eq(ql_compressed_nodes(ql), ql_node_count(ql) - 2 * (unsigned long)depth);
        ql_entry_t e;
        for (long i = 0; i < 400; i += 7) {
            int n = snprintf(b, sizeof b, "element-number-%04ld-with-padding", i);
            cr_assert(ql_index(ql, i, &e));
            cr_assert(entry_is(&e, (unsigned char *)b, (size_t)n));
        }
        /* Reading does not decompress anything for good. */
        cr_assert_eq(ql_compressed_nodes(ql), ql_node_count(ql) - 2 * (unsigned long)depth);
        /* Delete every third element while iterating backwards. */
        ql_iter_t it;
        ql_iter_init(&it, ql, QL_BACKWARD, -1);
        long seen = 0;
        while (ql_iter_next(&it, &e)) {
            long idx = ql_iter_index(&it);
            int n = snprintf(b, sizeof b, "element-number-%04ld-with-padding", idx);
            cr_assert(entry_is(&e, (unsigned char *)b, (size_t)n), "idx %ld", idx);
            if (idx % 3 == 0) ql_iter_del(&it);
            seen++;
        }
        ql_iter_done(&it);
        cr_assert_eq(seen, 400);
        cr_assert_eq(ql_count(ql), 266);
        cr_assert_eq(ql_validate(ql), 0);
        /* Pop nodes off the head: the next ones are decompressed as they
         * reach the depth. */
        cr_assert_eq(ql_del_range(ql, 0, 200), 200);
        cr_assert_eq(ql_validate(ql), 0);
        cr_assert_eq(ql_del_range(ql, -60, 100), 60);
        cr_assert_eq(ql_count(ql), 6);
        cr_assert_eq(ql_validate(ql), 0);
        cr_assert_eq(ql_compressed_nodes(ql), 0);
        ql_free(ql);
    }
}

Test(quicklist, incompressible_nodes_stay_raw) {
    quicklist_t *ql = ql_new(-2, 1);
    unsigned char v[200];
    rng_state = 99;
    for (int i = 0; i < 300; i++) {
        for (size_t j = 0; j < sizeof v; j++)
            v[j] = (unsigned char)rnd();
        ql_push(ql, QL_TAIL, v, sizeof v);
    }
    cr_assert_eq(ql_validate(ql), 0);
    cr_assert_eq(ql_compressed_nodes(ql), 0);
    ql_free(ql);
}

/* ---- LZF ------------------------------------------------------------------------ */

size_t ql__lzf_compress(const unsigned char *in, size_t n, unsigned char *out, size_t cap);
size_t ql__lzf_decompress(const unsigned char *in, size_t n, unsigned char *out, size_t cap);

static void lzf_roundtrip(const unsigned char *in, size_t n) {
    size_t cap = n + n / 16 + 64;
    unsigned char *c = kl_malloc(cap), *d = kl_malloc(n + 1);
    size_t clen = ql__lzf_compress(in, n, c, cap);
    cr_assert(n == 0 || clen > 0, "n=%zu", n);
    cr_assert_eq(ql__lzf_decompress(c, clen, d, n), n, "n=%zu", n);
    cr_assert(n == 0 || memcmp(d, in, n) == 0);
    /* Too small an output buffer fails cleanly, both ways. */
    if (clen > 1) cr_assert_eq(ql__lzf_compress(in, n, c, clen - 1), 0);
    if (n > 1) cr_assert_eq(ql__lzf_decompress(c, clen, d, n - 1), 0);
    kl_free(c);
    kl_free(d);
}

Test(quicklist, lzf_roundtrips) {
    unsigned char *buf = kl_malloc(200000);
    rng_state = 4;
    for (size_t n = 0; n < 300; n++) {
        for (size_t i = 0; i < n; i++)
            buf[i] = (unsigned char)(rnd() % 3 ? 'a' + i % 7 : rnd());
        lzf_roundtrip(buf, n);
    }
    /* Long runs (overlapping copies), maximal references, far offsets. */
    memset(buf, 'z', 200000);
    lzf_roundtrip(buf, 200000);
    for (size_t i = 0; i < 200000; i++)
        buf[i] = (unsigned char)((i % 8191) * 7 + (i / 8191));
    lzf_roundtrip(buf, 200000);
    for (size_t i = 0; i < 200000; i++)
        buf[i] = (unsigned char)rnd();
    lzf_roundtrip(buf, 200000);
    for (size_t i = 0; i < 20000; i++)
        buf[i] = (unsigned char)(i < 8192 ? rnd() : buf[i - 8192]);
    lzf_roundtrip(buf, 20000);
    for (size_t i = 0; i < 20000; i++)
        buf[i] = (unsigned char)(i < 8193 ? rnd() : buf[i - 8193]);
    lzf_roundtrip(buf, 20000);
    /* Repetitive data compresses well. */
    for (size_t i = 0; i < 8000; i++)
        buf[i] = (unsigned char)"listpack entry "[i % 15];
    unsigned char out[8000];
    size_t clen = ql__lzf_compress(buf, 8000, out, sizeof out);
    cr_assert_gt(clen, 0);
    cr_assert_lt(clen, 400);
    kl_free(buf);
}

Test(quicklist, lzf_corrupt_input_is_safe) {
    unsigned char in[256], out[512];
    rng_state = 5;
    int ok = 0;
    for (int it = 0; it < 20000; it++) {
        size_t n = 1 + rnd() % sizeof in;
        for (size_t i = 0; i < n; i++)
            in[i] = (unsigned char)rnd();
        size_t got = ql__lzf_decompress(in, n, out, sizeof out);
        cr_assert_leq(got, sizeof out);
        ok += got > 0;
    }
    /* Truncations of a valid stream. */
    unsigned char src[3000], c[4000];
    for (size_t i = 0; i < sizeof src; i++)
        src[i] = (unsigned char)(i % 50 < 25 ? 'q' : rnd());
    size_t clen = ql__lzf_compress(src, sizeof src, c, sizeof c);
    cr_assert_gt(clen, 0);
    unsigned char *d = kl_malloc(sizeof src);
    for (size_t cut = 0; cut < clen; cut++)
        cr_assert_neq(ql__lzf_decompress(c, cut, d, sizeof src), sizeof src);
    kl_free(d);
    (void)ok;
}
