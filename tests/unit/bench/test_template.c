/* Tests for bench/template.c: __rand__ / __data__ substitution yields valid
 * RESP (checked with keyloom's own request parser), fixed-width keys within
 * the key space, independent fields, binary-safe arguments. */
#include <criterion/criterion.h>

#include <math.h>
#include <stdio.h>
#include <string.h>

#include "keygen.h"
#include "kl_alloc.h"
#include "resp_parser.h"
#include "template.h"

static tpl_t build(const char *const *argv, int argc, size_t data_size) {
    tpl_t t;
    cr_assert_eq(tpl_build(&t, argc, (char *const *)argv, NULL, data_size), 0);
    return t;
}

/* Parse buf as exactly one request and return it in *batch. */
static void parse_one(const char *buf, size_t len, resp_batch_t *batch) {
    resp_parser_t p;
    size_t used = 0;
    resp_parser_init(&p);
    resp_batch_init(batch);
    cr_assert_eq(resp_parse(&p, NULL, buf, len, &used, batch), RESP_OK);
    cr_assert_eq(used, len);
    cr_assert_eq(batch->ncmds, 1, "exactly one command");
    cr_assert_eq(resp_parser_pending(&p), 0, "nothing left partial");
    resp_parser_free(&p);
}

Test(template, exact_encoding) {
    const char *argv[] = {"SET", "key:__rand__", "__data__"};
    tpl_t t = build(argv, 3, 5);
    const char want[] = "*3\r\n$3\r\nSET\r\n$16\r\nkey:000000000000\r\n$5\r\nxxxxx\r\n";
    cr_assert_eq(t.len, sizeof(want) - 1);
    cr_assert_eq(memcmp(t.buf, want, t.len), 0);
    cr_assert_eq(t.nkeys, 1);
    cr_assert_eq(memcmp(t.buf + t.key_off[0] - 4, "key:", 4), 0);
    tpl_free(&t);
}

Test(template, put_key) {
    char b[TPL_KEY_DIGITS + 1] = {0};
    tpl_put_key(b, 123);
    cr_assert_str_eq(b, "000000000123");
    tpl_put_key(b, TPL_KEY_LIMIT - 1);
    cr_assert_str_eq(b, "999999999999");
    tpl_put_key(b, TPL_KEY_LIMIT + 7); /* wraps, never overflows the field */
    cr_assert_str_eq(b, "000000000007");
}

Test(template, render_is_valid_resp) {
    const char *argv[] = {"HSET", "h:__rand__", "f:__rand_int__:x", "v__data__v"};
    tpl_t t = build(argv, 4, 100);
    cr_assert_eq(t.nkeys, 2);
    keygen_t kg;
    cr_assert_eq(keygen_init(&kg, 1000, KEYGEN_UNIFORM, 0), 0);
    char *out = kl_malloc(t.len);
    for (int round = 0; round < 200; round++) {
        cr_assert_eq(tpl_render(&t, out, &kg), t.len);
        resp_batch_t b;
        parse_one(out, t.len, &b);
        cr_assert_eq(resp_batch_argc(&b, 0), 4);
        resp_arg_t *a = resp_batch_argv(&b, 0);
        cr_assert_str_eq(a[0].ptr, "HSET");
        cr_assert_eq(a[1].len, 2 + TPL_KEY_DIGITS);
        cr_assert_eq(memcmp(a[1].ptr, "h:000000000", 11), 0, "key < 1000: %s", a[1].ptr);
        cr_assert_eq(a[2].len, 2 + TPL_KEY_DIGITS + 2);
        cr_assert_eq(memcmp(a[2].ptr + 2 + TPL_KEY_DIGITS, ":x", 2), 0);
        cr_assert_eq(a[3].len, 102);
        cr_assert_eq(a[3].ptr[0], 'v');
        cr_assert_eq(a[3].ptr[101], 'v');
        for (int i = 1; i <= 100; i++)
            cr_assert_eq(a[3].ptr[i], 'x');
        unsigned long k1, k2;
        cr_assert_eq(sscanf(a[1].ptr + 2, "%12lu", &k1), 1);
        cr_assert_eq(sscanf(a[2].ptr + 2, "%12lu", &k2), 1);
        cr_assert_lt(k1, 1000);
        cr_assert_lt(k2, 1000);
        resp_batch_free(&b);
    }
    kl_free(out);
    tpl_free(&t);
}

/* Each field draws its own key. */
Test(template, fields_are_independent) {
    const char *argv[] = {"MGET", "__rand__", "__rand__"};
    tpl_t t = build(argv, 3, 3);
    keygen_t kg;
    keygen_init(&kg, 1000000, KEYGEN_UNIFORM, 0);
    char *out = kl_malloc(t.len);
    int differ = 0;
    for (int i = 0; i < 100; i++) {
        tpl_render(&t, out, &kg);
        differ += memcmp(out + t.key_off[0], out + t.key_off[1], TPL_KEY_DIGITS) != 0;
    }
    cr_assert_gt(differ, 90);
    kl_free(out);
    tpl_free(&t);
}

