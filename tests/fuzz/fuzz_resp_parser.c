/* libFuzzer target for ioloop/resp_parser.c.
 *
 * The first input byte steers how the rest (the request stream) is fed; the
 * stream is parsed three ways with the same limits and all three must agree
 * exactly (status, error text, every command):
 *   A. whole, in one buffer;
 *   B. in two pieces, split at a point taken from the steering byte;
 *   C. in pieces whose sizes are read from the stream itself (1..16 bytes).
 * A fourth run, D, feeds the stream in small pieces under a tiny query limit and
 * checks only the invariants (it may stop with RESP_ERR_QUERY_LIMIT).
 *
 * Every run resets the batch between calls and checks, aborting on violation:
 * consumed <= len; progress whenever the batch was empty; cmd_off starts at 0,
 * rises strictly and ends at nargs; every argument is NUL-terminated; bytes is
 * the sum of argument lengths; the batch never holds more than batch_max_cmds
 * commands; pending never exceeds max_query_len; a parser between commands
 * holds nothing.
 * Each piece is copied into its own allocation so ASan sees reads past it, and
 * the copy is scribbled over before the batch is read, so an argument that
 * still pointed into the input would be caught. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "resp_parser.h"

typedef struct outcome {
    int status;
    char error[96];
    uint64_t hash; /* FNV-1a over every command, in order */
    uint64_t ncmds;
} outcome_t;

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "invariant failed: %s (line %d)\n", #c, __LINE__);                     \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

static uint64_t fnv(uint64_t h, const void *p, size_t n) {
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++) {
        h ^= s[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

static void drain(resp_batch_t *b, const resp_limits_t *lim, outcome_t *o) {
    size_t bytes = 0;

    if (b->ncmds == 0) {
        CHECK(b->nargs == 0);
        CHECK(b->bytes == 0);
    } else {
        CHECK(b->cmd_off[0] == 0);
        CHECK(b->cmd_off[b->ncmds] == b->nargs);
    }
    CHECK(lim->batch_max_cmds == 0 || b->ncmds <= lim->batch_max_cmds);
    for (uint32_t i = 0; i < b->ncmds; i++) {
        uint32_t argc;
        const resp_arg_t *argv;
        CHECK(b->cmd_off[i] < b->cmd_off[i + 1]);
        argc = resp_batch_argc(b, i);
        argv = resp_batch_argv(b, i);
        o->hash = fnv(o->hash, &argc, sizeof(argc));
        for (uint32_t j = 0; j < argc; j++) {
            CHECK(argv[j].ptr != NULL);
            CHECK(argv[j].ptr[argv[j].len] == '\0');
            o->hash = fnv(o->hash, &argv[j].len, sizeof(argv[j].len));
            o->hash = fnv(o->hash, argv[j].ptr, argv[j].len);
            bytes += argv[j].len;
        }
    }
    CHECK(b->bytes == bytes);
    o->ncmds += b->ncmds;
    resp_batch_reset(b);
}

/* Feeds data[0..size) in the given piece sizes (the last piece takes the rest). */
static void feed(const uint8_t *data, size_t size, const resp_limits_t *lim, int mode, size_t split,
                 outcome_t *o) {
    resp_parser_t p;
    resp_batch_t b;
    size_t off = 0, sz_i = 0;

    memset(o, 0, sizeof(*o));
    o->hash = 0xcbf29ce484222325ull;
    resp_parser_init(&p);
    resp_batch_init(&b);
    while (off < size && o->status == RESP_OK) {
        size_t n = size - off, done = 0;
        char *piece;
        if (mode == 1 && off < split) n = split - off;
        if (mode == 2 || mode == 3) {
            size_t want = 1 + (data[sz_i++ % size] & 15);
            if (want < n) n = want;
        }
        piece = malloc(n);
        CHECK(piece != NULL);
        memcpy(piece, data + off, n);
        while (done < n) {
            size_t c = (size_t)-1;
            int st = resp_parse(&p, lim, piece + done, n - done, &c, &b);
            CHECK(c <= n - done);
            if (lim->max_query_len) CHECK(resp_parser_pending(&p) <= lim->max_query_len);
            if (st != RESP_OK) {
                CHECK(st == RESP_ERR_PROTOCOL || st == RESP_ERR_QUERY_LIMIT);
                CHECK(resp_parser_error(&p)[0] != '\0');
                CHECK(strchr(resp_parser_error(&p), '\r') == NULL);
                CHECK(strchr(resp_parser_error(&p), '\n') == NULL);
                o->status = st;
                snprintf(o->error, sizeof(o->error), "%s", resp_parser_error(&p));
                memset(piece, 0xA5, n);
                drain(&b, lim, o);
                break;
            }
            /* The batch is empty at every call (drained below), so the parser
             * must take at least one byte. */
            CHECK(c > 0);
            done += c;
            memset(piece, 0xA5, done); /* bytes taken must not be referenced */
            drain(&b, lim, o);
        }
        free(piece);
        off += n;
    }
    if (o->status == RESP_OK && p.kind == 0) {
        /* Between commands the parser holds no memory at all. */
        CHECK(resp_parser_pending(&p) == 0);
        CHECK(p.chunks == NULL && p.line == NULL && p.pargs == NULL && p.bulk_buf == NULL);
    }
    resp_parser_free(&p);
    CHECK(resp_parser_pending(&p) == 0);
    resp_batch_free(&b);
}

static void same(const outcome_t *a, const outcome_t *b) {
    if (a->status != b->status || strcmp(a->error, b->error) != 0 || a->hash != b->hash ||
        a->ncmds != b->ncmds) {
        fprintf(stderr, "outcomes differ: status %d/%d error '%s'/'%s' cmds %llu/%llu\n", a->status,
                b->status, a->error, b->error, (unsigned long long)a->ncmds,
                (unsigned long long)b->ncmds);
        abort();
    }
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    /* Small limits so that batch boundaries and the bulk limit are exercised;
     * a query limit far above anything a fuzz input can make the parser hold
     * (one declared bulk of at most 1 MB plus the input), so it never decides
     * the outcome of runs A-C. */
    resp_limits_t lim = {.max_bulk_len = 1 << 20,
                         .max_query_len = 64u << 20,
                         .batch_max_cmds = 64,
                         .batch_max_bytes = 64 * 1024};
    resp_limits_t tight = {
        .max_bulk_len = 1 << 20, .max_query_len = 512, .batch_max_cmds = 3, .batch_max_bytes = 16};
    outcome_t a, b, c, d;
    uint8_t ctl;

    if (size == 0) return 0;
    ctl = data[0];
    data++;
    size--;
    if (size == 0) return 0;

    feed(data, size, &lim, 0, 0, &a);
    feed(data, size, &lim, 1, ((size_t)ctl * size) / 256 + 1, &b);
    same(&a, &b);
    feed(data, size, &lim, 2, 0, &c);
    same(&a, &c);
    feed(data, size, &tight, 3, 0, &d);
    if (d.status != RESP_ERR_QUERY_LIMIT) {
        /* Batch limits never change the outcome; the query limit may stop it. */
        same(&a, &d);
    }
    return 0;
}
