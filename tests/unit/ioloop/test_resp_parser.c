/* Tests for ioloop/resp_parser.c.
 *
 * Every request is fed whole, split in two at every byte boundary, one byte at
 * a time and in seeded random pieces, under several batch limits; all must give
 * the same commands (or the same error). Commands are compared in a canonical
 * RESP encoding ("*<argc>\r\n$<len>\r\n<bytes>\r\n..."), so expectations for
 * multibulk input are usually the input itself. Each piece is copied into its
 * own exact-size allocation that is scribbled over and freed after the call:
 * under ASan this catches reads past a piece and arguments that still point
 * into the caller's buffer. Under ASan every test also checks that it freed
 * all it allocated. */
#include <criterion/criterion.h>

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "kl_alloc.h"
#include "resp_parser.h"

/* Under ASan each test checks that it gave back every byte it allocated
 * (LSan's report at exit alone would not fail the test). The balance is
 * exact, unlike a reachability scan, which can miss a leak whose pointer still
 * sits in a dead stack slot. */
#if defined(__SANITIZE_ADDRESS__)
#define TEST_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define TEST_ASAN 1
#endif
#endif
#ifdef TEST_ASAN
/* From the sanitizer runtime (its header is not shipped with every compiler). */
size_t __sanitizer_get_current_allocated_bytes(void);
static size_t mem_at_start;
static void mem_mark(void) {
    mem_at_start = __sanitizer_get_current_allocated_bytes();
}
static void mem_check(void) {
    size_t now = __sanitizer_get_current_allocated_bytes();
    cr_assert_eq(now, mem_at_start, "leaked %zd bytes", (ssize_t)(now - mem_at_start));
}
#else
static void mem_mark(void) {}
static void mem_check(void) {}
#endif
/* A test whose body must give back all it allocated. */
#define RP_TEST(name)                                                                              \
    static void name##_body(void);                                                                 \
    Test(resp_parser, name) {                                                                      \
        mem_mark();                                                                                \
        name##_body();                                                                             \
        mem_check();                                                                               \
    }                                                                                              \
    static void name##_body(void)

#define S(x) x, sizeof(x) - 1
#define E(x) RESP_ERR_PFX x
#define RESP_ERR_PFX "ERR Protocol error: "

/* ------------------------------------------------------------ helpers */

typedef struct sbuf {
    char *p;
    size_t len, cap;
} sbuf_t;

static void sb_add(sbuf_t *b, const void *d, size_t n) {
    if (b->len + n + 1 > b->cap) {
        size_t cap = b->cap ? b->cap : 256;
        while (cap < b->len + n + 1)
            cap *= 2;
        b->p = kl_realloc(b->p, cap);
        b->cap = cap;
    }
    if (n) memcpy(b->p + b->len, d, n);
    b->len += n;
    b->p[b->len] = '\0';
}

static void sb_fmt(sbuf_t *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_fmt(sbuf_t *b, const char *fmt, ...) {
    char tmp[256];
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
    va_end(ap);
    sb_add(b, tmp, (size_t)n);
}

static void sb_rep(sbuf_t *b, char c, size_t n) {
    for (size_t i = 0; i < n; i++)
        sb_add(b, &c, 1);
}

static void sb_free(sbuf_t *b) {
    kl_free(b->p);
    memset(b, 0, sizeof(*b));
}

/* Canonical encoding of one argument / a command header. */
static void enc_arg(sbuf_t *b, const void *p, size_t n) {
    sb_fmt(b, "$%zu\r\n", n);
    sb_add(b, p, n);
    sb_add(b, "\r\n", 2);
}

/* Appends a command of NUL-terminated arguments, list ended by NULL. */
static void enc_cmd(sbuf_t *b, ...) {
    va_list ap;
    const char *a;
    int n = 0;
    va_start(ap, b);
    while (va_arg(ap, const char *))
        n++;
    va_end(ap);
    sb_fmt(b, "*%d\r\n", n);
    va_start(ap, b);
    while ((a = va_arg(ap, const char *)))
        enc_arg(b, a, strlen(a));
    va_end(ap);
}

/* Printable form for failure messages (truncated). */
static const char *show(const char *p, size_t n) {
    static char out[4][512];
    static int slot;
    char *o = out[slot++ & 3];
    size_t j = 0;
    for (size_t i = 0; i < n && j < sizeof(out[0]) - 8; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c >= 32 && c < 127 && c != '\\')
            o[j++] = (char)c;
        else
            j += (size_t)sprintf(o + j, "\\x%02x", c);
    }
    if (j >= sizeof(out[0]) - 8) j += (size_t)sprintf(o + j, "...");
    o[j] = '\0';
    return o;
}

static uint64_t rng_next(uint64_t *s) {
    uint64_t x = *s;
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return *s = x;
}

/* --------------------------------------------------------- the feeder */

typedef struct cfg {
    resp_limits_t lim;
    int auth;
    const char *name;
} cfg_t;

static const cfg_t CFG_DEFAULT = {{512u << 20, 1u << 30, 0, 0}, 0, "default"};
static const cfg_t CFG_ONE = {{512u << 20, 1u << 30, 1, 0}, 0, "one-cmd"};
static const cfg_t CFG_SMALL = {{512u << 20, 1u << 30, 3, 7}, 0, "3cmds/7bytes"};
static const cfg_t *const CFGS[] = {&CFG_DEFAULT, &CFG_ONE, &CFG_SMALL};
#define NCFGS (sizeof(CFGS) / sizeof(CFGS[0]))

enum mode { M_WHOLE, M_SPLIT, M_BYTES, M_RANDOM };

typedef struct result {
    int status;
    char error[128];
    sbuf_t cmds; /* canonical encoding of every command produced */
    size_t ncmds;
    size_t calls;
    size_t pending_end; /* resp_parser_pending() after the last piece */
    size_t max_pending;
    int idle_clean; /* the parser held no memory at the end */
} result_t;

static void result_free(result_t *r) {
    sb_free(&r->cmds);
}

/* Checks the batch's invariants, appends its commands to r, resets it. */
static void collect(resp_batch_t *b, const resp_limits_t *lim, result_t *r) {
    size_t bytes = 0;
    if (b->ncmds) {
        cr_assert_eq(b->cmd_off[0], 0);
        cr_assert_eq(b->cmd_off[b->ncmds], b->nargs);
    } else {
        cr_assert_eq(b->nargs, 0);
    }
    if (lim && lim->batch_max_cmds) cr_assert_leq(b->ncmds, lim->batch_max_cmds);
    for (uint32_t i = 0; i < b->ncmds; i++) {
        uint32_t argc = resp_batch_argc(b, i);
        resp_arg_t *argv = resp_batch_argv(b, i);
        cr_assert_gt(argc, 0, "command without arguments");
        cr_assert_leq(b->cmd_off[i + 1], b->nargs);
        sb_fmt(&r->cmds, "*%u\r\n", argc);
        for (uint32_t j = 0; j < argc; j++) {
            cr_assert_eq(argv[j].ptr[argv[j].len], '\0', "argument not NUL-terminated");
            enc_arg(&r->cmds, argv[j].ptr, argv[j].len);
            bytes += argv[j].len;
        }
    }
    cr_assert_eq(b->bytes, bytes);
    r->ncmds += b->ncmds;
    resp_batch_reset(b);
    cr_assert_eq(b->ncmds, 0);
    cr_assert_eq(b->nargs, 0);
}

static size_t next_piece(enum mode m, size_t param, uint64_t *rng, size_t off, size_t len) {
    size_t left = len - off, n;
    switch (m) {
    case M_WHOLE:
        return left;
    case M_SPLIT:
        return off < param ? param - off : left;
    case M_BYTES:
        return 1;
    case M_RANDOM:
    default:
        /* Mostly small pieces, sometimes large ones. */
        n = (rng_next(rng) & 3) ? 1 + rng_next(rng) % 16
                                : 1 + rng_next(rng) % (param ? param : 4096);
        return n < left ? n : left;
    }
}

