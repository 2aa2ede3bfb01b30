/* libFuzzer target for RESTORE payloads (persist/rdb.c rdb_payload_load and
 * the decoders below it: rdb_codec.c, listpack, intset blobs, ziplist,
 * zipmap, LZF).
 *
 * The input is a DUMP payload: type byte, value, RDB version (2 bytes LE),
 * CRC64. The footer is checked as RESTORE does but without the CRC (as if
 * it matched), so the fuzzer reaches the decoders. Each input is loaded
 * twice, with and without RDB_LOAD_DEEP (sanitize-dump-payload yes / no),
 * the second time under encoding limits (hash-max-listpack-entries, ...,
 * list-compress-depth) taken from the unchecked CRC bytes, so conversions
 * on load and compressed quicklist nodes are reached too.
 * Every value that loads is walked completely, re-serialized, loaded back
 * and compared (rdb_fuzz_common.h), then freed; a failed load must say why.
 * ASan/UBSan and the leak checker cover memory ownership. */
#include "rdb_fuzz_common.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    rdb_fuzz_init();
    if (rdb_payload_verify(data, size, true) != 0) return 0;
    for (int pass = 0; pass < 2; pass++) {
        int flags = pass ? RDB_LOAD_DEEP : 0;
        rdb_fuzz_limits(pass ? data + size - 8 : NULL);
        rdb_err_t err = {{0}, 0};
        kobj_t *o = rdb_payload_load(data, size, flags, &err);
        if (!o) {
            FCHECK(err.msg[0] != '\0');
            FCHECK(err.offset <= size);
            continue;
        }
        fz_check_value(o, flags);
        /* What loads deep loads shallow too. */
        obj_free(o);
    }
    return 0;
}
