#include "kl_util.h"

#include "kl_alloc.h"
#include "kl_log.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>

/* ======================================================================
 * Glob matching
 * ====================================================================== */

/* Redis compares and folds bytes as (signed) char; keep that so ranges with
 * bytes >= 0x80 behave the same. */
static int glob_fold(int c, int nocase) {
    return nocase ? tolower(c) : c;
}

/* Match the single non-'*' token at pat[*pi] against byte c and move *pi past
 * the token. Reproduces Redis's stringmatchlen token rules, including its
 * quirks: an unterminated class ends at the pattern end, "[a-]" is the range
 * a..']', and escaped bytes inside a class compare case-sensitively. */
static int glob_token(const char *pat, size_t plen, size_t *pi, char ch, int nocase) {
    size_t i = *pi;
    int c = (signed char)ch;

    if (pat[i] == '?') {
        *pi = i + 1;
        return 1;
    }
    if (pat[i] == '[') {
        int neg, match = 0;
        i++;
        neg = i < plen && pat[i] == '^';
        if (neg) i++;
        for (;;) {
            if (i >= plen) {
                /* Unterminated class: it simply ends with the pattern. */
                i = plen - 1;
                break;
            } else if (pat[i] == '\\' && plen - i >= 2) {
                i++;
                if ((signed char)pat[i] == c) match = 1;
            } else if (pat[i] == ']') {
                break;
            } else if (plen - i >= 3 && pat[i + 1] == '-') {
                int start = (signed char)pat[i], end = (signed char)pat[i + 2], x = c;
                if (start > end) {
                    int t = start;
                    start = end;
                    end = t;
                }
                if (nocase) {
                    start = tolower(start);
                    end = tolower(end);
                    x = tolower(x);
                }
                i += 2;
                if (x >= start && x <= end) match = 1;
            } else if (glob_fold((signed char)pat[i], nocase) == glob_fold(c, nocase)) {
                match = 1;
            }
            i++;
        }
        *pi = i + 1;
        return neg ? !match : match;
    }
    if (pat[i] == '\\' && plen - i >= 2) i++;
    *pi = i + 1;
    return glob_fold((signed char)pat[i], nocase) == glob_fold(c, nocase);
}

/* Every token but '*' consumes exactly one byte, so remembering only the last
 * star and retrying from one byte further on is complete: this is the classic
 * linear-space wildcard algorithm and it finds a match iff Redis's recursive
 * matcher does. */
int kl_glob_match(const char *pat, size_t plen, const char *s, size_t slen, int nocase) {
    size_t pi = 0, si = 0, star_pi = 0, star_si = 0;
    int have_star = 0;

    if (slen == 0) return plen == 0;
    while (si < slen) {
        if (pi < plen && pat[pi] == '*') {
            while (pi < plen && pat[pi] == '*')
                pi++;
            if (pi == plen) return 1;
            have_star = 1;
            star_pi = pi;
            star_si = si;
            continue;
        }
        if (pi < plen) {
            size_t np = pi;
            if (glob_token(pat, plen, &np, s[si], nocase)) {
                pi = np;
                si++;
                continue;
            }
        }
        if (!have_star) return 0;
        pi = star_pi;
        si = ++star_si;
    }
    while (pi < plen && pat[pi] == '*')
        pi++;
    return pi == plen;
}

/* ======================================================================
 * Integers
 * ====================================================================== */

int kl_str_to_ull(const char *s, size_t len, unsigned long long *out) {
    unsigned long long v = 0;
    if (len == 0) return -EINVAL;
    if (len == 1 && s[0] == '0') {
        *out = 0;
        return 0;
    }
    if (s[0] < '1' || s[0] > '9') return -EINVAL;
    for (size_t i = 0; i < len; i++) {
        unsigned d;
        if (s[i] < '0' || s[i] > '9') return -EINVAL;
        d = (unsigned)(s[i] - '0');
        if (v > (ULLONG_MAX - d) / 10) {
            /* Keep scanning: a non-digit later still makes it a syntax error. */
            for (size_t j = i + 1; j < len; j++)
                if (s[j] < '0' || s[j] > '9') return -EINVAL;
            return -ERANGE;
        }
        v = v * 10 + d;
    }
    *out = v;
    return 0;
}

