/* Unit tests for common/kl_util.c: glob matching (including Redis's quirks
 * and hostile patterns), strict number parsing and formatting at the
 * boundaries, memory units, SipHash against the reference vectors, random
 * helpers, argument splitting, repr quoting, the growable buffer and clocks. */
#include <criterion/criterion.h>

#include "kl_alloc.h"
#include "kl_util.h"

#include <errno.h>
#include <float.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

uint64_t kl__siphash(const void *data, size_t len, uint64_t k0, uint64_t k1, int crounds,
                     int drounds, int lower);

static int gm(const char *p, const char *s) {
    return kl_glob_match(p, strlen(p), s, strlen(s), 0);
}

static int gmi(const char *p, const char *s) {
    return kl_glob_match(p, strlen(p), s, strlen(s), 1);
}

/* ---- glob ---------------------------------------------------------------- */

Test(glob, literals_and_wildcards) {
    cr_assert(gm("hello", "hello"));
    cr_assert(!gm("hello", "hellO"));
    cr_assert(!gm("hello", "hell"));
    cr_assert(!gm("hell", "hello"));
    cr_assert(gm("h?llo", "hello"));
    cr_assert(gm("h?llo", "hallo"));
    cr_assert(!gm("h?llo", "hllo"));
    cr_assert(gm("h*llo", "hllo"));
    cr_assert(gm("h*llo", "heeeello"));
    cr_assert(gm("*", "anything"));
    cr_assert(gm("**", "x"));
    cr_assert(gm("a*", "a"));
    cr_assert(gm("a*b*c", "a-b-c"));
    cr_assert(gm("a*b*c", "abc"));
    cr_assert(!gm("a*b*c", "a-b-d"));
    cr_assert(gm("*a", "aaa"));
    cr_assert(!gm("*a", "aab"));
    cr_assert(gm("*?", "x"));
    cr_assert(!gm("?*?", "x"));
}

Test(glob, empty_inputs_follow_redis) {
    /* Redis: a non-empty pattern never matches the empty string. */
    cr_assert(gm("", ""));
    cr_assert(!gm("*", ""));
    cr_assert(!gm("?", ""));
    cr_assert(!gm("", "a"));
}

Test(glob, classes) {
    cr_assert(gm("h[ae]llo", "hello"));
    cr_assert(gm("h[ae]llo", "hallo"));
    cr_assert(!gm("h[ae]llo", "hillo"));
    cr_assert(gm("h[^e]llo", "hallo"));
    cr_assert(!gm("h[^e]llo", "hello"));
    cr_assert(gm("h[a-b]llo", "hbllo"));
    cr_assert(!gm("h[a-b]llo", "hcllo"));
    cr_assert(gm("h[b-a]llo", "hallo")); /* reversed ranges are swapped */
    cr_assert(gm("[\\]]", "]"));         /* escaped ']' inside a class */
    cr_assert(gm("[\\-]", "-"));
    cr_assert(gm("[a-]", "]")); /* Redis quirk: the range a..']' */
    cr_assert(gm("[a-]", "a"));
    cr_assert(!gm("[a-]", "-"));
    cr_assert(gm("[abc", "b")); /* unterminated class runs to the end */
    cr_assert(!gm("[abc", "d"));
    cr_assert(gm("[", "x") == 0);
    cr_assert(gm("x[", "x[") == 0);
    cr_assert(gm("[^]", "a") == 1); /* empty negated class matches anything */
    cr_assert(gm("[]", "a") == 0);
}

Test(glob, escapes) {
    cr_assert(gm("\\*", "*"));
    cr_assert(!gm("\\*", "a"));
    cr_assert(gm("\\?", "?"));
    cr_assert(gm("a\\", "a\\")); /* trailing backslash is literal */
    cr_assert(gm("\\[a]", "[a]"));
    cr_assert(gm("\\\\", "\\"));
}

Test(glob, nocase) {
    cr_assert(gmi("HeLLo", "hello"));
    cr_assert(gmi("h[A-Z]llo", "hello"));
    cr_assert(gmi("H[E]LLO", "hello"));
    cr_assert(!gm("H[E]LLO", "hello"));
    cr_assert(gmi("*PORT*", "tls-port"));
    /* Escaped bytes inside a class stay case-sensitive, as in Redis. */
    cr_assert(!gmi("[\\A]", "a"));
}

