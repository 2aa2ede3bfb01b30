/* CRC-64 as Redis computes it for RDB trailers and DUMP payloads: the Jones
 * polynomial (0xad93d23594c935a9), reflected input and output, initial value
 * given by the caller (0 for a fresh checksum), no final xor.
 * crc64(0, "123456789", 9) == 0xe9c6d914c4b8d9ca. */
#ifndef KL_CRC64_H
#define KL_CRC64_H

#include <stddef.h>
#include <stdint.h>

/* Continue the checksum crc over p[0..n). Thread: any (the table is built
 * once, under pthread_once). */
uint64_t crc64(uint64_t crc, const void *p, size_t n);

#endif