int kl_str_to_ll(const char *s, size_t len, long long *out) {
    unsigned long long v;
    int neg = 0, err;

    if (len == 0) return -EINVAL;
    if (s[0] == '-') {
        neg = 1;
        s++;
        len--;
        /* "-0" and "-" are not canonical integers. */
        if (len == 0 || s[0] == '0') return -EINVAL;
    }
    err = kl_str_to_ull(s, len, &v);
    if (err) return err;
    if (neg) {
        if (v > (unsigned long long)LLONG_MAX + 1) return -ERANGE;
        *out = v == (unsigned long long)LLONG_MAX + 1 ? LLONG_MIN : -(long long)v;
    } else {
        if (v > (unsigned long long)LLONG_MAX) return -ERANGE;
        *out = (long long)v;
    }
    return 0;
}

int kl_str_to_long(const char *s, size_t len, long *out) {
    long long v;
    int err = kl_str_to_ll(s, len, &v);
    if (err) return err;
    if (v < LONG_MIN || v > LONG_MAX) return -ERANGE;
    *out = (long)v;
    return 0;
}

int kl_ull_to_str(char *buf, size_t cap, unsigned long long v) {
    char tmp[KL_LLSTR_SIZE];
    int n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    if ((size_t)n + 1 > cap) {
        if (cap) buf[0] = '\0';
        return 0;
    }
    for (int i = 0; i < n; i++)
        buf[i] = tmp[n - 1 - i];
    buf[n] = '\0';
    return n;
}

int kl_ll_to_str(char *buf, size_t cap, long long v) {
    unsigned long long u;
    int n;
    if (v >= 0) return kl_ull_to_str(buf, cap, (unsigned long long)v);
    u = (unsigned long long)(-(v + 1)) + 1; /* safe for LLONG_MIN */
    if (cap < 2) {
        if (cap) buf[0] = '\0';
        return 0;
    }
    n = kl_ull_to_str(buf + 1, cap - 1, u);
    if (n == 0) {
        buf[0] = '\0';
        return 0;
    }
    buf[0] = '-';
    return n + 1;
}

/* ======================================================================
 * Floating point
 * ====================================================================== */

#define KL_MAX_LD_INPUT 5120 /* Redis MAX_LONG_DOUBLE_CHARS */

int kl_str_to_ld(const char *s, size_t len, long double *out) {
    char buf[KL_MAX_LD_INPUT];
    char *eptr;
    long double v;

    if (len == 0 || len >= sizeof(buf)) return -EINVAL;
    memcpy(buf, s, len);
    buf[len] = '\0';
    errno = 0;
    v = strtold(buf, &eptr);
    if (isspace((unsigned char)buf[0]) || *eptr != '\0' || (size_t)(eptr - buf) != len ||
        (errno == ERANGE && (isinf(v) || fpclassify(v) == FP_ZERO)) || errno == EINVAL || isnan(v))
        return -EINVAL;
    *out = v;
    return 0;
}

int kl_str_to_d(const char *s, size_t len, double *out) {
    char small[128];
    char *buf = small, *eptr;
    double v;
    int ret = 0;

    if (len == 0) return -EINVAL;
    if (len >= sizeof(small)) buf = kl_malloc(len + 1);
    memcpy(buf, s, len);
    buf[len] = '\0';
    errno = 0;
    v = strtod(buf, &eptr);
    if (isspace((unsigned char)buf[0]) || (size_t)(eptr - buf) != len ||
        (errno == ERANGE && (isinf(v) || fpclassify(v) == FP_ZERO)) || isnan(v))
        ret = -EINVAL;
    else
        *out = v;
    if (buf != small) kl_free(buf);
    return ret;
}