Test(glob, binary_safe) {
    const char pat[] = {'a', '\0', '*', 'z'};
    const char s1[] = {'a', '\0', 'x', 'y', 'z'};
    const char s2[] = {'a', 'b', 'x', 'y', 'z'};
    cr_assert(kl_glob_match(pat, sizeof(pat), s1, sizeof(s1), 0));
    cr_assert(!kl_glob_match(pat, sizeof(pat), s2, sizeof(s2), 0));
    /* The pattern length is honoured: no read past plen. */
    cr_assert(kl_glob_match("abc", 2, "ab", 2, 0));
}

Test(glob, pathological_patterns_are_fast, .timeout = 10) {
    /* Exponential for naive recursive matchers; linear-ish here. */
    char pat[4096], s[20000];
    size_t n = 0;
    for (int i = 0; i < 1000; i++) {
        pat[n++] = 'a';
        pat[n++] = '*';
    }
    pat[n++] = 'b';
    memset(s, 'a', sizeof(s));
    cr_assert(!kl_glob_match(pat, n, s, sizeof(s), 0));
    memset(pat, '*', 4000);
    pat[4000] = 'b';
    cr_assert(!kl_glob_match(pat, 4001, s, sizeof(s), 1));
    s[sizeof(s) - 1] = 'b';
    cr_assert(kl_glob_match(pat, 4001, s, sizeof(s), 1));
    cr_assert(kl_glob_match("*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*a*b", 43, s, sizeof(s), 0));
}

/* ---- integers ------------------------------------------------------------ */

static int ll(const char *s, long long *v) {
    return kl_str_to_ll(s, strlen(s), v);
}

Test(numbers, str_to_ll_strict) {
    long long v = 42;
    cr_assert_eq(ll("0", &v), 0);
    cr_assert_eq(v, 0);
    cr_assert_eq(ll("-1", &v), 0);
    cr_assert_eq(v, -1);
    cr_assert_eq(ll("9223372036854775807", &v), 0);
    cr_assert_eq(v, LLONG_MAX);
    cr_assert_eq(ll("-9223372036854775808", &v), 0);
    cr_assert_eq(v, LLONG_MIN);
    v = 7;
    cr_assert_eq(ll("9223372036854775808", &v), -ERANGE);
    cr_assert_eq(ll("-9223372036854775809", &v), -ERANGE);
    cr_assert_eq(ll("99999999999999999999999", &v), -ERANGE);
    cr_assert_eq(v, 7, "output untouched on error");
    const char *bad[] = {"",   "-",  "-0",   "+1",  " 1",  "1 ", "01",
                         "00", "1a", "0x10", "1.0", "--1", "1e3"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_assert_eq(ll(bad[i], &v), -EINVAL, "'%s' must be rejected", bad[i]);
    /* Length is honoured (no NUL needed). */
    cr_assert_eq(kl_str_to_ll("123456", 3, &v), 0);
    cr_assert_eq(v, 123);
    cr_assert_eq(kl_str_to_ll("12\0"
                              "3",
                              4, &v),
                 -EINVAL);
}

Test(numbers, str_to_ull_and_long) {
    unsigned long long u;
    long l;
    cr_assert_eq(kl_str_to_ull("18446744073709551615", 20, &u), 0);
    cr_assert_eq(u, ULLONG_MAX);
    cr_assert_eq(kl_str_to_ull("18446744073709551616", 20, &u), -ERANGE);
    cr_assert_eq(kl_str_to_ull("-1", 2, &u), -EINVAL);
    cr_assert_eq(kl_str_to_long("-42", 3, &l), 0);
    cr_assert_eq(l, -42);
}

Test(numbers, ll_to_str_roundtrip) {
    char buf[KL_LLSTR_SIZE];
    long long vals[] = {0, 1, -1, 9, 10, -10, 1234567890123LL, LLONG_MAX, LLONG_MIN, LLONG_MIN + 1};
    for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
        long long back;
        char ref[32];
        int n = kl_ll_to_str(buf, sizeof(buf), vals[i]);
        snprintf(ref, sizeof(ref), "%lld", vals[i]);
        cr_assert_str_eq(buf, ref);
        cr_assert_eq(n, (int)strlen(ref));
        cr_assert_eq(kl_str_to_ll(buf, (size_t)n, &back), 0);
        cr_assert_eq(back, vals[i]);
    }
    cr_assert_eq(kl_ll_to_str(buf, 3, 123), 0, "no room for the NUL");
    cr_assert_str_eq(buf, "");
    cr_assert_eq(kl_ll_to_str(buf, 4, -123), 0);
    cr_assert_eq(kl_ll_to_str(buf, 5, -123), 4);
    cr_assert_eq(kl_ull_to_str(buf, sizeof(buf), ULLONG_MAX), 20);
    cr_assert_str_eq(buf, "18446744073709551615");
}

