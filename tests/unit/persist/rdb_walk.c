/* Walks an RDB file made of string keys (what the interop test has
 * redis-server write) and prints one line per item:
 *   header <9 bytes> | aux <k> <v> | select <db> | resize <n> <nexp> |
 *   expire_ms <t> | string <k> <v> | eof | crc <computed> <stored>
 * Keys and values are printed with bytes outside 0x21..0x7e as \xHH. A string
 * pair's line ends with "same" or "differs": whether rdb_put_string (with
 * compression) re-encodes the value to the very bytes of the file. Exits 1
 * on anything it cannot decode (printing "error <what> <rc> at <offset>"). */
#include "crc64.h"
#include "kl_alloc.h"
#include "rdb_codec.h"

#include <inttypes.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void put_bytes(const unsigned char *s, size_t n) {
    for (size_t i = 0; i < n; i++) {
        if (s[i] > 0x20 && s[i] < 0x7f && s[i] != '\\')
            putchar(s[i]);
        else
            printf("\\x%02x", s[i]);
    }
}

static int fail(const char *what, int rc, const rdb_reader_t *r) {
    printf("error %s %d at %zu\n", what, rc, r->pos);
    return 1;
}

static int pair(rdb_reader_t *r, const char *tag, const char *what) {
    unsigned char *k, *v;
    size_t kn, vn;
    int rc = rdb_get_string(r, &k, &kn);
    if (rc) return fail(what, rc, r);
    size_t vstart = r->pos;
    rc = rdb_get_string(r, &v, &vn);
    if (rc) {
        kl_free(k);
        return fail(what, rc, r);
    }
    printf("%s ", tag);
    put_bytes(k, kn);
    putchar(' ');
    put_bytes(v, vn);
    rdb_buf_t w = {0};
    rdb_put_string(&w, v, vn, true);
    bool same = w.len == r->pos - vstart && memcmp(w.b, r->p + vstart, w.len) == 0;
    rdb_buf_free(&w);
    printf(" %s\n", same ? "same" : "differs");
    kl_free(k);
    kl_free(v);
    return 0;
}

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: rdb_walk FILE\n");
        return 2;
    }
    FILE *f = fopen(argv[1], "rb");
    if (!f) {
        perror(argv[1]);
        return 2;
    }
    static unsigned char data[1 << 20];
    size_t len = fread(data, 1, sizeof data, f);
    fclose(f);
    rdb_reader_t r;
    rdb_reader_init(&r, data, len);
    const unsigned char *hdr;
    if (rdb_get_raw(&r, 9, &hdr)) return fail("header", RDB_ERR_TRUNC, &r);
    printf("header %.9s\n", (const char *)hdr);
    for (int items = 0; items < 100000; items++) {
        uint8_t t;
        int rc = rdb_get_u8(&r, &t);
        if (rc) return fail("type", rc, &r);
        uint64_t a, b;
        int64_t ms;
        switch (t) {
        case RDB_OPCODE_AUX:
            if (pair(&r, "aux", "aux")) return 1;
            break;
        case RDB_OPCODE_SELECTDB:
            if ((rc = rdb_get_len(&r, &a, NULL))) return fail("selectdb", rc, &r);
            printf("select %" PRIu64 "\n", a);
            break;
        case RDB_OPCODE_RESIZEDB:
            if ((rc = rdb_get_len(&r, &a, NULL)) || (rc = rdb_get_len(&r, &b, NULL)))
                return fail("resizedb", rc, &r);
            printf("resize %" PRIu64 " %" PRIu64 "\n", a, b);
            break;
        case RDB_OPCODE_EXPIRETIME_MS:
            if ((rc = rdb_get_ms(&r, &ms))) return fail("expire", rc, &r);
            printf("expire_ms %" PRId64 "\n", ms);
            break;
        case RDB_TYPE_STRING:
            if (pair(&r, "string", "string")) return 1;
            break;
        case RDB_OPCODE_EOF: {
            size_t body = r.pos;
            const unsigned char *tr;
            if ((rc = rdb_get_raw(&r, 8, &tr))) return fail("trailer", rc, &r);
            uint64_t stored = 0;
            for (int i = 0; i < 8; i++)
                stored |= (uint64_t)tr[i] << (8 * i);
            printf("eof\ncrc %016" PRIx64 " %016" PRIx64 "\n", crc64(0, data, body), stored);
            if (rdb_remaining(&r)) return fail("trailing bytes", 0, &r);
            return 0;
        }
        default:
            return fail("unsupported type", t, &r);
        }
    }
    return fail("too many items", 0, &r);
}