int kl_ld_to_str(char *buf, size_t cap, long double v, int mode) {
    int l;

    if (isinf(v)) {
        const char *s = v > 0 ? "inf" : "-inf";
        size_t n = strlen(s);
        if (cap < n + 1) goto err;
        memcpy(buf, s, n + 1);
        return (int)n;
    }
    switch (mode) {
    case KL_LD_AUTO:
        l = snprintf(buf, cap, "%.17Lg", v);
        break;
    case KL_LD_HEX:
        l = snprintf(buf, cap, "%La", v);
        break;
    case KL_LD_HUMAN:
        /* 17 digits after the point keeps small decimals looking like what the
         * user typed once trailing zeros are removed. */
        l = snprintf(buf, cap, "%.17Lf", v);
        if (l < 0 || (size_t)l + 1 > cap) goto err;
        if (memchr(buf, '.', (size_t)l)) {
            while (l > 0 && buf[l - 1] == '0')
                l--;
            if (l > 0 && buf[l - 1] == '.') l--;
        }
        if (l == 2 && buf[0] == '-' && buf[1] == '0') {
            buf[0] = '0';
            l = 1;
        }
        buf[l] = '\0';
        return l;
    default:
        goto err;
    }
    if (l < 0 || (size_t)l + 1 > cap) goto err;
    return l;
err:
    if (cap) buf[0] = '\0';
    return 0;
}

int kl_d_to_str(char *buf, size_t cap, double v) {
    int l;
    if (isnan(v)) {
        l = snprintf(buf, cap, "nan");
    } else if (isinf(v)) {
        l = snprintf(buf, cap, "%s", v < 0 ? "-inf" : "inf");
    } else if (v > -4503599627370495.0 && v < 4503599627370496.0 && v == (double)(long long)v) {
        /* Exact integers print through the integer path (and -0.0 becomes
         * "0"), exactly like Redis 7.0's d2string. */
        return kl_ll_to_str(buf, cap, (long long)v);
    } else {
        l = snprintf(buf, cap, "%.17g", v);
    }
    if (l < 0 || (size_t)l + 1 > cap) {
        if (cap) buf[0] = '\0';
        return 0;
    }
    return l;
}

/* ======================================================================
 * Memory units
 * ====================================================================== */

unsigned long long kl_mem_to_ull(const char *s, size_t len, int *err) {
    size_t digits = 0;
    unsigned long long mul, v = 0;
    const char *u;
    size_t ulen;

    *err = 0;
    while (digits < len && s[digits] >= '0' && s[digits] <= '9')
        digits++;
    u = s + digits;
    ulen = len - digits;
    if (ulen == 0 || (ulen == 1 && (u[0] | 0x20) == 'b')) {
        mul = 1;
    } else if (ulen == 1 && (u[0] | 0x20) == 'k') {
        mul = 1000;
    } else if (ulen == 2 && (u[0] | 0x20) == 'k' && (u[1] | 0x20) == 'b') {
        mul = 1024;
    } else if (ulen == 1 && (u[0] | 0x20) == 'm') {
        mul = 1000 * 1000;
    } else if (ulen == 2 && (u[0] | 0x20) == 'm' && (u[1] | 0x20) == 'b') {
        mul = 1024 * 1024;
    } else if (ulen == 1 && (u[0] | 0x20) == 'g') {
        mul = 1000ULL * 1000 * 1000;
    } else if (ulen == 2 && (u[0] | 0x20) == 'g' && (u[1] | 0x20) == 'b') {
        mul = 1024ULL * 1024 * 1024;
    } else {
        *err = 1;
        return 0;
    }
    for (size_t i = 0; i < digits; i++) {
        unsigned d = (unsigned)(s[i] - '0');
        if (v > (ULLONG_MAX - d) / 10) {
            v = ULLONG_MAX;
            break;
        }
        v = v * 10 + d;
    }
    if (v > ULLONG_MAX / mul) return ULLONG_MAX;
    return v * mul;
}