/* Without a key space every key is 0: the template as built. */
Test(template, no_keyspace) {
    const char *argv[] = {"GET", "key:__rand__"};
    tpl_t t = build(argv, 2, 3);
    keygen_t kg;
    keygen_init(&kg, 0, KEYGEN_UNIFORM, 0);
    char out[64];
    tpl_render(&t, out, &kg);
    cr_assert_eq(memcmp(out, t.buf, t.len), 0);
    tpl_free(&t);
}

Test(template, edge_cases) {
    /* Empty value, look-alikes that are no placeholders, placeholder only. */
    const char *argv[] = {"X", "__data__", "__rand", "_rand__", "__data_", "", "__rand____rand__"};
    tpl_t t = build(argv, 7, 0);
    resp_batch_t b;
    parse_one(t.buf, t.len, &b);
    resp_arg_t *a = resp_batch_argv(&b, 0);
    cr_assert_eq(resp_batch_argc(&b, 0), 7);
    cr_assert_eq(a[1].len, 0);
    cr_assert_str_eq(a[2].ptr, "__rand");
    cr_assert_str_eq(a[3].ptr, "_rand__");
    cr_assert_str_eq(a[4].ptr, "__data_");
    cr_assert_eq(a[5].len, 0);
    cr_assert_eq(a[6].len, 2 * TPL_KEY_DIGITS);
    cr_assert_eq(t.nkeys, 2);
    resp_batch_free(&b);
    tpl_free(&t);
}

Test(template, binary_arguments) {
    char arg1[] = {'a', '\0', '\r', '\n', '$'};
    char *argv[] = {"SET", arg1, "__data__"};
    size_t lens[] = {3, sizeof(arg1), 8};
    tpl_t t;
    cr_assert_eq(tpl_build(&t, 3, argv, lens, 2), 0);
    resp_batch_t b;
    parse_one(t.buf, t.len, &b);
    resp_arg_t *a = resp_batch_argv(&b, 0);
    cr_assert_eq(a[1].len, sizeof(arg1));
    cr_assert_eq(memcmp(a[1].ptr, arg1, sizeof(arg1)), 0);
    cr_assert_str_eq(a[2].ptr, "xx");
    resp_batch_free(&b);
    tpl_free(&t);
}

Test(template, rejects_empty) {
    tpl_t t;
    cr_assert_neq(tpl_build(&t, 0, NULL, NULL, 3), 0);
}

/* Key generators: range, and Zipf frequencies close to k^-s / H(n, s). */
Test(keygen, uniform_range) {
    keygen_t kg;
    cr_assert_eq(keygen_init(&kg, 10, KEYGEN_UNIFORM, 0), 0);
    int seen[10] = {0};
    for (int i = 0; i < 100000; i++) {
        uint64_t k = keygen_next(&kg);
        cr_assert_lt(k, 10);
        seen[k]++;
    }
    for (int i = 0; i < 10; i++)
        cr_assert(seen[i] > 9000 && seen[i] < 11000, "key %d: %d", i, seen[i]);
}

Test(keygen, zipf_distribution) {
    const uint64_t n = 50;
    const double s = 0.99;
    keygen_t kg;
    cr_assert_eq(keygen_init(&kg, n, KEYGEN_ZIPF, s), 0);
    double norm = 0;
    for (uint64_t k = 1; k <= n; k++)
        norm += pow((double)k, -s);
    static int seen[50];
    const int draws = 400000;
    for (int i = 0; i < draws; i++) {
        uint64_t k = keygen_next(&kg);
        cr_assert_lt(k, n);
        seen[k]++;
    }
    /* Generous bounds (several standard deviations): statistics, not timing. */
    for (uint64_t k = 0; k < n; k++) {
        double want = pow((double)(k + 1), -s) / norm * draws;
        cr_assert(fabs(seen[k] - want) < 6 * sqrt(want) + 10, "rank %llu: %d vs %.0f",
                  (unsigned long long)k, seen[k], want);
    }
    cr_assert_neq(keygen_init(&kg, n, KEYGEN_ZIPF, 0.0), 0);
    cr_assert_neq(keygen_init(&kg, n, 7, 1.0), 0);
    /* s = 1 exactly and a huge key space work too. */
    cr_assert_eq(keygen_init(&kg, 1000000000000ULL, KEYGEN_ZIPF, 1.0), 0);
    for (int i = 0; i < 1000; i++)
        cr_assert_lt(keygen_next(&kg), 1000000000000ULL);
}
