/* Config spaces: the seeded random generator every random choice of the search draws from.
 * Part of src/config (config space). xoshiro256** (Blackman & Vigna), seeded with splitmix64. */
#include "config/config.h"

uint64_t cfg_splitmix64(uint64_t *state) {
  uint64_t z = (*state += 0x9e3779b97f4a7c15ull);
  z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
  z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
  return z ^ (z >> 31);
}

void cfg_rng_seed(CfgRng *r, uint64_t seed) {
  uint64_t st = seed;
  for (int i = 0; i < 4; i++)
    r->s[i] = cfg_splitmix64(&st);
}

static uint64_t rotl(uint64_t x, int k) {
  return (x << k) | (x >> (64 - k));
}

uint64_t cfg_rng_next(CfgRng *r) {
  uint64_t *s = r->s;
  uint64_t result = rotl(s[1] * 5, 7) * 9;
  uint64_t t = s[1] << 17;
  s[2] ^= s[0];
  s[3] ^= s[1];
  s[1] ^= s[2];
  s[0] ^= s[3];
  s[2] ^= t;
  s[3] = rotl(s[3], 45);
  return result;
}

/* Rejection sampling on the top of the range keeps every value equally likely. */
uint64_t cfg_rng_below(CfgRng *r, uint64_t n) {
  if (n == 0) return 0;
  uint64_t limit = UINT64_MAX - UINT64_MAX % n;
  uint64_t x;
  do
    x = cfg_rng_next(r);
  while (x >= limit);
  return x % n;
}

double cfg_rng_unit(CfgRng *r) {
  return (double)(cfg_rng_next(r) >> 11) * 0x1.0p-53;
}