long long kl_mem_to_ll(const char *s, int *err) {
    unsigned long long v = kl_mem_to_ull(s, strlen(s), err);
    if (*err) return 0;
    if (v > (unsigned long long)LLONG_MAX) {
        *err = 1;
        return 0;
    }
    return (long long)v;
}

/* ======================================================================
 * SipHash
 * ====================================================================== */

static inline uint64_t rotl64(uint64_t x, int b) {
    return (x << b) | (x >> (64 - b));
}

static inline uint64_t load_le64(const unsigned char *p, int lower) {
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--) {
        unsigned char c = p[i];
        if (lower && c >= 'A' && c <= 'Z') c = (unsigned char)(c + 32);
        v = (v << 8) | c;
    }
    return v;
}

#define SIPROUND                                                                                   \
    do {                                                                                           \
        v0 += v1;                                                                                  \
        v1 = rotl64(v1, 13);                                                                       \
        v1 ^= v0;                                                                                  \
        v0 = rotl64(v0, 32);                                                                       \
        v2 += v3;                                                                                  \
        v3 = rotl64(v3, 16);                                                                       \
        v3 ^= v2;                                                                                  \
        v0 += v3;                                                                                  \
        v3 = rotl64(v3, 21);                                                                       \
        v3 ^= v0;                                                                                  \
        v2 += v1;                                                                                  \
        v1 = rotl64(v1, 17);                                                                       \
        v1 ^= v2;                                                                                  \
        v2 = rotl64(v2, 32);                                                                       \
    } while (0)

/* Generic SipHash-c-d. Internal, exported for the unit tests that check it
 * against the reference vectors of SipHash-2-4. */
uint64_t kl__siphash(const void *data, size_t len, uint64_t k0, uint64_t k1, int crounds,
                     int drounds, int lower);
uint64_t kl__siphash(const void *data, size_t len, uint64_t k0, uint64_t k1, int crounds,
                     int drounds, int lower) {
    const unsigned char *p = data;
    uint64_t v0 = k0 ^ 0x736f6d6570736575ULL;
    uint64_t v1 = k1 ^ 0x646f72616e646f6dULL;
    uint64_t v2 = k0 ^ 0x6c7967656e657261ULL;
    uint64_t v3 = k1 ^ 0x7465646279746573ULL;
    uint64_t b = (uint64_t)len << 56, m;
    size_t left = len & 7, i;
    const unsigned char *end = p + (len - left);

    for (; p != end; p += 8) {
        m = load_le64(p, lower);
        v3 ^= m;
        for (i = 0; i < (size_t)crounds; i++)
            SIPROUND;
        v0 ^= m;
    }
    for (i = 0; i < left; i++) {
        unsigned char c = p[i];
        if (lower && c >= 'A' && c <= 'Z') c = (unsigned char)(c + 32);
        b |= (uint64_t)c << (8 * i);
    }
    v3 ^= b;
    for (i = 0; i < (size_t)crounds; i++)
        SIPROUND;
    v0 ^= b;
    v2 ^= 0xff;
    for (i = 0; i < (size_t)drounds; i++)
        SIPROUND;
    return v0 ^ v1 ^ v2 ^ v3;
}

uint64_t kl_siphash13(const void *data, size_t len, uint64_t k0, uint64_t k1) {
    const unsigned char *p = data;
    uint64_t v0 = k0 ^ 0x736f6d6570736575ULL;
    uint64_t v1 = k1 ^ 0x646f72616e646f6dULL;
    uint64_t v2 = k0 ^ 0x6c7967656e657261ULL;
    uint64_t v3 = k1 ^ 0x7465646279746573ULL;
    const unsigned char *end = p + (len & ~(size_t)7);
    for (; p != end; p += 8) {
        uint64_t m;
        memcpy(&m, p, 8); /* little-endian hosts only (x86-64, aarch64) */
        v3 ^= m;
        SIPROUND;
        v0 ^= m;
    }
    /* Last word: the remaining 0..7 bytes, little-endian, len mod 256 on top. */
    uint64_t b = (uint64_t)len << 56;
    for (size_t i = 0; i < (len & 7); i++)
        b |= (uint64_t)p[i] << (8 * i);
    v3 ^= b;
    SIPROUND;
    v0 ^= b;
    v2 ^= 0xff;
    SIPROUND;
    SIPROUND;
    SIPROUND;
    return v0 ^ v1 ^ v2 ^ v3;
}