Test(numbers, random_ll_roundtrip) {
    char buf[KL_LLSTR_SIZE];
    for (int i = 0; i < 100000; i++) {
        long long v = (long long)kl_rand64(), back;
        int n = kl_ll_to_str(buf, sizeof(buf), v);
        cr_assert_eq(kl_str_to_ll(buf, (size_t)n, &back), 0);
        cr_assert_eq(back, v);
    }
}

/* ---- floating point ------------------------------------------------------ */

Test(numbers, str_to_ld) {
    long double v;
    cr_assert_eq(kl_str_to_ld("1.5", 3, &v), 0);
    cr_assert(v == 1.5L);
    cr_assert_eq(kl_str_to_ld("-0.25", 5, &v), 0);
    cr_assert(v == -0.25L);
    cr_assert_eq(kl_str_to_ld("inf", 3, &v), 0);
    cr_assert(isinf(v) && v > 0);
    cr_assert_eq(kl_str_to_ld("-inf", 4, &v), 0);
    cr_assert_eq(kl_str_to_ld("1e10", 4, &v), 0);
    const char *bad[] = {"", " 1", "1 ", "nan", "NaN", "abc", "1.5x", "1e99999", "1e-99999"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_assert_eq(kl_str_to_ld(bad[i], strlen(bad[i]), &v), -EINVAL, "'%s'", bad[i]);
    cr_assert_eq(kl_str_to_ld("1\0"
                              "2",
                              3, &v),
                 -EINVAL);
    char big[6000];
    memset(big, '1', sizeof(big));
    cr_assert_eq(kl_str_to_ld(big, sizeof(big), &v), -EINVAL, "too long, as in Redis");
}

Test(numbers, str_to_d) {
    double v;
    cr_assert_eq(kl_str_to_d("3.25", 4, &v), 0);
    cr_assert(v == 3.25);
    cr_assert_eq(kl_str_to_d("-inf", 4, &v), 0);
    cr_assert(isinf(v) && v < 0);
    cr_assert_eq(kl_str_to_d("1e308", 5, &v), 0);
    const char *bad[] = {"", " 1", "\t1", "1 ", "nan", "-nan", "x", "1e400", "1e-400", "0x"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
        cr_assert_eq(kl_str_to_d(bad[i], strlen(bad[i]), &v), -EINVAL, "'%s'", bad[i]);
    /* Long inputs go through the heap path. */
    char lng[300];
    memset(lng, '0', sizeof(lng));
    lng[0] = '1';
    lng[1] = '.';
    cr_assert_eq(kl_str_to_d(lng, sizeof(lng), &v), 0);
    cr_assert(v == 1.0);
}

Test(numbers, ld_to_str_human) {
    char buf[KL_LDSTR_SIZE];
    struct {
        long double v;
        const char *s;
    } cases[] = {{0.0L, "0"},
                 {-0.0L, "0"},
                 {1.0L, "1"},
                 {10.5L, "10.5"},
                 {-3.25L, "-3.25"},
                 {0.1L + 0.2L, "0.3"},
                 {1e17L, "100000000000000000"},
                 {123456789.0L, "123456789"}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int n = kl_ld_to_str(buf, sizeof(buf), cases[i].v, KL_LD_HUMAN);
        cr_assert_str_eq(buf, cases[i].s);
        cr_assert_eq(n, (int)strlen(cases[i].s));
    }
    cr_assert_gt(kl_ld_to_str(buf, sizeof(buf), 1e300L, 1), 300);
    kl_ld_to_str(buf, sizeof(buf), INFINITY, KL_LD_HUMAN);
    cr_assert_str_eq(buf, "inf");
    kl_ld_to_str(buf, sizeof(buf), -INFINITY, KL_LD_AUTO);
    cr_assert_str_eq(buf, "-inf");
    kl_ld_to_str(buf, sizeof(buf), 0.5L, KL_LD_AUTO);
    cr_assert_str_eq(buf, "0.5");
    kl_ld_to_str(buf, sizeof(buf), 1.0L, KL_LD_HEX);
    cr_assert_eq(buf[0], '0');
    cr_assert_eq(buf[1], 'x');
    cr_assert_eq(kl_ld_to_str(buf, 4, 1234.5L, KL_LD_HUMAN), 0, "no room");
    cr_assert_eq(kl_ld_to_str(buf, 4, INFINITY, KL_LD_HUMAN), 3);
    cr_assert_eq(kl_ld_to_str(buf, 4, -INFINITY, KL_LD_HUMAN), 0);
}

Test(numbers, d_to_str) {
    char buf[KL_DSTR_SIZE];
    struct {
        double v;
        const char *s;
    } cases[] = {{0.0, "0"},
                 {-0.0, "0"},
                 {1.0, "1"},
                 {-42.0, "-42"},
                 {0.1, "0.10000000000000001"},
                 {1.5, "1.5"},
                 {1e17, "1e+17"},
                 {123456789012345678.0, "1.2345678901234568e+17"},
                 {4503599627370495.0, "4503599627370495"},
                 {INFINITY, "inf"},
                 {-INFINITY, "-inf"},
                 {NAN, "nan"}};
    for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
        int n = kl_d_to_str(buf, sizeof(buf), cases[i].v);
        cr_assert_str_eq(buf, cases[i].s, "case %zu", i);
        cr_assert_eq(n, (int)strlen(cases[i].s));
    }
    /* Round trip through the parser for random finite doubles. */
    for (int i = 0; i < 20000; i++) {
        uint64_t bits = kl_rand64();
        double v, back;
        memcpy(&v, &bits, sizeof(v));
        if (!isfinite(v)) continue;
        int n = kl_d_to_str(buf, sizeof(buf), v);
        if (fpclassify(v) == FP_SUBNORMAL) continue; /* strtod flags ERANGE */
        cr_assert_eq(kl_str_to_d(buf, (size_t)n, &back), 0, "%s", buf);
        cr_assert(back == v || (v == 0 && back == 0), "%s", buf);
    }
}

/* ---- memory units -------------------------------------------------------- */

Test(memory, units) {
    int err;
    struct {
        const char *s;
        long long v;
    } ok[] = {{"0", 0},
              {"", 0},
              {"kb", 0},
              {"123", 123},
              {"5b", 5},
              {"5B", 5},
              {"1k", 1000},
              {"1K", 1000},
              {"1kb", 1024},
              {"1KB", 1024},
              {"1Kb", 1024},
              {"2m", 2000000},
              {"2mb", 2097152},
              {"3g", 3000000000LL},
              {"3gb", 3221225472LL},
              {"007", 7},
              {"9223372036854775807", LLONG_MAX}};
    for (size_t i = 0; i < sizeof(ok) / sizeof(ok[0]); i++) {
        long long v = kl_mem_to_ll(ok[i].s, &err);
        cr_assert_eq(err, 0, "'%s'", ok[i].s);
        cr_assert_eq(v, ok[i].v, "'%s'", ok[i].s);
    }
    const char *bad[] = {"-1",
                         "1x",
                         "1 kb",
                         " 1",
                         "1kbb",
                         "1tb",
                         "1.5mb",
                         "+1",
                         "9223372036854775808",
                         "99999999999999999999gb"};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        kl_mem_to_ll(bad[i], &err);
        cr_assert_eq(err, 1, "'%s' must be rejected", bad[i]);
    }
    cr_assert_eq(kl_mem_to_ull("18446744073709551615", 20, &err), ULLONG_MAX);
    cr_assert_eq(err, 0);
    cr_assert_eq(kl_mem_to_ull("99999999999999999999", 20, &err), ULLONG_MAX, "saturates");
    cr_assert_eq(kl_mem_to_ull("20000000000gb", 13, &err), ULLONG_MAX, "saturates");
    cr_assert_eq(kl_mem_to_ull("1mbX", 3, &err), 1048576ULL, "length honoured");
}

