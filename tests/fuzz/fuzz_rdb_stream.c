/* libFuzzer target for the push-fed RDB loader (rdb_loader_open_stream /
 * rdb_loader_feed), differential against the one-go memory loader.
 *
 * The input is an RDB file; its last byte is also the seed that picks the
 * flags (RDB_LOAD_DEEP, RDB_LOAD_NO_CHECKSUM), the chunk sizes (1, up to 7,
 * up to 300 or up to 64 KB, from a PRNG) and whether `last` comes with the
 * final chunk or as an empty feed after it. The input is loaded once from
 * memory and once fed in those chunks, each into a fresh keyspace. Both must
 * agree: the same result code, the same keys (an order-independent digest of
 * every db id, key, TTL and value walked completely, rdb_fuzz_common.h), the
 * same counts, and, when the load succeeded, the same end position. Besides:
 * a feed never consumes more than was fed, a stream that wants more never
 * says so after last, and a failure says why and where. */
#include "rdb_fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Everything in the live dbs, as one order-independent digest; *keys counts. */
static uint64_t keyspace_digest(int flags, size_t *keys) {
    uint64_t d = 0;
    *keys = 0;
    for (int i = 0; i < db_count(); i++) {
        kdb_t *db = db_get(i);
        dict_iter_t it;
        dict_iter_init(&it, db->keys, 0);
        dict_entry_t *e;
        while ((e = dict_iter_next(&it)) != NULL) {
            const char *k = dict_entry_key(e);
            size_t kl = dict_entry_klen(e);
            int64_t ttl = db_get_expire(db, k, kl);
            uint64_t h = fz_hash((uint64_t)i + 1, k, kl);
            h = fz_hash(h, &ttl, sizeof(ttl));
            uint64_t v = fz_walk(dict_entry_val(e), (flags & RDB_LOAD_DEEP) != 0);
            d ^= fz_hash(h, &v, sizeof(v));
            (*keys)++;
        }
        dict_iter_done(&it);
    }
    return d;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    rdb_fuzz_init();
    rdb_fuzz_limits(NULL);
    uint8_t seed = size ? data[size - 1] : 0;
    int flags = (seed & 1 ? RDB_LOAD_DEEP : 0) | (seed & 2 ? RDB_LOAD_NO_CHECKSUM : 0);
    static const size_t maxes[] = {1, 7, 300, 65536};
    size_t max = maxes[(seed >> 2) & 3];
    bool last_apart = (seed & 0x10) != 0;
    uint64_t rs = 0x9E3779B97F4A7C15ULL ^ seed;

    /* One go. */
    rdb_loader_t *l = rdb_loader_open_mem(data, size, flags);
    rdb_err_t err1 = {{0}, 0};
    int rc1;
    while ((rc1 = rdb_loader_step(l, SIZE_MAX / 2, &err1)) == 1) {}
    rdb_load_info_t in1 = *rdb_loader_info(l);
    size_t pos1 = rdb_loader_pos(l);
    rdb_loader_close(l);
    size_t keys1;
    uint64_t d1 = keyspace_digest(flags, &keys1);
    db_flush_all();

    /* Fed in chunks. */
    l = rdb_loader_open_stream(flags);
    rdb_err_t err2 = {{0}, 0};
    int rc2 = 1;
    size_t off = 0, feeds = 0;
    while (rc2 == 1) {
        rs ^= rs << 13;
        rs ^= rs >> 7;
        rs ^= rs << 17;
        size_t c = 1 + (size_t)(rs % max);
        if (c > size - off) c = size - off;
        bool last = last_apart ? off == size : off + c == size;
        rc2 = rdb_loader_feed(l, data + off, c, last, &err2);
        off += c;
        FCHECK(rdb_loader_pos(l) <= off);
        FCHECK(rc2 != 1 || !last);
        FCHECK(++feeds <= size + 2);
    }
    rdb_load_info_t in2 = *rdb_loader_info(l);
    size_t pos2 = rdb_loader_pos(l);
    rdb_loader_close(l);
    size_t keys2;
    uint64_t d2 = keyspace_digest(flags, &keys2);
    db_flush_all();

    if (rc1 != rc2)
        fprintf(stderr, "mem %d (%s at %zu), stream %d (%s at %zu)\n", rc1, err1.msg, err1.offset,
                rc2, err2.msg, err2.offset);
    FCHECK(rc1 == rc2);
    FCHECK(keys1 == keys2 && d1 == d2);
    FCHECK(keys2 == in2.keys_loaded);
    FCHECK(in1.keys_loaded == in2.keys_loaded && in1.keys_expired == in2.keys_expired &&
           in1.empty_keys_skipped == in2.empty_keys_skipped && in1.version == in2.version);
    if (rc2 == 0) FCHECK(pos1 == pos2);
    if (rc2 < 0) {
        FCHECK(err2.msg[0] != '\0');
        FCHECK(err2.offset <= size);
    }
    return 0;
}
