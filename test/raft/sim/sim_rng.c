/*
 * sim_rng.c
 *	  The simulator's pseudo-random generator (xoshiro256**).
 *
 * Every random choice of a run (configuration, faults, delays, payloads and
 * the engines' own seeds) is drawn from one generator seeded by the run's
 * seed, which is what makes a run replay exactly.
 */
#include "sim.h"

/* SplitMix64 finalizer: spreads the bits of x. */
uint64_t
sim_mix64(uint64_t x)
{
	x ^= x >> 30;
	x *= 0xbf58476d1ce4e5b9ULL;
	x ^= x >> 27;
	x *= 0x94d049bb133111ebULL;
	x ^= x >> 31;
	return x;
}

/* Seed the four words from SplitMix64, so that nearby seeds diverge. */
void
rng_seed(sim_rng *rng, uint64_t seed)
{
	uint64_t	x = seed;

	for (int i = 0; i < 4; i++)
	{
		x += 0x9e3779b97f4a7c15ULL;
		rng->s[i] = sim_mix64(x);
	}
}

/* Rotate left. */
static inline uint64_t
rotl(uint64_t x, int k)
{
	return (x << k) | (x >> (64 - k));
}

/* Next 64 random bits. */
uint64_t
rng_next(sim_rng *rng)
{
	uint64_t   *s = rng->s;
	uint64_t	result = rotl(s[1] * 5, 7) * 9;
	uint64_t	t = s[1] << 17;

	s[2] ^= s[0];
	s[3] ^= s[1];
	s[1] ^= s[2];
	s[0] ^= s[3];
	s[2] ^= t;
	s[3] = rotl(s[3], 45);
	return result;
}

/* Uniform in [0, n); n == 0 gives 0. */
uint64_t
rng_below(sim_rng *rng, uint64_t n)
{
	if (n == 0)
		return 0;
	/* the bias of a plain modulo is irrelevant for test schedules */
	return rng_next(rng) % n;
}

/* Uniform in [lo, hi); lo when the range is empty. */
int64_t
rng_range(sim_rng *rng, int64_t lo, int64_t hi)
{
	if (hi <= lo)
		return lo;
	return lo + (int64_t) rng_below(rng, (uint64_t) (hi - lo));
}

/* Uniform in [0, 1). */
double
rng_unit(sim_rng *rng)
{
	return (double) (rng_next(rng) >> 11) * (1.0 / 9007199254740992.0);
}

/* True with probability p. */
bool
rng_chance(sim_rng *rng, double p)
{
	if (p <= 0.0)
		return false;
	return rng_unit(rng) < p;
}