/* ---- hashing and randomness ---------------------------------------------- */

Test(hash, siphash24_reference_vectors) {
    /* From the SipHash paper / reference implementation: key 00..0f,
     * message 00..(n-1). */
    static const uint64_t expect[] = {
        0x726fdb47dd0e0e31ULL, 0x74f839c593dc67fdULL, 0x0d6c8009d9a94f5aULL,
        0x85676696d7fb7e2dULL, 0xcf2794e0277187b7ULL, 0x18765564cd99a68dULL,
        0xcbc9466e58fee3ceULL, 0xab0200f58b01d137ULL, 0x93f5f5799a932462ULL};
    unsigned char msg[16];
    uint64_t k0 = 0x0706050403020100ULL, k1 = 0x0f0e0d0c0b0a0908ULL;
    for (int i = 0; i < 16; i++)
        msg[i] = (unsigned char)i;
    for (size_t n = 0; n < sizeof(expect) / sizeof(expect[0]); n++)
        cr_assert_eq(kl__siphash(msg, n, k0, k1, 2, 4, 0), expect[n], "length %zu", n);
}

Test(hash, seeded_and_well_mixed) {
    const char *s = "hello world";
    uint64_t a = kl_hash_bytes(s, strlen(s), 1), b = kl_hash_bytes(s, strlen(s), 2);
    cr_assert_neq(a, b, "the seed changes the hash");
    cr_assert_eq(a, kl_hash_bytes(s, strlen(s), 1), "deterministic");
    cr_assert_eq(kl_hash_bytes_nocase("HeLLo", 5, 9), kl_hash_bytes("hello", 5, 9));
    cr_assert_neq(kl_hash_bytes("HeLLo", 5, 9), kl_hash_bytes("hello", 5, 9));
    cr_assert_neq(kl_hash_bytes("", 0, 9), kl_hash_bytes("\0", 1, 9));

    /* Avalanche: flipping one input bit flips about half the output bits. */
    unsigned char buf[32];
    long total = 0, trials = 0;
    for (int t = 0; t < 200; t++) {
        kl_random_bytes(buf, sizeof(buf));
        uint64_t h0 = kl_hash_bytes(buf, sizeof(buf), 42);
        for (int bit = 0; bit < 256; bit += 7) {
            buf[bit / 8] ^= (unsigned char)(1u << (bit % 8));
            total += __builtin_popcountll(h0 ^ kl_hash_bytes(buf, sizeof(buf), 42));
            trials++;
            buf[bit / 8] ^= (unsigned char)(1u << (bit % 8));
        }
    }
    double avg = (double)total / (double)trials;
    cr_assert(avg > 30.0 && avg < 34.0, "average flipped bits %f", avg);

    /* Sequential keys spread evenly over 1024 buckets. */
    static unsigned counts[1024];
    char key[32];
    for (int i = 0; i < 1024 * 64; i++) {
        int n = snprintf(key, sizeof(key), "key:%d", i);
        counts[kl_hash_bytes(key, (size_t)n, 7) & 1023]++;
    }
    for (int i = 0; i < 1024; i++)
        cr_assert(counts[i] > 20 && counts[i] < 120, "bucket %d", i);
}

