/* CRC-64/Jones as Redis computes it. */
#include "crc64.h"

#include <criterion/criterion.h>
#include <string.h>

Test(crc64, redis_test_vector) {
    cr_assert_eq(crc64(0, "123456789", 9), 0xe9c6d914c4b8d9caULL);
}

Test(crc64, empty_and_incremental) {
    cr_assert_eq(crc64(0, "", 0), 0);
    cr_assert_eq(crc64(0x1234, "", 0), 0x1234);
    const char *s = "This is a test of the emergency broadcast system.";
    size_t n = strlen(s);
    uint64_t whole = crc64(0, s, n);
    for (size_t cut = 0; cut <= n; cut++)
        cr_assert_eq(crc64(crc64(0, s, cut), s + cut, n - cut), whole, "cut=%zu", cut);
}

/* Bitwise reference: the table must agree with the definition on every byte. */
Test(crc64, table_matches_bitwise) {
    unsigned char buf[300];
    for (size_t i = 0; i < sizeof buf; i++)
        buf[i] = (unsigned char)(i * 37 + 11);
    uint64_t c = 0;
    for (size_t i = 0; i < sizeof buf; i++) {
        c ^= buf[i];
        for (int b = 0; b < 8; b++)
            c = (c & 1) ? (c >> 1) ^ 0x95ac9329ac4bc9b5ULL : c >> 1;
    }
    cr_assert_eq(crc64(0, buf, sizeof buf), c);
}