/* Feeds in[0..len) in pieces chosen by mode; fills r. */
static void run(const char *in, size_t len, const cfg_t *cfg, enum mode m, size_t param,
                result_t *r) {
    resp_parser_t p;
    resp_batch_t b;
    uint64_t rng = 0x9e3779b97f4a7c15ull ^ (param * 0x100000001b3ull) ^ len;
    size_t off = 0;

    memset(r, 0, sizeof(*r));
    resp_parser_init(&p);
    p.auth_required = cfg->auth;
    resp_batch_init(&b);
    while (off < len && r->status == RESP_OK) {
        size_t n = next_piece(m, param, &rng, off, len), done = 0;
        char *piece = kl_malloc(n);
        memcpy(piece, in + off, n);
        while (done < n) {
            size_t c = 12345;
            int st = resp_parse(&p, &cfg->lim, piece + done, n - done, &c, &b);
            r->calls++;
            collect(&b, &cfg->lim, r);
            if (resp_parser_pending(&p) > r->max_pending) r->max_pending = resp_parser_pending(&p);
            if (st != RESP_OK) {
                r->status = st;
                snprintf(r->error, sizeof(r->error), "%s", resp_parser_error(&p));
                break;
            }
            cr_assert_leq(c, n - done);
            /* The batch was empty, so the parser must make progress. */
            cr_assert_gt(c, 0, "no progress at offset %zu", off + done);
            done += c;
        }
        memset(piece, 0xA5, n);
        kl_free(piece);
        off += n;
    }
    r->pending_end = resp_parser_pending(&p);
    r->idle_clean = p.chunks == NULL && p.line == NULL && p.pargs == NULL && p.bulk_buf == NULL;
    resp_parser_free(&p);
    resp_batch_free(&b);
    cr_assert_eq(resp_batch_mem(&b), 0);
}

static const char *mode_name(enum mode m) {
    static const char *names[] = {"whole", "split", "bytes", "random"};
    return names[m];
}

/* Runs one request under every mode and configuration and checks the outcome. */
static void check_all(const char *in, size_t len, const char *exp, size_t exp_len, int status,
                      const char *error, const cfg_t *const *cfgs, size_t ncfgs) {
    for (size_t ci = 0; ci < ncfgs; ci++) {
        const cfg_t *cfg = cfgs[ci];
        size_t nsplit = len > 1 ? len - 1 : 0;
        /* Long inputs: split near both ends and at a stride in between. */
        size_t stride = len > 4096 ? 97 : 1;
        for (int m = M_WHOLE; m <= M_RANDOM; m++) {
            size_t runs = m == M_SPLIT ? nsplit : m == M_RANDOM ? 12 : 1;
            for (size_t k = 0; k < runs; k++) {
                size_t param = k + 1;
                result_t r;
                if (m == M_SPLIT && stride > 1 && param > 256 && param + 256 < len &&
                    param % stride)
                    continue;
                if (m == M_RANDOM) param = (k * 7919) % (len + 1) + 1;
                if (m == M_BYTES && len > 300000) continue;
                run(in, len, cfg, (enum mode)m, param, &r);
                cr_assert_eq(r.status, status, "[%s/%s/%zu] input '%s': status %d (%s), want %d",
                             cfg->name, mode_name((enum mode)m), param, show(in, len), r.status,
                             r.error, status);
                if (error)
                    cr_assert_str_eq(r.error, error, "[%s/%s/%zu] input '%s'", cfg->name,
                                     mode_name((enum mode)m), param, show(in, len));
                cr_assert(r.cmds.len == exp_len &&
                              (exp_len == 0 || !memcmp(r.cmds.p, exp, exp_len)),
                          "[%s/%s/%zu] input '%s'\n got '%s'\nwant '%s'", cfg->name,
                          mode_name((enum mode)m), param, show(in, len),
                          show(r.cmds.p ? r.cmds.p : "", r.cmds.len), show(exp, exp_len));
                if (status == RESP_OK) {
                    cr_assert_eq(r.pending_end, 0, "input '%s' left %zu pending", show(in, len),
                                 r.pending_end);
                    cr_assert(r.idle_clean, "idle parser still holds memory");
                }
                result_free(&r);
            }
        }
    }
}

static void check_ok(const char *in, size_t len, const char *exp, size_t exp_len) {
    check_all(in, len, exp, exp_len, RESP_OK, NULL, CFGS, NCFGS);
}

/* ------------------------------------------------------- valid requests */

typedef struct valid_case {
    const char *in;
    size_t in_len;
    const char *exp; /* NULL: same as the input */
    size_t exp_len;
} valid_case_t;

#define SAME(x)                                                                                    \
    { S(x), NULL, 0 }
#define GIVES(x, y)                                                                                \
    { S(x), S(y) }
#define P1(a) "*1\r\n$" #a
static const valid_case_t valid_cases[] = {
    SAME("*1\r\n$4\r\nPING\r\n"),
    SAME("*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n"),
    SAME("*2\r\n$3\r\nGET\r\n$0\r\n\r\n"),
    SAME("*1\r\n$0\r\n\r\n"),
    /* Binary argument: NUL, CR, LF and bytes that look like protocol. */
    SAME("*2\r\n$4\r\nECHO\r\n$8\r\n\0\r\n\xff\x01*$\n\r\n"),
    SAME("*2\r\n$4\r\nECHO\r\n$10\r\n*1\r\n$4\r\nPI\r\n"),
    /* No command at all. */
    GIVES("*0\r\n", ""),
    GIVES("*-1\r\n", ""),
    GIVES("*-5\r\n", ""),
    GIVES("*0\r\n*1\r\n$4\r\nPING\r\n*-1\r\n", "*1\r\n$4\r\nPING\r\n"),
    /* Redis skips the byte after a header's '\r' and the two bytes after a bulk unseen. */
    GIVES("*1\r\n$3\r\nfooXY", "*1\r\n$3\r\nfoo\r\n"),
    GIVES("*1\rX$3\rYfoo\r\n", "*1\r\n$3\r\nfoo\r\n"),
    GIVES("*2\r\n$1\r\na\r\r$1\r\nb\n\n", "*2\r\n$1\r\na\r\n$1\r\nb\r\n"),
    /* Inline. */
    GIVES("PING\r\n", "*1\r\n$4\r\nPING\r\n"),
    GIVES("PING\n", "*1\r\n$4\r\nPING\r\n"),
    GIVES("SET a b\n", "*3\r\n$3\r\nSET\r\n$1\r\na\r\n$1\r\nb\r\n"),
    GIVES("  set   'a b'   \"c\\td\"  \r\n", "*3\r\n$3\r\nset\r\n$3\r\na b\r\n$3\r\nc\td\r\n"),
    GIVES("\"\\x41\\x4a\\n\\r\\t\\b\\a\\\\\\\"\\q\\x4\"\n", "*1\r\n$12\r\nAJ\n\r\t\b\a\\\"qx4\r\n"),
    GIVES("\"\\x7f\\xFf\\x00z\"\r\n", "*1\r\n$4\r\n\x7f\xff\0z\r\n"),
    GIVES("'it\\'s' 'a\\nb' ''\n", "*3\r\n$4\r\nit's\r\n$4\r\na\\nb\r\n$0\r\n\r\n"),
    GIVES("\"\"\n", "*1\r\n$0\r\n\r\n"),
    GIVES("ab\"cd ef\" x\n", "*2\r\n$7\r\nabcd ef\r\n$1\r\nx\r\n"),
    GIVES("ab'c\"d' x\n", "*2\r\n$5\r\nabc\"d\r\n$1\r\nx\r\n"),
    GIVES("\"a\"\t'b'\r\n", "*2\r\n$1\r\na\r\n$1\r\nb\r\n"),
    GIVES("\"a\"\v'b'\f\r\n", "*2\r\n$1\r\na\r\n$1\r\nb\r\n"),
    GIVES("\"a\\\"b\"\n", "*1\r\n$3\r\na\"b\r\n"),
    GIVES("'a\\b'\n", "*1\r\n$3\r\na\\b\r\n"),
    /* '\v' and '\f' are skipped between tokens but do not end one. */
    GIVES("a\tb\vc\fd\n", "*2\r\n$1\r\na\r\n$5\r\nb\vc\fd\r\n"),
    GIVES("\v\fPING\v\r\n", "*1\r\n$5\r\nPING\v\r\n"),
    GIVES("a\r\r\n", "*1\r\n$1\r\na\r\n"),
    GIVES("a\rb\n", "*2\r\n$1\r\na\r\n$1\r\nb\r\n"),
    GIVES("SET k \xc3\xa9\r\n", "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$2\r\n\xc3\xa9\r\n"),
    /* A NUL ends the line's content, as in Redis's C-string splitter. */
    GIVES("GET a\0b c\r\n", "*2\r\n$3\r\nGET\r\n$1\r\na\r\n"),
    GIVES("\0PING\r\n", ""),
    /* Empty and blank lines give nothing. */
    GIVES("\r\n", ""),
    GIVES("\n", ""),
    GIVES("   \t \r\n", ""),
    GIVES("\r\n\r\nPING\r\n\n\n", "*1\r\n$4\r\nPING\r\n"),
    /* Pipelines mixing both kinds. */
    GIVES("PING\r\n*2\r\n$4\r\nECHO\r\n$2\r\nhi\r\nECHO \"x y\"\n*0\r\n\n*1\r\n$4\r\nQUIT\r\n",
          "*1\r\n$4\r\nPING\r\n*2\r\n$4\r\nECHO\r\n$2\r\nhi\r\n*2\r\n$4\r\nECHO\r\n$3\r\nx y\r\n"
          "*1\r\n$4\r\nQUIT\r\n"),
    SAME("*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nPING\r\n"
         "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$10\r\n0123456789\r\n"),
    SAME("*1\r\n$18\r\n123456789012345678\r\n"),
    SAME("*12\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n$1\r\ne\r\n$1\r\nf\r\n"
         "$1\r\ng\r\n$1\r\nh\r\n$1\r\ni\r\n$1\r\nj\r\n$1\r\nk\r\n$0\r\n\r\n"),
};