static uint64_t splitmix64(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ULL);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ULL;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebULL;
    return z ^ (z >> 31);
}

uint64_t kl_hash_bytes(const void *p, size_t len, uint64_t seed) {
    uint64_t x = seed;
    uint64_t k1 = splitmix64(&x);
    return kl__siphash(p, len, seed, k1, 1, 3, 0);
}

uint64_t kl_hash_bytes_nocase(const void *p, size_t len, uint64_t seed) {
    uint64_t x = seed;
    uint64_t k1 = splitmix64(&x);
    return kl__siphash(p, len, seed, k1, 1, 3, 1);
}

/* ======================================================================
 * Randomness
 * ====================================================================== */

void kl_random_bytes(void *buf, size_t len) {
    unsigned char *p = buf;
    while (len > 0) {
        ssize_t n = getrandom(p, len, 0);
        if (n < 0) {
            if (errno == EINTR) continue;
            break;
        }
        p += n;
        len -= (size_t)n;
    }
    if (len > 0) {
        int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
        while (fd >= 0 && len > 0) {
            ssize_t n = read(fd, p, len);
            if (n <= 0) {
                if (n < 0 && errno == EINTR) continue;
                break;
            }
            p += n;
            len -= (size_t)n;
        }
        if (fd >= 0) close(fd);
        if (len > 0) {
            kl_warning("No source of random bytes (getrandom and /dev/urandom failed)");
            abort();
        }
    }
}

static __thread uint64_t rng_state[4];
static __thread int rng_seeded;

uint64_t kl_rand64(void) {
    uint64_t *s = rng_state, result, t;
    if (!rng_seeded) {
        do
            kl_random_bytes(rng_state, sizeof(rng_state));
        while ((rng_state[0] | rng_state[1] | rng_state[2] | rng_state[3]) == 0);
        rng_seeded = 1;
    }
    result = rotl64(s[1] * 5, 7) * 9;
    t = s[1] << 17;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl64(s[3], 45);
    return result;
}

void kl_get_random_hex_chars(char *p, size_t len) {
    static const char hex[] = "0123456789abcdef";
    unsigned char rnd[64];
    size_t done = 0;
    while (done < len) {
        size_t n = (len - done + 1) / 2;
        if (n > sizeof(rnd)) n = sizeof(rnd);
        kl_random_bytes(rnd, n);
        for (size_t i = 0; i < n * 2 && done < len; i++)
            p[done++] = hex[(rnd[i / 2] >> ((i & 1) ? 0 : 4)) & 15];
    }
}

/* ======================================================================
 * Growable buffer and repr
 * ====================================================================== */

void kl_buf_reserve(kl_buf_t *b, size_t extra) {
    size_t need = b->len + extra + 1;
    if (need <= b->cap) return;
    size_t cap = b->cap ? b->cap : 64;
    while (cap < need)
        cap = cap < ((size_t)1 << 20) ? cap * 2 : cap + ((size_t)1 << 20);
    b->p = kl_realloc(b->p, cap);
    b->cap = cap;
    b->p[b->len] = '\0';
}

void kl_buf_append(kl_buf_t *b, const void *p, size_t n) {
    kl_buf_reserve(b, n);
    if (n) memcpy(b->p + b->len, p, n);
    b->len += n;
    b->p[b->len] = '\0';
}

void kl_buf_append_str(kl_buf_t *b, const char *s) {
    kl_buf_append(b, s, strlen(s));
}

void kl_buf_append_char(kl_buf_t *b, char c) {
    kl_buf_append(b, &c, 1);
}