Test(random, bytes_and_prng) {
    unsigned char a[64] = {0}, b[64] = {0};
    kl_random_bytes(a, sizeof(a));
    kl_random_bytes(b, sizeof(b));
    cr_assert(memcmp(a, b, sizeof(a)) != 0);
    uint64_t x = kl_rand64(), y = kl_rand64();
    cr_assert_neq(x, y);
    int ones = 0;
    for (int i = 0; i < 10000; i++)
        ones += __builtin_popcountll(kl_rand64());
    cr_assert(ones > 310000 && ones < 330000, "bit balance %d", ones);
}

Test(random, hex_chars) {
    char id[41];
    kl_get_random_hex_chars(id, 40);
    id[40] = '\0';
    for (int i = 0; i < 40; i++)
        cr_assert(strchr("0123456789abcdef", id[i]) != NULL);
    char one[2] = {0, 0};
    kl_get_random_hex_chars(one, 1);
    cr_assert(one[0] != 0 && one[1] == 0, "exactly len chars written");
}

/* ---- split args ---------------------------------------------------------- */

static char **split(const char *line, int *argc) {
    char **argv;
    int rc = kl_split_args(line, strlen(line), &argv, argc);
    return rc ? NULL : argv;
}

Test(split_args, basics) {
    int argc;
    char **argv = split("  set  key\tvalue\r\n", &argc);
    cr_assert_not_null(argv);
    cr_assert_eq(argc, 3);
    cr_assert_str_eq(argv[0], "set");
    cr_assert_str_eq(argv[1], "key");
    cr_assert_str_eq(argv[2], "value");
    kl_free_args(argv, argc);

    argv = split("", &argc);
    cr_assert_not_null(argv, "empty input is a valid empty vector");
    cr_assert_eq(argc, 0);
    kl_free_args(argv, argc);

    argv = split("   \t ", &argc);
    cr_assert_eq(argc, 0);
    kl_free_args(argv, argc);
}