RP_TEST(valid_table) {
    for (size_t i = 0; i < sizeof(valid_cases) / sizeof(valid_cases[0]); i++) {
        const valid_case_t *c = &valid_cases[i];
        if (c->exp)
            check_ok(c->in, c->in_len, c->exp, c->exp_len);
        else
            check_ok(c->in, c->in_len, c->in, c->in_len);
    }
}

/* Large arguments around the arena/dedicated-chunk threshold and far above it. */
RP_TEST(valid_large_args) {
    static const size_t sizes[] = {4094, 4095, 4096, 4097, 5000, 16383, 16384, 16385, 100000};
    uint64_t rng = 42;
    sbuf_t in = {0};
    for (size_t i = 0; i < sizeof(sizes) / sizeof(sizes[0]); i++) {
        char *arg = kl_malloc(sizes[i]);
        for (size_t j = 0; j < sizes[i]; j++)
            arg[j] = (char)rng_next(&rng);
        in.len = 0;
        sb_add(&in, S("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n"));
        enc_arg(&in, arg, sizes[i]);
        sb_add(&in, S("*1\r\n$4\r\nPING\r\n"));
        check_ok(in.p, in.len, in.p, in.len);
        kl_free(arg);
    }
    /* Several big ones in one command, followed by small ones. */
    in.len = 0;
    sb_add(&in, S("*4\r\n"));
    for (int k = 0; k < 3; k++) {
        sbuf_t a = {0};
        sb_rep(&a, (char)('x' + k), 20000 + (size_t)k);
        enc_arg(&in, a.p, a.len);
        sb_free(&a);
    }
    enc_arg(&in, "end", 3);
    sb_add(&in, S("*2\r\n$4\r\nECHO\r\n$1\r\nz\r\n"));
    check_ok(in.p, in.len, in.p, in.len);
    sb_free(&in);
}

RP_TEST(valid_long_inline) {
    sbuf_t in = {0}, exp = {0};
    /* An argument long enough to need its own chunk. */
    sb_add(&in, S("SET k "));
    sb_rep(&in, 'v', 10000);
    sb_add(&in, S("\r\nPING\r\n"));
    sb_add(&exp, S("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$10000\r\n"));
    sb_rep(&exp, 'v', 10000);
    sb_add(&exp, S("\r\n*1\r\n$4\r\nPING\r\n"));
    check_ok(in.p, in.len, exp.p, exp.len);

    /* The longest line accepted: its '\n' is byte 65537. */
    in.len = exp.len = 0;
    sb_rep(&in, 'a', RESP_INLINE_MAX_SIZE);
    sb_add(&in, S("\nPING\n"));
    sb_fmt(&exp, "*1\r\n$%d\r\n", RESP_INLINE_MAX_SIZE);
    sb_rep(&exp, 'a', RESP_INLINE_MAX_SIZE);
    sb_add(&exp, S("\r\n*1\r\n$4\r\nPING\r\n"));
    check_ok(in.p, in.len, exp.p, exp.len);

    /* Many small inline arguments on one line. */
    in.len = exp.len = 0;
    sb_fmt(&exp, "*%d\r\n", 3000);
    for (int i = 0; i < 3000; i++) {
        sb_fmt(&in, "%s%d", i ? " " : "", i);
        char t[16];
        int n = snprintf(t, sizeof(t), "%d", i);
        enc_arg(&exp, t, (size_t)n);
    }
    sb_add(&in, S("\r\n"));
    check_ok(in.p, in.len, exp.p, exp.len);
    sb_free(&in);
    sb_free(&exp);
}

/* The "too big" boundary for header lines: 65536 bytes without a '\r' only
 * wait for more; a '\r' as the 65537th byte is accepted as a line, which is
 * then judged by its value (far too long for a number here). */
RP_TEST(header_line_boundary) {
    sbuf_t in = {0};
    sb_add(&in, "*", 1);
    sb_rep(&in, '1', RESP_INLINE_MAX_SIZE - 1);
    /* 65536 bytes, no '\r' yet: still waiting, no error. */
    {
        result_t r;
        run(in.p, in.len, &CFG_DEFAULT, M_WHOLE, 0, &r);
        cr_assert_eq(r.status, RESP_OK);
        cr_assert_eq(r.pending_end, RESP_INLINE_MAX_SIZE);
        result_free(&r);
        run(in.p, in.len, &CFG_DEFAULT, M_BYTES, 0, &r);
        cr_assert_eq(r.status, RESP_OK);
        cr_assert_eq(r.pending_end, RESP_INLINE_MAX_SIZE);
        result_free(&r);
    }
    sb_add(&in, S("\r\n"));
    check_all(in.p, in.len, "", 0, RESP_ERR_PROTOCOL, E("invalid multibulk length"), CFGS, 1);
    sb_free(&in);
}

/* --------------------------------------------------------------- errors */

typedef struct err_case {
    const char *in;
    size_t in_len;
    const char *error;
    const char *exp; /* commands before the error */
    size_t exp_len;
} err_case_t;

#define ERR(x, e)                                                                                  \
    { S(x), E(e), "", 0 }