void kl_buf_vappendf(kl_buf_t *b, const char *fmt, va_list ap) {
    va_list cp;
    int n;
    kl_buf_reserve(b, 0);
    va_copy(cp, ap);
    n = vsnprintf(b->p + b->len, b->cap - b->len, fmt, cp);
    va_end(cp);
    if (n < 0) return;
    if ((size_t)n >= b->cap - b->len) {
        kl_buf_reserve(b, (size_t)n);
        vsnprintf(b->p + b->len, b->cap - b->len, fmt, ap);
    }
    b->len += (size_t)n;
}

void kl_buf_appendf(kl_buf_t *b, const char *fmt, ...) {
    va_list ap;
    va_start(ap, fmt);
    kl_buf_vappendf(b, fmt, ap);
    va_end(ap);
}

/* Writes the repr of p through a byte sink; shared by the buffer and the
 * fixed-size variant so both quote identically. */
static size_t repr_emit(const char *p, size_t n, void (*put)(void *, const char *, size_t),
                        void *ctx) {
    static const char hex[] = "0123456789abcdef";
    size_t total = 0;
    char esc[4];
    put(ctx, "\"", 1);
    total++;
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        switch (c) {
        case '\\':
        case '"':
            esc[0] = '\\';
            esc[1] = (char)c;
            put(ctx, esc, 2);
            total += 2;
            break;
        case '\n':
            put(ctx, "\\n", 2), total += 2;
            break;
        case '\r':
            put(ctx, "\\r", 2), total += 2;
            break;
        case '\t':
            put(ctx, "\\t", 2), total += 2;
            break;
        case '\a':
            put(ctx, "\\a", 2), total += 2;
            break;
        case '\b':
            put(ctx, "\\b", 2), total += 2;
            break;
        default:
            if (c >= 0x20 && c < 0x7f) {
                put(ctx, (const char *)&p[i], 1);
                total++;
            } else {
                esc[0] = '\\';
                esc[1] = 'x';
                esc[2] = hex[c >> 4];
                esc[3] = hex[c & 15];
                put(ctx, esc, 4);
                total += 4;
            }
        }
    }
    put(ctx, "\"", 1);
    return total + 1;
}

static void repr_put_buf(void *ctx, const char *p, size_t n) {
    kl_buf_append(ctx, p, n);
}

void kl_buf_append_repr(kl_buf_t *b, const char *p, size_t n) {
    kl_buf_reserve(b, n + 2);
    repr_emit(p, n, repr_put_buf, b);
}

void kl_buf_clear(kl_buf_t *b) {
    b->len = 0;
    if (b->p) b->p[0] = '\0';
}

char *kl_buf_detach(kl_buf_t *b) {
    char *p;
    kl_buf_reserve(b, 0);
    p = b->p;
    b->p = NULL;
    b->len = b->cap = 0;
    return p;
}

void kl_buf_free(kl_buf_t *b) {
    kl_free(b->p);
    b->p = NULL;
    b->len = b->cap = 0;
}

struct repr_fixed {
    char *out;
    size_t cap, len;
};

static void repr_put_fixed(void *ctx, const char *p, size_t n) {
    struct repr_fixed *f = ctx;
    for (size_t i = 0; i < n; i++, f->len++)
        if (f->len + 1 < f->cap) f->out[f->len] = p[i];
}

size_t kl_repr(char *out, size_t cap, const char *p, size_t n) {
    struct repr_fixed f = {out, cap, 0};
    size_t total = repr_emit(p, n, repr_put_fixed, &f);
    if (cap) out[f.len < cap ? f.len : cap - 1] = '\0';
    return total;
}

/* ======================================================================
 * Argument splitting (sdssplitargs semantics)
 * ====================================================================== */

