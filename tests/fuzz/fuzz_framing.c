/* libFuzzer target for ioloop/framing.c.
 *
 * Input: byte 0 picks the framing kind and its parameters (a small max_unit,
 * a mark, a frame layout), byte 1 steers the chunking; the rest is the
 * stream. The stream is fed twice, as a link would feed it (after a unit the
 * rest of the read is fed again; a payload's last chunk ends the run):
 *   A. whole, in one buffer;
 *   B. in pieces of 1..16 bytes whose sizes come from the steering byte and
 *      the stream itself.
 * Both runs must produce the same canonical outcome: the same commands with
 * the same wire lengths, the same payload bytes, the same replies, lines and
 * frames, the same number of bytes taken, and an error in both or in neither
 * (the error text may differ: a piecewise run can see "too large" before the
 * byte that a whole run finds invalid; and the request parser's query limit
 * depends on the reads, as Redis's does, so only there may one run fail with
 * "command larger than" and the other not).
 *
 * Invariants checked on every call: consumed <= len; MORE takes every byte;
 * a unit's wire_len sums, with the bytes after it, to what was taken; the
 * framer is at a boundary after every unit but commands and inner payload
 * chunks; a failed framer keeps failing. Pieces are copied into their own
 * allocations (ASan sees reads past them) and scribbled over after the call,
 * so a unit that still pointed into the input would be caught. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "framing.h"

#define CHECK(c)                                                                                   \
    do {                                                                                           \
        if (!(c)) {                                                                                \
            fprintf(stderr, "invariant failed: %s (line %d)\n", #c, __LINE__);                     \
            abort();                                                                               \
        }                                                                                          \
    } while (0)

typedef struct outcome {
    uint64_t hash;
    uint64_t taken;
    int error;
    int units_last;
    char why[160];
} outcome_t;

static uint64_t fnv(uint64_t h, const void *p, size_t n) {
    const unsigned char *s = p;
    for (size_t i = 0; i < n; i++) {
        h ^= s[i];
        h *= 0x100000001b3ull;
    }
    return h;
}

static uint64_t hash_value(uint64_t h, const iol_resp_value_t *v, int depth) {
    CHECK(depth <= IOL_RESP_MAX_DEPTH + 2);
    h = fnv(h, &v->type, 1);
    if (v->attr) h = hash_value(fnv(h, "A", 1), v->attr, depth + 1);
    if (v->str) {
        CHECK(v->str[v->len] == '\0');
        h = fnv(h, v->str, v->len);
    }
    h = fnv(h, &v->integer, sizeof(v->integer));
    h = fnv(h, &v->n, sizeof(v->n));
    for (size_t i = 0; i < v->n; i++)
        h = hash_value(h, &v->elems[i], depth + 1);
    return h;
}

static uint64_t hash_unit(uint64_t h, const iol_unit_t *u) {
    switch (u->kind) {
    case IOL_UNIT_COMMANDS: {
        uint64_t sum = 0;
        CHECK(u->batch.ncmds > 0);
        for (uint32_t c = 0; c < u->batch.ncmds; c++) {
            h = fnv(h, "C", 1);
            h = fnv(h, &u->cmd_wire[c], sizeof(u->cmd_wire[c]));
            sum += u->cmd_wire[c];
            const resp_arg_t *a = resp_batch_argv(&u->batch, c);
            for (uint32_t k = 0; k < resp_batch_argc(&u->batch, c); k++) {
                CHECK(a[k].ptr[a[k].len] == '\0');
                h = fnv(fnv(h, &a[k].len, sizeof(a[k].len)), a[k].ptr, a[k].len);
            }
        }
        CHECK(sum == u->wire_len);
        return h;
    }
    case IOL_UNIT_REPLY:
        return hash_value(fnv(h, "R", 1), u->reply, 0);
    case IOL_UNIT_PAYLOAD:
        /* Chunk boundaries depend on the reads: hash the bytes only. */
        h = fnv(h, u->data, u->len);
        return u->last ? fnv(h, "$END", 4) : h;
    default:
        CHECK(u->data[u->len] == '\0');
        h = fnv(h, &u->kind, 1);
        h = fnv(h, &u->len, sizeof(u->len));
        return fnv(h, u->data, u->len);
    }
}