static const err_case_t err_cases[] = {
    ERR("*abc\r\n", "invalid multibulk length"),
    ERR("*2147483648\r\n", "invalid multibulk length"),
    ERR("*99999999999999999999\r\n", "invalid multibulk length"),
    ERR("*9223372036854775808\r\n", "invalid multibulk length"),
    ERR("*123456789012345678901\r\n", "invalid multibulk length"),
    ERR("*\r\n", "invalid multibulk length"),
    ERR("*01\r\n", "invalid multibulk length"),
    ERR("*-0\r\n", "invalid multibulk length"),
    ERR("*+1\r\n", "invalid multibulk length"),
    ERR("* 1\r\n", "invalid multibulk length"),
    ERR("*1 \r\n", "invalid multibulk length"),
    ERR("*1\n\r\n", "invalid multibulk length"),
    ERR("*1\r\nX\r\n", "expected '$', got 'X'"),
    ERR("*1\r\n:1\r\n", "expected '$', got ':'"),
    ERR("*2\r\n$1\r\na\r\n+b\r\n", "expected '$', got '+'"),
    ERR("*1\r\n\r\n", "expected '$', got ' '"),
    ERR("*1\r\n\n\r\n", "expected '$', got ' '"),
    ERR("*1\r\n\0\r\n", "expected '$', got ' '"),
    ERR("*1\r\n*1\r\n", "expected '$', got '*'"),
    ERR("*1\r\n$-1\r\n", "invalid bulk length"),
    ERR("*1\r\n$abc\r\n", "invalid bulk length"),
    ERR("*1\r\n$\r\n", "invalid bulk length"),
    ERR("*1\r\n$01\r\n", "invalid bulk length"),
    ERR("*1\r\n$-0\r\n", "invalid bulk length"),
    ERR("*1\r\n$ 1\r\n", "invalid bulk length"),
    ERR("*1\r\n$99999999999999999999\r\n", "invalid bulk length"),
    ERR("*1\r\n$536870913\r\n", "invalid bulk length"),
    ERR("*1\r\n$4294967296\r\n", "invalid bulk length"),
    ERR("*1\r\n$9223372036854775807\r\n", "invalid bulk length"),
    ERR("*2\r\n$3\r\nGET\r\n$-1\r\n", "invalid bulk length"),
    ERR("SET \"a\n", "unbalanced quotes in request"),
    ERR("SET 'a\n", "unbalanced quotes in request"),
    ERR("\"a\"b\n", "unbalanced quotes in request"),
    ERR("'a'b\n", "unbalanced quotes in request"),
    ERR("\"abc\\\n", "unbalanced quotes in request"),
    ERR("GET \"a\0\"\n", "unbalanced quotes in request"),
    ERR("\"a\"\"b\"\r\n", "unbalanced quotes in request"),
    {S("PING\r\n*x\r\n"), E("invalid multibulk length"), S("*1\r\n$4\r\nPING\r\n")},
    {S("*1\r\n$4\r\nPING\r\nGET \"k\r\n"), E("unbalanced quotes in request"),
     S("*1\r\n$4\r\nPING\r\n")},
    {S("*1\r\n$1\r\na\r\n*2\r\n$1\r\nb\r\nc\r\n"), E("expected '$', got 'c'"),
     S("*1\r\n$1\r\na\r\n")},
};

RP_TEST(error_table) {
    for (size_t i = 0; i < sizeof(err_cases) / sizeof(err_cases[0]); i++) {
        const err_case_t *c = &err_cases[i];
        check_all(c->in, c->in_len, c->exp, c->exp_len, RESP_ERR_PROTOCOL, c->error, CFGS, NCFGS);
    }
}

RP_TEST(error_bulk_over_configured_max) {
    cfg_t cfg = CFG_DEFAULT;
    const cfg_t *cfgs[] = {&cfg};
    cfg.lim.max_bulk_len = 1024;
    cfg.name = "max_bulk_len=1024";
    sbuf_t in = {0};
    sb_add(&in, S("*1\r\n"));
    {
        sbuf_t a = {0};
        sb_rep(&a, 'q', 1024);
        enc_arg(&in, a.p, a.len);
        sb_free(&a);
    }
    check_all(in.p, in.len, in.p, in.len, RESP_OK, NULL, cfgs, 1);
    check_all(S("*1\r\n$1025\r\n"), "", 0, RESP_ERR_PROTOCOL, E("invalid bulk length"), cfgs, 1);
    sb_free(&in);
}

RP_TEST(error_too_big_lines) {
    sbuf_t in = {0};

    sb_add(&in, "*", 1);
    sb_rep(&in, '1', RESP_INLINE_MAX_SIZE);
    check_all(in.p, in.len, "", 0, RESP_ERR_PROTOCOL, E("too big mbulk count string"), CFGS, 1);
    /* Decided by where the '\r' is, not by how the bytes arrived. */
    sb_add(&in, S("\r\n"));
    check_all(in.p, in.len, "", 0, RESP_ERR_PROTOCOL, E("too big mbulk count string"), CFGS, 1);

    in.len = 0;
    sb_add(&in, S("*1\r\n$"));
    sb_rep(&in, 'x', RESP_INLINE_MAX_SIZE);
    check_all(in.p, in.len, "", 0, RESP_ERR_PROTOCOL, E("too big bulk count string"), CFGS, 1);

    /* A bad first byte is only reported once the line has its '\r' (as in Redis). */
    in.len = 0;
    sb_add(&in, S("*1\r\nX"));
    sb_rep(&in, 'x', RESP_INLINE_MAX_SIZE);
    check_all(in.p, in.len, "", 0, RESP_ERR_PROTOCOL, E("too big bulk count string"), CFGS, 1);

    in.len = 0;
    sb_add(&in, S("PING\r\n"));
    sb_rep(&in, 'a', RESP_INLINE_MAX_SIZE + 1);
    check_all(in.p, in.len, S("*1\r\n$4\r\nPING\r\n"), RESP_ERR_PROTOCOL,
              E("too big inline request"), CFGS, NCFGS);
    sb_add(&in, S("\r\n"));
    check_all(in.p, in.len, S("*1\r\n$4\r\nPING\r\n"), RESP_ERR_PROTOCOL,
              E("too big inline request"), CFGS, 1);

    /* Exactly 64 KB of content followed by CRLF is a valid inline command,
     * however the bytes arrive (redis-server accepts it when they come in two
     * reads). */
    in.len = 0;
    sb_rep(&in, 'a', RESP_INLINE_MAX_SIZE);
    sb_add(&in, S("\r\n"));
    {
        resp_parser_t p;
        resp_batch_t b;
        size_t used = 0, off = 0;
        resp_parser_init(&p);
        resp_batch_init(&b);
        /* Feed one byte at a time around the boundary, the rest in bulk. */
        cr_assert_eq(resp_parse(&p, NULL, in.p, RESP_INLINE_MAX_SIZE - 1, &used, &b), RESP_OK);
        off = used;
        while (off < in.len) {
            cr_assert_eq(resp_parse(&p, NULL, in.p + off, 1, &used, &b), RESP_OK);
            off += used;
        }
        cr_assert_eq(b.ncmds, 1);
        cr_assert_eq(b.args[0].len, (size_t)RESP_INLINE_MAX_SIZE);
        resp_parser_free(&p);
        resp_batch_free(&b);
    }
    sb_free(&in);
}

RP_TEST(error_is_sticky) {
    resp_parser_t p;
    resp_batch_t b;
    size_t c;
    resp_parser_init(&p);
    resp_batch_init(&b);
    cr_assert_eq(resp_parse(&p, NULL, S("*1\r\n$x\r\n"), &c, &b), RESP_ERR_PROTOCOL);
    cr_assert_str_eq(resp_parser_error(&p), E("invalid bulk length"));
    cr_assert_eq(resp_parse(&p, NULL, S("PING\r\n"), &c, &b), RESP_ERR_PROTOCOL);
    cr_assert_eq(c, 0);
    cr_assert_eq(b.ncmds, 0);
    /* resp_parser_free() makes it usable again. */
    resp_parser_free(&p);
    cr_assert_eq(resp_parse(&p, NULL, S("PING\r\n"), &c, &b), RESP_OK);
    cr_assert_eq(b.ncmds, 1);
    resp_parser_free(&p);
    resp_batch_free(&b);
}

