/* Small pure helpers used everywhere: glob matching, strict number parsing and
 * formatting with Redis's exact rules, memory units, hashing, randomness,
 * argument splitting and quoting, a growable byte buffer and clocks.
 *
 * Conventions: functions that can fail return 0 on success and a negative
 * errno-style code on failure (-EINVAL for bad syntax, -ERANGE for overflow),
 * never Redis's 1/0. Inputs are (pointer, length) pairs unless the name says
 * otherwise and may contain NUL bytes. Every function is thread-agnostic
 * (Thread: any) unless its comment says otherwise. */
#ifndef KL_UTIL_H
#define KL_UTIL_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* ---- Glob matching ---------------------------------------------------- */

/* Redis glob semantics (KEYS, SCAN MATCH, PSUBSCRIBE, CONFIG GET): '*' any run,
 * '?' one byte, "[abc]" "[^abc]" "[a-z]" classes (reversed ranges allowed, an
 * unterminated class runs to the end of the pattern), '\x' escapes x. nocase
 * folds ASCII case, except for escaped bytes inside a class (as Redis does).
 * Like Redis, a non-empty pattern never matches the empty string (callers
 * special-case a lone "*" the way Redis does). Runs in O(plen * slen) time and
 * O(1) space without recursion, so hostile patterns cannot blow up.
 * Returns 1 on match, 0 otherwise. */
int kl_glob_match(const char *pat, size_t plen, const char *s, size_t slen, int nocase);

/* ---- Numbers ----------------------------------------------------------- */

/* Buffer sizes that always suffice for the formatting functions below. */
#define KL_LLSTR_SIZE 21   /* "-9223372036854775808" + NUL */
#define KL_DSTR_SIZE 128   /* kl_d_to_str */
#define KL_LDSTR_SIZE 5120 /* kl_ld_to_str in human mode (%.17Lf of 1e4932) */

/* Strict integer parsing with Redis string2ll rules: optional '-', then digits,
 * no spaces, no '+', no leading zeros except "0" itself, "-0" rejected.
 * Returns 0, -EINVAL (syntax) or -ERANGE (overflow); *out untouched on error. */
int kl_str_to_ll(const char *s, size_t len, long long *out);
/* Same rules, unsigned (no sign at all). */
int kl_str_to_ull(const char *s, size_t len, unsigned long long *out);
/* kl_str_to_ll then a range check against [LONG_MIN, LONG_MAX]. */
int kl_str_to_long(const char *s, size_t len, long *out);

/* Decimal formatting. Return the length written (without the NUL), or 0 when
 * cap is too small (buf is then set to "" when cap > 0). */
int kl_ll_to_str(char *buf, size_t cap, long long v);
int kl_ull_to_str(char *buf, size_t cap, unsigned long long v);

/* Redis string2ld: the whole input must be consumed by strtold, no leading
 * space, no NaN, overflow and underflow-to-zero rejected ("inf" is accepted).
 * Inputs of 5120 bytes or more are rejected as Redis does. Returns 0/-EINVAL. */
int kl_str_to_ld(const char *s, size_t len, long double *out);
/* Redis string2d: same rules with strtod. Returns 0/-EINVAL. */
int kl_str_to_d(const char *s, size_t len, double *out);

/* Long double formatting modes (Redis ld2string). */
enum { KL_LD_AUTO = 0, KL_LD_HUMAN = 1, KL_LD_HEX = 2 };
/* mode KL_LD_HUMAN (pass 1 / "humanfriendly") is INCRBYFLOAT's format: %.17Lf
 * with trailing zeros and a trailing dot removed and "-0" printed as "0";
 * KL_LD_AUTO is %.17Lg; KL_LD_HEX is %La. Infinities print as "inf"/"-inf".
 * Returns the length, or 0 if cap is too small (use KL_LDSTR_SIZE). */
int kl_ld_to_str(char *buf, size_t cap, long double v, int mode);
/* Redis 7.0 d2string (how scores are stored): "nan", "inf", "-inf"; integral
 * values with |v| < 2^52 print as integers (so -0.0 prints "0"); everything
 * else %.17g. Note that RESP2 double replies in Redis use plain %.17g, which
 * differs from this only for -0.0 ("-0"). Returns the length or 0. */
int kl_d_to_str(char *buf, size_t cap, double v);

/* Memory values as Redis's memtoull: optional digits then an optional unit,
 * case-insensitive: b (1), k (1000), kb (1024), m, mb, g, gb. A leading '-' or
 * any other suffix is an error; no digits means 0 ("" and "kb" are 0, as in
 * Redis). Values that overflow saturate at ULLONG_MAX (Redis wraps instead).
 * *err is set to 0 or 1. */
