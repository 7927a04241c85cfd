/* rng.h: the project's one random number generator — splitmix64 for seeding and hashing a number, xoshiro256** for streams. */
#ifndef RNG_H
#define RNG_H
#include <stdint.h>

/* The splitmix64 increment (the golden ratio in 64 bits). */
#define RNG_GOLDEN	0x9e3779b97f4a7c15ULL

/*
 * The splitmix64 finaliser of x: a bijection of 64-bit numbers whose every
 * output bit depends on every input bit. Pure.
 */
static inline uint64_t
rng_mix64(uint64_t x)
{
	x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
	x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
	return x ^ (x >> 31);
}

/* splitmix64: advances *state by RNG_GOLDEN and returns the mix of the new state. */
static inline uint64_t
rng_splitmix64(uint64_t *state)
{
	return rng_mix64(*state += RNG_GOLDEN);
}

/* The top 53 bits of x as a double in [0, 1). */
static inline double
rng_unit(uint64_t x)
{
	return (double)(x >> 11) * 0x1.0p-53;
}

/* xoshiro256**: a small, fast generator whose sequence depends on its seed only; one per thread. */
struct rng {
	uint64_t s[4];
};

/* Seeds r from seed through splitmix64 (any seed, 0 included, gives a usable state). */
void rng_seed(struct rng *r, uint64_t seed);
uint64_t rng_next(struct rng *r);
/* A uniform double in [0, 1). */
double rng_uniform(struct rng *r);

#endif