RP_TEST(unauthenticated_limits) {
    cfg_t cfg = CFG_DEFAULT;
    const cfg_t *cfgs[] = {&cfg};
    sbuf_t in = {0};
    cfg.auth = 1;
    cfg.name = "auth_required";

    sb_add(&in, S("*10\r\n"));
    for (int i = 0; i < 10; i++)
        enc_arg(&in, "a", 1);
    check_all(in.p, in.len, in.p, in.len, RESP_OK, NULL, cfgs, 1);
    check_all(S("*11\r\n"), "", 0, RESP_ERR_PROTOCOL, E("unauthenticated multibulk length"), cfgs,
              1);
    /* Also when the whole command is there (the fast path must step aside). */
    in.len = 0;
    sb_add(&in, S("*11\r\n"));
    for (int i = 0; i < 11; i++)
        enc_arg(&in, "a", 1);
    check_all(in.p, in.len, "", 0, RESP_ERR_PROTOCOL, E("unauthenticated multibulk length"), cfgs,
              1);
    /* The generic check comes first, as in Redis. */
    check_all(S("*2147483648\r\n"), "", 0, RESP_ERR_PROTOCOL, E("invalid multibulk length"), cfgs,
              1);

    in.len = 0;
    sb_add(&in, S("*1\r\n"));
    {
        sbuf_t a = {0};
        sb_rep(&a, 'z', 16384);
        enc_arg(&in, a.p, a.len);
        sb_free(&a);
    }
    check_all(in.p, in.len, in.p, in.len, RESP_OK, NULL, cfgs, 1);
    check_all(S("*1\r\n$16385\r\n"), "", 0, RESP_ERR_PROTOCOL, E("unauthenticated bulk length"),
              cfgs, 1);
    check_all(S("*1\r\n$-3\r\n"), "", 0, RESP_ERR_PROTOCOL, E("invalid bulk length"), cfgs, 1);
    /* Inline requests have no such limit (Redis neither). */
    check_all(S("a b c d e f g h i j k l\n"),
              S("*12\r\n$1\r\na\r\n$1\r\nb\r\n$1\r\nc\r\n$1\r\nd\r\n$1\r\ne\r\n$1\r\nf\r\n"
                "$1\r\ng\r\n$1\r\nh\r\n$1\r\ni\r\n$1\r\nj\r\n$1\r\nk\r\n$1\r\nl\r\n"),
              RESP_OK, NULL, cfgs, 1);
    sb_free(&in);
}

/* ---------------------------------------------------------- batch limits */

RP_TEST(batch_max_cmds) {
    static const char ping[] = "*1\r\n$4\r\nPING\r\n";
    const size_t pl = sizeof(ping) - 1;
    resp_limits_t lim = {512u << 20, 1u << 30, 3, 0};
    resp_parser_t p;
    resp_batch_t b;
    sbuf_t in = {0};
    size_t off = 0, c, total = 0;
    for (int i = 0; i < 10; i++)
        sb_add(&in, ping, pl);
    resp_parser_init(&p);
    resp_batch_init(&b);
    for (int round = 0; round < 4; round++) {
        cr_assert_eq(resp_parse(&p, &lim, in.p + off, in.len - off, &c, &b), RESP_OK);
        size_t want = round < 3 ? 3 : 1;
        cr_assert_eq(b.ncmds, want);
        cr_assert_eq(c, want * pl, "round %d consumed %zu", round, c);
        /* A full batch takes nothing more. */
        if (off + c < in.len) {
            size_t c2 = 99;
            cr_assert_eq(resp_parse(&p, &lim, in.p + off + c, in.len - off - c, &c2, &b), RESP_OK);
            cr_assert_eq(c2, 0);
        }
        total += b.ncmds;
        off += c;
        resp_batch_reset(&b);
    }
    cr_assert_eq(total, 10);
    cr_assert_eq(off, in.len);
    resp_parser_free(&p);
    resp_batch_free(&b);
    sb_free(&in);
}

RP_TEST(batch_max_bytes) {
    static const char get[] = "*2\r\n$3\r\nGET\r\n$1\r\na\r\n"; /* 4 argument bytes */
    const size_t gl = sizeof(get) - 1;
    resp_limits_t lim = {512u << 20, 1u << 30, 0, 10};
    resp_parser_t p;
    resp_batch_t b;
    sbuf_t in = {0};
    size_t c;
    for (int i = 0; i < 5; i++)
        sb_add(&in, get, gl);
    resp_parser_init(&p);
    resp_batch_init(&b);
    /* 4, 8, 12 >= 10: the third command is taken whole, then it stops. */
    cr_assert_eq(resp_parse(&p, &lim, in.p, in.len, &c, &b), RESP_OK);
    cr_assert_eq(b.ncmds, 3);
    cr_assert_eq(b.bytes, 12);
    cr_assert_eq(c, 3 * gl);
    resp_batch_reset(&b);
    cr_assert_eq(resp_parse(&p, &lim, in.p + c, in.len - c, &c, &b), RESP_OK);
    cr_assert_eq(b.ncmds, 2);
    cr_assert_eq(c, 2 * gl);
    resp_parser_free(&p);
    resp_batch_free(&b);
    sb_free(&in);
}

/* A batch fills up with a partial command after it: the partial one is taken
 * by the next call into the parser, then completed by the one after. */
RP_TEST(batch_stop_then_partial) {
    static const char ping[] = "*1\r\n$4\r\nPING\r\n";
    const size_t pl = sizeof(ping) - 1;
    resp_limits_t lim = {512u << 20, 1u << 30, 2, 0};
    resp_parser_t p;
    resp_batch_t b;
    sbuf_t in = {0};
    size_t c;
    for (int i = 0; i < 4; i++)
        sb_add(&in, ping, pl);
    resp_parser_init(&p);
    resp_batch_init(&b);
    size_t first = in.len - 7;
    cr_assert_eq(resp_parse(&p, &lim, in.p, first, &c, &b), RESP_OK);
    cr_assert_eq(c, 2 * pl);
    cr_assert_eq(b.ncmds, 2);
    resp_batch_reset(&b);
    cr_assert_eq(resp_parse(&p, &lim, in.p + c, first - c, &c, &b), RESP_OK);
    cr_assert_eq(c, pl + 7);
    cr_assert_eq(b.ncmds, 1);
    cr_assert_gt(resp_parser_pending(&p), 0);
    resp_batch_reset(&b);
    cr_assert_eq(resp_parse(&p, &lim, in.p + first, 7, &c, &b), RESP_OK);
    cr_assert_eq(c, 7);
    cr_assert_eq(b.ncmds, 1);
    cr_assert_str_eq(resp_batch_argv(&b, 0)[0].ptr, "PING");
    cr_assert_eq(resp_parser_pending(&p), 0);
    resp_parser_free(&p);
    resp_batch_free(&b);
    sb_free(&in);
}

/* ------------------------------------------------------------ memory */

