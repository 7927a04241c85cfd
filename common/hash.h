/* hash.h: a fast, stable 64-bit hash (the same value on every machine and run) for ids and tables. */
#ifndef HASH_H
#define HASH_H
#include <stddef.h>
#include <stdint.h>

uint64_t hash64(const void *data, size_t len, uint64_t seed);
/* Writes the 128-bit hash of data as 32 lowercase hex digits and a NUL into out[33]. */
void hash_hex128(const void *data, size_t len, char out[33]);

#endif