Test(split_args, quotes_and_escapes) {
    int argc;
    size_t *lens;
    char **argv;
    const char *line =
        "\"a b\" 'c d' \"\\x41\\x4a\\n\\r\\t\\b\\a\\\"\\\\\\z\" 'it\\'s' \"\\x0\" \"\" ''";
    cr_assert_eq(kl_split_args_len(line, strlen(line), &argv, &lens, &argc), 0);
    cr_assert_eq(argc, 7);
    cr_assert_str_eq(argv[0], "a b");
    cr_assert_str_eq(argv[1], "c d");
    cr_assert_str_eq(argv[2], "AJ\n\r\t\b\a\"\\z");
    cr_assert_str_eq(argv[3], "it's");
    cr_assert_str_eq(argv[4], "x0", "\\x needs two hex digits, else it is \\ + x");
    cr_assert_str_eq(argv[5], "");
    cr_assert_str_eq(argv[6], "");
    cr_assert_eq(lens[5], 0);
    kl_free_args(argv, argc);
    kl_free(lens);

    /* Binary bytes through \x00. */
    line = "\"a\\x00b\"";
    cr_assert_eq(kl_split_args_len(line, strlen(line), &argv, &lens, &argc), 0);
    cr_assert_eq(argc, 1);
    cr_assert_eq(lens[0], 3);
    cr_assert_eq(memcmp(argv[0], "a\0b", 3), 0);
    kl_free_args(argv, argc);
    kl_free(lens);

    /* Single quotes keep backslashes except before a quote. */
    argv = split("'a\\nb'", &argc);
    cr_assert_str_eq(argv[0], "a\\nb");
    kl_free_args(argv, argc);

    /* Quotes in the middle of a word open a quoted part. */
    argv = split("ab\"c d\"", &argc);
    cr_assert_eq(argc, 1);
    cr_assert_str_eq(argv[0], "abc d");
    kl_free_args(argv, argc);

    /* Other blanks (\v, \f) separate only at the start of an argument. */
    argv = split("\va\vb", &argc);
    cr_assert_eq(argc, 1);
    cr_assert_str_eq(argv[0], "a\vb");
    kl_free_args(argv, argc);
}

Test(split_args, errors) {
    const char *bad[] = {"\"unterminated", "'unterminated", "\"a\"b",
                         "'a'b",           "x \"a\"\"b\"",  "\"\\\""};
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char **argv = (char **)1;
        int argc = 5;
        cr_assert_eq(kl_split_args(bad[i], strlen(bad[i]), &argv, &argc), -EINVAL, "%s", bad[i]);
        cr_assert_null(argv);
        cr_assert_eq(argc, 0);
    }
    /* A closing quote followed by a blank is fine. */
    int argc;
    char **argv = split("\"a\"\tb", &argc);
    cr_assert_eq(argc, 2);
    kl_free_args(argv, argc);
}