RP_TEST(pending_accounting) {
    resp_parser_t p;
    resp_batch_t b;
    size_t c;
    resp_parser_init(&p);
    resp_batch_init(&b);
    /* A finished argument counts its bytes, its NUL and its slot. */
    cr_assert_eq(resp_parse(&p, NULL, S("*3\r\n$5\r\nhello\r\n"), &c, &b), RESP_OK);
    cr_assert_eq(resp_parser_pending(&p), 5 + 1 + sizeof(resp_arg_t));
    /* A declared bulk counts in full as soon as its header is read. */
    cr_assert_eq(resp_parse(&p, NULL, S("$100\r\nab"), &c, &b), RESP_OK);
    cr_assert_eq(resp_parser_pending(&p), 2 * (1 + sizeof(resp_arg_t)) + 105);
    /* Bytes of an unfinished header line count too. */
    char data[98];
    memset(data, 'd', sizeof(data));
    cr_assert_eq(resp_parse(&p, NULL, data, sizeof(data), &c, &b), RESP_OK);
    cr_assert_eq(resp_parse(&p, NULL, S("\r\n$12"), &c, &b), RESP_OK);
    cr_assert_eq(resp_parser_pending(&p), 2 * (1 + sizeof(resp_arg_t)) + 105 + 3);
    cr_assert_eq(resp_parse(&p, NULL, S("\r\n0123456789ab\r\n"), &c, &b), RESP_OK);
    cr_assert_eq(b.ncmds, 1);
    cr_assert_eq(resp_batch_argc(&b, 0), 3);
    cr_assert_eq(resp_batch_argv(&b, 0)[1].len, 100);
    cr_assert_str_eq(resp_batch_argv(&b, 0)[2].ptr, "0123456789ab");
    cr_assert_eq(resp_parser_pending(&p), 0);
    cr_assert_null(p.chunks);
    cr_assert_null(p.line);
    cr_assert_null(p.pargs);
    resp_parser_free(&p);
    resp_batch_free(&b);
}

RP_TEST(max_query_len) {
    resp_limits_t lim = {512u << 20, 100, 0, 0};
    resp_parser_t p;
    resp_batch_t b;
    size_t c;
    sbuf_t in = {0};

    resp_parser_init(&p);
    resp_batch_init(&b);
    /* The declared bulk is refused before it is allocated. */
    cr_assert_eq(resp_parse(&p, &lim, S("*1\r\n$200\r\n"), &c, &b), RESP_ERR_QUERY_LIMIT);
    cr_assert_leq(resp_parser_pending(&p), 100);
    cr_assert_null(p.chunks);
    resp_parser_free(&p);

    /* Finished arguments of a partial command add up: 57 + 57 > 100. */
    sb_add(&in, S("*3\r\n"));
    for (int i = 0; i < 3; i++) {
        sbuf_t a = {0};
        sb_rep(&a, (char)('a' + i), 40);
        enc_arg(&in, a.p, a.len);
        sb_free(&a);
    }
    {
        result_t r;
        cfg_t cfg = {lim, 0, "max_query_len=100"};
        run(in.p, in.len, &cfg, M_SPLIT, 30, &r);
        cr_assert_eq(r.status, RESP_ERR_QUERY_LIMIT);
        cr_assert_leq(r.max_pending, 100);
        result_free(&r);
        run(in.p, in.len, &cfg, M_BYTES, 0, &r);
        cr_assert_eq(r.status, RESP_ERR_QUERY_LIMIT);
        result_free(&r);
        /* The limit caps state held between reads: a command that arrives
         * whole is never held, so it passes. */
        run(in.p, in.len, &cfg, M_WHOLE, 0, &r);
        cr_assert_eq(r.status, RESP_OK);
        cr_assert_eq(r.ncmds, 1);
        result_free(&r);
        /* Exactly at the limit is fine: 3 * (40 + 1 + 16) = 171. */
        cfg.lim.max_query_len = 3 * (41 + sizeof(resp_arg_t));
        run(in.p, in.len, &cfg, M_BYTES, 0, &r);
        cr_assert_eq(r.status, RESP_OK, "%s", r.error);
        cr_assert_eq(r.ncmds, 1);
        cr_assert_eq(r.max_pending, 3 * (41 + sizeof(resp_arg_t)));
        result_free(&r);
        cfg.lim.max_query_len--;
        run(in.p, in.len, &cfg, M_BYTES, 0, &r);
        cr_assert_eq(r.status, RESP_ERR_QUERY_LIMIT);
        result_free(&r);
    }

    /* A partial inline line. */
    in.len = 0;
    sb_rep(&in, 'a', 150);
    cr_assert_eq(resp_parse(&p, &lim, in.p, 60, &c, &b), RESP_OK);
    cr_assert_eq(resp_parse(&p, &lim, in.p + 60, 90, &c, &b), RESP_ERR_QUERY_LIMIT);
    resp_parser_free(&p);
    resp_batch_free(&b);
    sb_free(&in);
}

/* "$4294967296" must be refused before anything is allocated for it. */
RP_TEST(huge_bulk_refused_before_alloc) {
    resp_parser_t p;
    resp_batch_t b;
    size_t c;
    resp_limits_t lim = {0 /* no bulk limit */, 1 << 20, 0, 0};

    resp_parser_init(&p);
    resp_batch_init(&b);
    cr_assert_eq(resp_parse(&p, NULL, S("*1\r\n$4294967296\r\n"), &c, &b), RESP_ERR_PROTOCOL);
    cr_assert_str_eq(resp_parser_error(&p), E("invalid bulk length"));
    cr_assert_eq(resp_parser_pending(&p), 0);
    cr_assert_null(p.chunks);
    cr_assert_leq(resp_batch_mem(&b), 1024);
    resp_parser_free(&p);

    /* Byte by byte: still nothing but the header bytes is held. */
    static const char req[] = "*1\r\n$4294967296\r\n";
    int st = RESP_OK;
    for (size_t i = 0; i < sizeof(req) - 1 && st == RESP_OK; i++) {
        st = resp_parse(&p, NULL, req + i, 1, &c, &b);
        cr_assert_leq(resp_parser_pending(&p), 16);
    }
    cr_assert_eq(st, RESP_ERR_PROTOCOL);
    cr_assert_null(p.chunks);
    resp_parser_free(&p);

    /* With no bulk limit, the query limit refuses it, also before allocating. */
    cr_assert_eq(resp_parse(&p, &lim, S("*1\r\n$4294967296\r\n"), &c, &b), RESP_ERR_QUERY_LIMIT);
    cr_assert_eq(resp_parser_pending(&p), 0);
    cr_assert_null(p.chunks);
    resp_parser_free(&p);
    resp_batch_free(&b);
}

