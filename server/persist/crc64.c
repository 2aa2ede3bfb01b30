/* CRC-64/Jones, reflected: see crc64.h. Table-driven, one byte at a time; the
 * table is computed from the polynomial at first use. */
#include "crc64.h"

#include <pthread.h>

/* 0xad93d23594c935a9 with its bits reversed: the reflected form shifts right. */
#define CRC64_POLY_REFLECTED 0x95ac9329ac4bc9b5ULL

static uint64_t crc_table[256];
static pthread_once_t crc_once = PTHREAD_ONCE_INIT;

static void crc_init(void) {
    for (unsigned i = 0; i < 256; i++) {
        uint64_t c = i;
        for (int b = 0; b < 8; b++)
            c = (c & 1) ? (c >> 1) ^ CRC64_POLY_REFLECTED : c >> 1;
        crc_table[i] = c;
    }
}

/* See crc64.h. Thread: any. */
uint64_t crc64(uint64_t crc, const void *p, size_t n) {
    const unsigned char *s = p;
    pthread_once(&crc_once, crc_init);
    for (size_t i = 0; i < n; i++)
        crc = crc_table[(crc ^ s[i]) & 0xff] ^ (crc >> 8);
    return crc;
}