Test(split_args, length_and_nul_end_the_line) {
    int argc;
    char **argv;
    cr_assert_eq(kl_split_args("abc def", 5, &argv, &argc), 0);
    cr_assert_eq(argc, 2);
    cr_assert_str_eq(argv[1], "d");
    kl_free_args(argv, argc);
    cr_assert_eq(kl_split_args("ab\0cd", 5, &argv, &argc), 0);
    cr_assert_eq(argc, 1, "a NUL ends the line, as in Redis");
    cr_assert_str_eq(argv[0], "ab");
    kl_free_args(argv, argc);
    /* A quote cut by the length is unbalanced. */
    cr_assert_eq(kl_split_args("\"abc\"", 4, &argv, &argc), -EINVAL);
}

/* ---- repr and buffer ----------------------------------------------------- */

Test(repr, sdscatrepr_format) {
    kl_buf_t b = {0};
    const char in[] = "a\"b\\c\n\r\t\a\b\x01\x7f\xff ~";
    kl_buf_append_repr(&b, in, sizeof(in) - 1);
    cr_assert_str_eq(b.p, "\"a\\\"b\\\\c\\n\\r\\t\\a\\b\\x01\\x7f\\xff ~\"");
    kl_buf_clear(&b);
    kl_buf_append_repr(&b, "", 0);
    cr_assert_str_eq(b.p, "\"\"");
    kl_buf_free(&b);

    char small[8];
    size_t n = kl_repr(small, sizeof(small), "hello\n", 6);
    cr_assert_eq(n, 9);
    cr_assert_str_eq(small, "\"hello\\");
    char big[32];
    n = kl_repr(big, sizeof(big), "a\0b", 3);
    cr_assert_str_eq(big, "\"a\\x00b\"");
    cr_assert_eq(n, strlen(big));
    cr_assert_eq(kl_repr(NULL, 0, "ab", 2), 4);
}

Test(buffer, append_and_detach) {
    kl_buf_t b = {0};
    kl_buf_append_str(&b, "x=");
    kl_buf_appendf(&b, "%d-%s", 42, "y");
    kl_buf_append_char(&b, '!');
    cr_assert_str_eq(b.p, "x=42-y!");
    cr_assert_eq(b.len, 7);
    for (int i = 0; i < 10000; i++)
        kl_buf_appendf(&b, "%05d", i);
    cr_assert_eq(b.len, 7 + 50000);
    cr_assert_eq(b.p[b.len], '\0');
    char big[3000];
    memset(big, 'q', sizeof(big) - 1);
    big[sizeof(big) - 1] = '\0';
    kl_buf_free(&b);
    kl_buf_appendf(&b, "%s", big); /* a fresh buffer takes the vsnprintf retry path */
    cr_assert_eq(b.len, sizeof(big) - 1);
    char *p = kl_buf_detach(&b);
    cr_assert_null(b.p);
    cr_assert_eq(strlen(p), sizeof(big) - 1);
    kl_free(p);
    p = kl_buf_detach(&b);
    cr_assert_str_eq(p, "", "detaching an empty buffer gives an empty string");
    kl_free(p);
    kl_buf_free(&b);
}

/* ---- clocks -------------------------------------------------------------- */

Test(clock, realtime_and_monotonic) {
    long long us = kl_ustime(), ms = kl_mstime();
    long long now = (long long)time(NULL);
    cr_assert(us / 1000000 >= now - 1 && us / 1000000 <= now + 1);
    cr_assert(ms / 1000 >= now - 1 && ms / 1000 <= now + 1);
    long long m1 = kl_monotonic_us();
    struct timespec ts = {0, 2000000};
    nanosleep(&ts, NULL);
    long long m2 = kl_monotonic_us();
    cr_assert_geq(m2 - m1, 2000);
    cr_assert_lt(m2 - m1, 2000000);
}