unsigned long long kl_mem_to_ull(const char *s, size_t len, int *err);
/* NUL-terminated variant returning long long; values above LLONG_MAX are an
 * error (*err = 1). */
long long kl_mem_to_ll(const char *s, int *err);

/* ---- Hashing and randomness ------------------------------------------- */

/* SipHash-1-3 (64-bit output) keyed by seed (the second key word is derived
 * from it). Fast on short keys and resistant to hash flooding when the seed is
 * secret: dicts must use a seed from kl_random_bytes. */
uint64_t kl_hash_bytes(const void *p, size_t len, uint64_t seed);
/* SipHash-1-3 with a full 128-bit key (k0, k1): the keyspace dict's hash. */
uint64_t kl_siphash13(const void *data, size_t len, uint64_t k0, uint64_t k1);
/* Same hash of the ASCII-lowercased input (case-insensitive tables). */
uint64_t kl_hash_bytes_nocase(const void *p, size_t len, uint64_t seed);

/* Cryptographic-quality random bytes from getrandom(2) (falls back to
 * /dev/urandom; aborts if neither works, which never happens on Linux >= 3.17). */
void kl_random_bytes(void *buf, size_t len);
/* Fast non-cryptographic PRNG (xoshiro256**), one state per thread, seeded
 * from kl_random_bytes on first use in each thread. */
uint64_t kl_rand64(void);
/* Fill p with len random lowercase hex characters (no NUL added): run ids. */
void kl_get_random_hex_chars(char *p, size_t len);

/* ---- Growable byte buffer --------------------------------------------- */

/* p is NUL-terminated whenever it is non-NULL, so p can be used as a C string
 * when the content has no NUL. A zeroed struct is an empty buffer. */
typedef struct kl_buf {
    char *p;
    size_t len, cap;
} kl_buf_t;

void kl_buf_reserve(kl_buf_t *b, size_t extra);
void kl_buf_append(kl_buf_t *b, const void *p, size_t n);
void kl_buf_append_str(kl_buf_t *b, const char *s);
void kl_buf_append_char(kl_buf_t *b, char c);
void kl_buf_appendf(kl_buf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void kl_buf_vappendf(kl_buf_t *b, const char *fmt, va_list ap);
/* Append p quoted like Redis's sdscatrepr: "..." with \\ \" \n \r \t \a \b,
 * printable ASCII as is, other bytes as \xhh. */
void kl_buf_append_repr(kl_buf_t *b, const char *p, size_t n);
/* Empty the buffer, keeping its memory. */
void kl_buf_clear(kl_buf_t *b);
/* Hand the NUL-terminated content to the caller (free with kl_free) and reset
 * the buffer. Never returns NULL. */
char *kl_buf_detach(kl_buf_t *b);
void kl_buf_free(kl_buf_t *b);

/* Write the repr of p (see kl_buf_append_repr) into out, NUL-terminated and
 * truncated to fit cap. Returns the untruncated length (snprintf style). */
size_t kl_repr(char *out, size_t cap, const char *p, size_t n);

/* ---- Argument splitting ----------------------------------------------- */

/* Redis sdssplitargs: split a line into arguments. Blanks separate arguments;
 * "double quotes" support \xHH, \n \r \t \b \a and \<any>; 'single quotes'
 * support \'; a closing quote must be followed by a blank or the end. A NUL
 * byte ends the line as in Redis. On success *argv is a kl_malloc'd vector of
 * *argc NUL-terminated kl_malloc'd strings (free with kl_free_args; the vector
 * is non-NULL even when *argc is 0) and 0 is returned. On unbalanced quotes
 * returns -EINVAL with *argv = NULL, *argc = 0. Arguments may contain NUL
 * bytes (from \x00); use kl_split_args_len to get their lengths. */
int kl_split_args(const char *line, size_t len, char ***argv, int *argc);
/* Same, also returning a kl_malloc'd vector of lengths (free with kl_free). */
int kl_split_args_len(const char *line, size_t len, char ***argv, size_t **lens, int *argc);
void kl_free_args(char **argv, int argc);

/* ---- Clocks ------------------------------------------------------------ */

/* Wall clock (CLOCK_REALTIME) in microseconds / milliseconds. */
long long kl_ustime(void);
long long kl_mstime(void);
/* Monotonic clock (CLOCK_MONOTONIC) in microseconds: durations and timers. */
long long kl_monotonic_us(void);

#endif