/* A "*1048576" header costs nothing up front; arguments are held as they come. */
RP_TEST(million_args) {
    const uint32_t n = 1048576; /* a 1M-element command: memory follows what arrives */
    resp_parser_t p;
    resp_batch_t b;
    sbuf_t in = {0};
    size_t c, off, per_arg = 8 + sizeof(resp_arg_t);

    sb_fmt(&in, "*%u\r\n", n);
    for (uint32_t i = 0; i < n; i++) {
        char t[8];
        snprintf(t, sizeof(t), "%07u", i % 10000000u);
        enc_arg(&in, t, 7);
    }
    resp_parser_init(&p);
    resp_batch_init(&b);
    /* Header plus three arguments. */
    off = strlen("*1048576\r\n") + 3 * 13;
    cr_assert_eq(resp_parse(&p, NULL, in.p, off, &c, &b), RESP_OK);
    cr_assert_eq(c, off);
    cr_assert_eq(b.ncmds, 0);
    cr_assert_eq(resp_parser_pending(&p), 3 * per_arg);
    cr_assert_leq(p.pargs_cap, 8);
    cr_assert_eq(resp_batch_mem(&b), 0);
    /* The rest in 64 KB reads; what is held grows with what arrived. */
    while (off < in.len) {
        size_t k = in.len - off < 65536 ? in.len - off : 65536;
        cr_assert_eq(resp_parse(&p, NULL, in.p + off, k, &c, &b), RESP_OK);
        cr_assert_eq(c, k);
        off += k;
        if (off < in.len) {
            size_t args_in = (off - 10) / 13;
            cr_assert_leq(resp_parser_pending(&p), (args_in + 1) * per_arg + 16);
            cr_assert_leq(p.pargs_cap, 2 * args_in + 8);
        }
    }
    cr_assert_eq(b.ncmds, 1);
    cr_assert_eq(resp_batch_argc(&b, 0), n);
    cr_assert_eq(b.bytes, (size_t)n * 7);
    for (uint32_t i = 0; i < n; i += 997) {
        char t[8];
        snprintf(t, sizeof(t), "%07u", i % 10000000u);
        cr_assert_str_eq(resp_batch_argv(&b, 0)[i].ptr, t);
    }
    cr_assert_str_eq(resp_batch_argv(&b, 0)[n - 1].ptr, "1048575");
    cr_assert_eq(resp_parser_pending(&p), 0);
    resp_batch_reset(&b);
    cr_assert_leq(resp_batch_mem(&b), 32 * 1024);

    /* The same stream against a 1 MB query limit fails part way. */
    resp_limits_t lim = {512u << 20, 1 << 20, 0, 0};
    int st = RESP_OK;
    off = 0;
    while (off < in.len && st == RESP_OK) {
        size_t k = in.len - off < 65536 ? in.len - off : 65536;
        st = resp_parse(&p, &lim, in.p + off, k, &c, &b);
        off += k;
    }
    cr_assert_eq(st, RESP_ERR_QUERY_LIMIT);
    cr_assert_leq(resp_parser_pending(&p), 1 << 20);
    resp_parser_free(&p);

    /* Whole, it goes through the fast path in one call. */
    cr_assert_eq(resp_parse(&p, NULL, in.p, in.len, &c, &b), RESP_OK);
    cr_assert_eq(c, in.len);
    cr_assert_eq(b.ncmds, 1);
    cr_assert_eq(resp_batch_argc(&b, 0), n);
    resp_parser_free(&p);
    resp_batch_free(&b);
    sb_free(&in);
}

RP_TEST(pipeline_10000) {
    sbuf_t in = {0}, exp = {0};
    for (int i = 0; i < 10000; i++) {
        char k[32], v[64];
        snprintf(k, sizeof(k), "key:%d", i);
        snprintf(v, sizeof(v), "value-%d-%0*d", i, i % 50, 0);
        switch (i % 4) {
        case 0:
            enc_cmd(&in, "SET", k, v, NULL);
            enc_cmd(&exp, "SET", k, v, NULL);
            break;
        case 1:
            sb_fmt(&in, "GET %s\r\n", k);
            enc_cmd(&exp, "GET", k, NULL);
            break;
        case 2:
            sb_add(&in, S("*1\r\n$4\r\nPING\r\n"));
            enc_cmd(&exp, "PING", NULL);
            break;
        default:
            sb_fmt(&in, "ECHO \"%s\\x21\"\n", v);
            strcat(v, "!");
            enc_cmd(&exp, "ECHO", v, NULL);
            break;
        }
    }
    cfg_t big = {{512u << 20, 1u << 30, 64, 64 * 1024}, 0, "64cmds/64KB"};
    for (int m = M_WHOLE; m <= M_RANDOM; m++) {
        const cfg_t *cfgs[] = {&CFG_DEFAULT, &big, &CFG_SMALL};
        for (size_t ci = 0; ci < 3; ci++) {
            result_t r;
            run(in.p, in.len, cfgs[ci], (enum mode)m, m == M_SPLIT ? in.len / 3 : 16384, &r);
            cr_assert_eq(r.status, RESP_OK);
            cr_assert_eq(r.ncmds, 10000);
            cr_assert(r.cmds.len == exp.len && !memcmp(r.cmds.p, exp.p, exp.len), "[%s/%s]",
                      cfgs[ci]->name, mode_name((enum mode)m));
            if (m == M_WHOLE && cfgs[ci] == &big) cr_assert_geq(r.calls, 10000 / 64);
            result_free(&r);
        }
    }
    sb_free(&in);
    sb_free(&exp);
}

/* resp_batch_reset() keeps one arena chunk and small arrays; free keeps nothing. */
RP_TEST(batch_reset_shrinks) {
    resp_parser_t p;
    resp_batch_t b;
    sbuf_t in = {0};
    size_t c;
    sb_add(&in, S("*2\r\n$3\r\nSET\r\n"));
    {
        sbuf_t a = {0};
        sb_rep(&a, 'v', 100000);
        enc_arg(&in, a.p, a.len);
        sb_free(&a);
    }
    for (int i = 0; i < 2000; i++)
        enc_cmd(&in, "SET", "some-key", "some-value", NULL);
    resp_parser_init(&p);
    resp_batch_init(&b);
    for (int round = 0; round < 3; round++) {
        cr_assert_eq(resp_parse(&p, NULL, in.p, in.len, &c, &b), RESP_OK);
        cr_assert_eq(b.ncmds, 2001);
        cr_assert_gt(resp_batch_mem(&b), 100000);
        resp_batch_reset(&b);
        cr_assert_leq(resp_batch_mem(&b), 16 * 1024 + 64 + 256 * (sizeof(resp_arg_t) + 4));
        cr_assert_gt(resp_batch_mem(&b), 0);
        /* Small traffic reuses what was kept: no growth after the first time. */
        size_t before = 0;
        for (int k = 0; k < 3; k++) {
            cr_assert_eq(resp_parse(&p, NULL, S("*1\r\n$4\r\nPING\r\nGET a\r\n"), &c, &b), RESP_OK);
            cr_assert_eq(b.ncmds, 2);
            if (k) cr_assert_eq(resp_batch_mem(&b), before);
            before = resp_batch_mem(&b);
            resp_batch_reset(&b);
        }
    }
    resp_batch_free(&b);
    cr_assert_eq(resp_batch_mem(&b), 0);
    cr_assert_null(b.chunks);
    resp_batch_free(&b); /* twice is harmless */
    resp_parser_free(&p);
    sb_free(&in);
}

/* Partial state of every kind is released by resp_parser_free (LSan checks). */
RP_TEST(free_partial_states) {
    static const struct {
        const char *s;
        size_t n;
    } partial[] = {
        {S("*3\r\n$3\r\nSET\r\n$100000\r\nabc")}, /* big bulk in progress */
        {S("*3\r\n$3\r\nSET\r\n$10\r\nabc")},     /* small bulk in progress */
        {S("*3\r\n$3\r\nSET\r\n$1")},             /* header line */
        {S("*3\r\n$3\r\nSET\r\n$1\r")},           /* header line waiting for the byte after \r */
        {S("*3\r\n$3\r\nSET\r\n")},               /* between arguments */
        {S("*12")},                               /* multibulk header */
        {S("GET \"abc")},                         /* inline line */
    };
    for (size_t i = 0; i < sizeof(partial) / sizeof(partial[0]); i++) {
        resp_parser_t p;
        resp_batch_t b;
        size_t c;
        resp_parser_init(&p);
        resp_batch_init(&b);
        cr_assert_eq(resp_parse(&p, NULL, partial[i].s, partial[i].n, &c, &b), RESP_OK);
        cr_assert_eq(c, partial[i].n);
        cr_assert_eq(b.ncmds, 0);
        cr_assert_gt(resp_parser_pending(&p), 0, "case %zu", i);
        resp_parser_free(&p);
        cr_assert_eq(resp_parser_pending(&p), 0);
        resp_batch_free(&b);
    }
}