static int hexval(int c) {
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

void kl_free_args(char **argv, int argc) {
    if (!argv) return;
    for (int i = 0; i < argc; i++)
        kl_free(argv[i]);
    kl_free(argv);
}

int kl_split_args_len(const char *line, size_t len, char ***argvp, size_t **lensp, int *argcp) {
    char **argv = NULL;
    size_t *lens = NULL;
    int argc = 0, cap = 0;
    size_t i = 0;
    kl_buf_t cur = {0};
/* Reading past len (or at an embedded NUL) sees '\0', as Redis's C-string
 * parser would. */
#define AT(k) ((k) < len ? line[k] : '\0')

    for (;;) {
        while (AT(i) && isspace((unsigned char)AT(i)))
            i++;
        if (!AT(i)) break;
        int inq = 0, insq = 0, done = 0;
        kl_buf_clear(&cur);
        kl_buf_reserve(&cur, 0);
        while (!done) {
            char c = AT(i);
            if (inq) {
                if (c == '\\' && AT(i + 1) == 'x' && hexval((unsigned char)AT(i + 2)) >= 0 &&
                    hexval((unsigned char)AT(i + 3)) >= 0) {
                    char byte = (char)(hexval((unsigned char)AT(i + 2)) * 16 +
                                       hexval((unsigned char)AT(i + 3)));
                    kl_buf_append(&cur, &byte, 1);
                    i += 3;
                } else if (c == '\\' && AT(i + 1)) {
                    char e;
                    i++;
                    switch (AT(i)) {
                    case 'n':
                        e = '\n';
                        break;
                    case 'r':
                        e = '\r';
                        break;
                    case 't':
                        e = '\t';
                        break;
                    case 'b':
                        e = '\b';
                        break;
                    case 'a':
                        e = '\a';
                        break;
                    default:
                        e = AT(i);
                        break;
                    }
                    kl_buf_append(&cur, &e, 1);
                } else if (c == '"') {
                    /* A closing quote must be followed by a blank or the end. */
                    if (AT(i + 1) && !isspace((unsigned char)AT(i + 1))) goto err;
                    done = 1;
                } else if (!c) {
                    goto err;
                } else {
                    kl_buf_append(&cur, &c, 1);
                }
            } else if (insq) {
                if (c == '\\' && AT(i + 1) == '\'') {
                    i++;
                    kl_buf_append(&cur, "'", 1);
                } else if (c == '\'') {
                    if (AT(i + 1) && !isspace((unsigned char)AT(i + 1))) goto err;
                    done = 1;
                } else if (!c) {
                    goto err;
                } else {
                    kl_buf_append(&cur, &c, 1);
                }
            } else {
                switch (c) {
                case ' ':
                case '\n':
                case '\r':
                case '\t':
                case '\0':
                    done = 1;
                    break;
                case '"':
                    inq = 1;
                    break;
                case '\'':
                    insq = 1;
                    break;
                default:
                    kl_buf_append(&cur, &c, 1);
                    break;
                }
            }
            if (AT(i)) i++;
        }
        if (argc == cap) {
            cap = cap ? cap * 2 : 8;
            argv = kl_realloc(argv, sizeof(char *) * (size_t)cap);
            lens = kl_realloc(lens, sizeof(size_t) * (size_t)cap);
        }
        lens[argc] = cur.len;
        argv[argc++] = kl_buf_detach(&cur);
    }
#undef AT
    kl_buf_free(&cur);
    if (!argv) argv = kl_malloc(sizeof(char *));
    *argvp = argv;
    *argcp = argc;
    if (lensp)
        *lensp = lens ? lens : kl_malloc(sizeof(size_t));
    else
        kl_free(lens);
    return 0;
err:
    kl_buf_free(&cur);
    kl_free_args(argv, argc);
    kl_free(lens);
    *argvp = NULL;
    if (lensp) *lensp = NULL;
    *argcp = 0;
    return -EINVAL;
}

int kl_split_args(const char *line, size_t len, char ***argv, int *argc) {
    return kl_split_args_len(line, len, argv, NULL, argc);
}

/* ======================================================================
 * Clocks
 * ====================================================================== */

long long kl_ustime(void) {
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (long long)ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}

long long kl_mstime(void) {
    return kl_ustime() / 1000;
}

long long kl_monotonic_us(void) {
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (long long)ts.tv_sec * 1000000LL + ts.tv_nsec / 1000;
}