static void run(const iol_framing_t *f, const uint8_t *data, size_t size, int steer, outcome_t *o) {
    iol_framer_t fr;
    iol_framer_init(&fr, f);
    memset(o, 0, sizeof(*o));
    o->hash = 0xcbf29ce484222325ull;
    size_t off = 0;
    bool first = true, done = false;
    unsigned k = (unsigned)steer;
    while ((off < size || first) && !done) {
        size_t n = size - off;
        if (steer >= 0) {
            k = k * 1103515245u + 12345u + (off < size ? data[off] : 0);
            size_t piece = 1 + (k >> 16) % 16;
            if (piece < n) n = piece;
        }
        first = false;
        uint8_t *copy = malloc(n ? n : 1);
        memcpy(copy, data + off, n);
        size_t left = n;
        const char *p = (const char *)copy;
        for (;;) {
            size_t used = 0;
            iol_unit_t *u = NULL;
            uint64_t since_before = fr.since_unit;
            int rc = iol_framer_feed(&fr, p, left, &used, &u);
            CHECK(used <= left);
            p += used;
            left -= used;
            off += used;
            o->taken += used;
            if (rc == IOL_FRAMER_ERROR) {
                CHECK(u == NULL);
                CHECK(iol_framer_failed(&fr));
                size_t again = 9;
                CHECK(iol_framer_feed(&fr, "", 0, &again, &u) == IOL_FRAMER_ERROR && again == 0);
                o->error = 1;
                snprintf(o->why, sizeof(o->why), "%s", iol_framer_error(&fr));
                done = true;
                break;
            }
            if (rc == IOL_FRAMER_MORE) {
                CHECK(u == NULL);
                CHECK(left == 0);
                break;
            }
            CHECK(rc == IOL_FRAMER_UNIT && u != NULL);
            /* What was taken since the last unit = this unit + what follows it. */
            CHECK(since_before + used == u->wire_len + fr.since_unit);
            if (u->kind != IOL_UNIT_COMMANDS && !(u->kind == IOL_UNIT_PAYLOAD && !u->last))
                CHECK(iol_framer_at_boundary(&fr));
            memset(copy, 0xA5, n); /* the unit must own its bytes */
            o->hash = hash_unit(o->hash, u);
            memcpy(copy, data + off - (n - left), n); /* restore for the rest */
            bool last = u->last;
            iol_unit_free(u);
            if (last) {
                o->units_last++;
                done = true;
                break;
            }
            if (left == 0 && !iol_framer_failed(&fr)) break;
        }
        free(copy);
    }
    iol_framer_free(&fr);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size < 2) return 0;
    uint8_t pick = data[0], steer = data[1];
    data += 2;
    size -= 2;
    iol_framing_t f = iol_framing_make(pick % 6, 0);
    switch (f.kind) {
    case IOL_FRAMING_RESP_REQUESTS:
        f.max_unit = (pick & 0x80) ? 64 : 0;
        break;
    case IOL_FRAMING_RESP_REPLIES:
    case IOL_FRAMING_LINE:
        f.max_unit = (pick & 0x80) ? 32 : 4096;
        break;
    case IOL_FRAMING_RAW_LEN:
        f.raw_len = (uint64_t)(pick >> 3) * 7;
        break;
    case IOL_FRAMING_RAW_EOF: {
        size_t m = 1 + (pick >> 3) % 8;
        static const char marks[] = "0123456789abcdef";
        f = iol_framing_raw_eof(&marks[pick >> 6], m);
        break;
    }
    case IOL_FRAMING_BINARY:
        if (pick & 0x80) {
            f = iol_framing_cluster_bus(512);
        } else {
            f.len_size = (pick & 0x40) ? 1 : 2;
            f.len_off = (pick >> 3) & 1;
            f.len_excludes_header = (pick & 0x20) != 0;
            f.max_unit = 300;
        }
        break;
    }
    const char *why = NULL;
    CHECK(iol_framing_check(&f, &why) == 0);
    outcome_t a, b;
    run(&f, data, size, -1, &a);
    run(&f, data, size, steer, &b);
    /* The request parser's query limit counts what a command holds while it
     * is partly received, which depends on the reads (as in Redis). */
    if (a.error != b.error) {
        const char *err = a.error ? a.why : b.why;
        CHECK(f.kind == IOL_FRAMING_RESP_REQUESTS && strstr(err, "command larger than"));
        return 0;
    }
    if (!a.error) {
        CHECK(a.hash == b.hash);
        CHECK(a.taken == b.taken);
        CHECK(a.units_last == b.units_last);
    }
    return 0;
}
