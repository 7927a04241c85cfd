/* hash.c: a fast, stable 64-bit hash (MurmurHash64A's construction, read little-endian) for ids and tables. */
#include <stdint.h>
#include <string.h>

#include "hash.h"

static inline uint64_t
load64le(const unsigned char *p)
{
	uint64_t v;

	memcpy(&v, p, sizeof v);
#if defined(__BYTE_ORDER__) && __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	v = __builtin_bswap64(v);
#endif
	return v;
}

uint64_t
hash64(const void *data, size_t len, uint64_t seed)
{
	const uint64_t m = 0xc6a4a7935bd1e995ULL;
	const int r = 47;
	const unsigned char *p = data;
	uint64_t h = seed ^ (len * m);
	size_t i, nblocks = len / 8;
	uint64_t k;

	for (i = 0; i < nblocks; i++) {
		k = load64le(p + 8 * i);
		k *= m;
		k ^= k >> r;
		k *= m;
		h ^= k;
		h *= m;
	}
	p += 8 * nblocks;
	switch (len & 7) {
	case 7: h ^= (uint64_t)p[6] << 48; /* FALLTHROUGH */
	case 6: h ^= (uint64_t)p[5] << 40; /* FALLTHROUGH */
	case 5: h ^= (uint64_t)p[4] << 32; /* FALLTHROUGH */
	case 4: h ^= (uint64_t)p[3] << 24; /* FALLTHROUGH */
	case 3: h ^= (uint64_t)p[2] << 16; /* FALLTHROUGH */
	case 2: h ^= (uint64_t)p[1] << 8;  /* FALLTHROUGH */
	case 1: h ^= (uint64_t)p[0];
		h *= m;
	}
	h ^= h >> r;
	h *= m;
	h ^= h >> r;
	return h;
}

void
hash_hex128(const void *data, size_t len, char out[33])
{
	static const char hex[] = "0123456789abcdef";
	uint64_t a = hash64(data, len, 0x9e3779b97f4a7c15ULL);
	uint64_t b = hash64(data, len, 0xd1b54a32d192ed03ULL ^ a);
	int i;

	for (i = 0; i < 16; i++) {
		out[i] = hex[(a >> (60 - 4 * i)) & 15];
		out[16 + i] = hex[(b >> (60 - 4 * i)) & 15];
	}
	out[32] = '\0';
}