/* After a command that came in pieces the parser holds nothing at all. */
RP_TEST(idle_parser_holds_nothing) {
    resp_parser_t p;
    resp_batch_t b;
    size_t c;
    resp_parser_init(&p);
    resp_batch_init(&b);
    cr_assert_eq(resp_parse(&p, NULL, S("*2\r\n$3\r\nfoo\r\n$3\r\nb"), &c, &b), RESP_OK);
    cr_assert_not_null(p.pargs);
    cr_assert_eq(resp_parse(&p, NULL, S("ar\r\nPI"), &c, &b), RESP_OK);
    cr_assert_eq(b.ncmds, 1);
    cr_assert_str_eq(resp_batch_argv(&b, 0)[1].ptr, "bar");
    cr_assert_eq(resp_parse(&p, NULL, S("NG\r\n"), &c, &b), RESP_OK);
    cr_assert_eq(b.ncmds, 2);
    cr_assert_str_eq(resp_batch_argv(&b, 1)[0].ptr, "PING");
    cr_assert_eq(resp_parser_pending(&p), 0);
    cr_assert_null(p.chunks);
    cr_assert_null(p.line);
    cr_assert_null(p.pargs);
    cr_assert_null(p.bulk_buf);
    resp_parser_free(&p);
    resp_batch_free(&b);
}

/* Seeded random pipelines of random commands, parsed whole and in random
 * pieces under random limits: same commands every time. */
RP_TEST(random_pipelines) {
    uint64_t rng = 7;
    for (int iter = 0; iter < 60; iter++) {
        sbuf_t in = {0}, exp = {0};
        int ncmd = 1 + (int)(rng_next(&rng) % 40);
        for (int i = 0; i < ncmd; i++) {
            int argc = 1 + (int)(rng_next(&rng) % 5);
            int kind = (int)(rng_next(&rng) % 5);
            if (kind == 0) {
                const char *empty = (rng_next(&rng) & 1) ? "*0\r\n" : "\r\n";
                sb_add(&in, empty, strlen(empty));
                continue;
            }
            sb_fmt(&exp, "*%d\r\n", argc);
            if (kind == 1) { /* inline, double-quoted with escapes */
                for (int j = 0; j < argc; j++) {
                    size_t len = rng_next(&rng) % 12;
                    char raw[16];
                    sb_add(&in, j ? " \"" : "\"", j ? 2 : 1);
                    for (size_t q = 0; q < len; q++) {
                        raw[q] = (char)(rng_next(&rng) & 0xff);
                        sb_fmt(&in, "\\x%02x", (unsigned char)raw[q]);
                    }
                    sb_add(&in, "\"", 1);
                    enc_arg(&exp, raw, len);
                }
                sb_add(&in, "\r\n", 2);
            } else {
                sb_fmt(&in, "*%d\r\n", argc);
                for (int j = 0; j < argc; j++) {
                    size_t len = kind == 4 ? rng_next(&rng) % 9000 : rng_next(&rng) % 20;
                    char *raw = kl_malloc(len + 1);
                    for (size_t q = 0; q < len; q++)
                        raw[q] = (char)(rng_next(&rng) & 0xff);
                    enc_arg(&in, raw, len);
                    enc_arg(&exp, raw, len);
                    kl_free(raw);
                }
            }
        }
        cfg_t cfg = {
            {512u << 20, 1u << 30, (uint32_t)(rng_next(&rng) % 5), (size_t)(rng_next(&rng) % 200)},
            0,
            "random"};
        for (int m = M_WHOLE; m <= M_RANDOM; m++) {
            result_t r;
            if (m == M_SPLIT) {
                for (int k = 0; k < 8; k++) {
                    run(in.p, in.len, &cfg, M_SPLIT, 1 + rng_next(&rng) % in.len, &r);
                    cr_assert_eq(r.status, RESP_OK);
                    cr_assert(r.cmds.len == exp.len &&
                              (!exp.len || !memcmp(r.cmds.p, exp.p, exp.len)));
                    result_free(&r);
                }
                continue;
            }
            run(in.p, in.len, &cfg, (enum mode)m, 1 + rng_next(&rng) % 20000, &r);
            cr_assert_eq(r.status, RESP_OK, "%s", r.error);
            cr_assert(r.cmds.len == exp.len && (!exp.len || !memcmp(r.cmds.p, exp.p, exp.len)),
                      "iter %d mode %s", iter, mode_name((enum mode)m));
            result_free(&r);
        }
        sb_free(&in);
        sb_free(&exp);
    }
}

/* The HTTP guard's helpers: POST / Host: found by name in any case (as C
 * strings, like Redis's strcasecmp), and the batch cut before them. */
RP_TEST(find_http_and_truncate) {
    static const char in[] = "SET a 1\r\n*2\r\n$4\r\nPoSt\r\n$1\r\n/\r\nGET a\r\n"
                             "HOST: x\r\nhost:x\r\nposter\r\n*1\r\n$6\r\npost\0z\r\n";
    resp_parser_t p;
    resp_batch_t b;
    size_t used = 0;
    resp_parser_init(&p);
    resp_batch_init(&b);
    cr_assert_eq(resp_parse(&p, NULL, in, sizeof(in) - 1, &used, &b), RESP_OK);
    cr_assert_eq(used, sizeof(in) - 1);
    cr_assert_eq(b.ncmds, 7);
    cr_assert_eq(resp_batch_find_http(&b, 0), 1);
    cr_assert_eq(resp_batch_find_http(&b, 2), 3);
    cr_assert_eq(resp_batch_find_http(&b, 4), 6, "\"post\\0z\" is \"post\" to strcasecmp");
    cr_assert_eq(resp_batch_find_http(&b, 7), UINT32_MAX);
    size_t first = resp_batch_argv(&b, 0)[0].len + resp_batch_argv(&b, 0)[1].len +
                   resp_batch_argv(&b, 0)[2].len;
    resp_batch_truncate(&b, 1);
    cr_assert_eq(b.ncmds, 1);
    cr_assert_eq(b.nargs, 3);
    cr_assert_eq(b.bytes, first);
    cr_assert_eq(resp_batch_find_http(&b, 0), UINT32_MAX);
    resp_batch_truncate(&b, 5); /* longer than the batch: nothing changes */
    cr_assert_eq(b.ncmds, 1);
    resp_batch_truncate(&b, 0);
    cr_assert_eq(b.ncmds, 0);
    cr_assert_eq(b.nargs, 0);
    cr_assert_eq(b.bytes, 0);
    resp_batch_free(&b);
    resp_parser_free(&p);
}

/* CLIENT LIST's qbuf / qbuf-free / argv-mem of a partly received command. */
RP_TEST(usage_of_partial_command) {
    resp_parser_t p;
    resp_batch_t b;
    size_t used, args, pending, room;
    resp_parser_init(&p);
    resp_batch_init(&b);
    resp_parser_usage(&p, &args, &pending, &room);
    cr_assert(args == 0 && pending == 0 && room == 0);
    cr_assert_eq(resp_parse(&p, NULL, S("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$10\r\nabc"), &used, &b),
                 RESP_OK);
    resp_parser_usage(&p, &args, &pending, &room);
    cr_assert_eq(args, 4);
    cr_assert_eq(pending, 3);
    cr_assert_eq(room, 7);
    cr_assert_eq(resp_parse(&p, NULL, S("defghij\r\n*2\r\n$4"), &used, &b), RESP_OK);
    cr_assert_eq(b.ncmds, 1);
    resp_parser_usage(&p, &args, &pending, &room);
    cr_assert_eq(args, 0);
    cr_assert_eq(pending, 2, "the partial \"$4\" header line");
    cr_assert_gt(room, 0);
    cr_assert_eq(resp_parse(&p, NULL, S("\r\nECHO\r\n$1\r\nx\r\nSET k "), &used, &b), RESP_OK);
    cr_assert_eq(b.ncmds, 2);
    resp_parser_usage(&p, &args, &pending, &room);
    cr_assert(args == 0 && pending == 6 && room > 0, "inline: %zu %zu %zu", args, pending, room);
    cr_assert_eq(resp_parse(&p, NULL, S("v\r\n"), &used, &b), RESP_OK);
    resp_parser_usage(&p, &args, &pending, &room);
    cr_assert(args == 0 && pending == 0 && room == 0);
    resp_batch_free(&b);
    resp_parser_free(&p);
}
