/* eval_rand — see eval_rand.h. MT19937 as in CPython's _randommodule.c. */
#include "eval_rand.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>

static void init_genrand(struct pyrand *r, uint32_t s)
{
    r->mt[0] = s;
    for (int i = 1; i < 624; i++)
        r->mt[i] = 1812433253u * (r->mt[i - 1] ^ (r->mt[i - 1] >> 30)) + (uint32_t)i;
    r->mti = 624;
}

void pyrand_seed(struct pyrand *r, uint32_t seed)
{
    /* init_by_array with the one-word key [seed] */
    init_genrand(r, 19650218u);
    int i = 1, j = 0;
    for (int k = 624; k; k--) {
        r->mt[i] =
            (r->mt[i] ^ ((r->mt[i - 1] ^ (r->mt[i - 1] >> 30)) * 1664525u)) + seed + (uint32_t)j;
        i++;
        j = 0; /* key length 1 */
        if (i >= 624) {
            r->mt[0] = r->mt[623];
            i = 1;
        }
    }
    for (int k = 623; k; k--) {
        r->mt[i] = (r->mt[i] ^ ((r->mt[i - 1] ^ (r->mt[i - 1] >> 30)) * 1566083941u)) - (uint32_t)i;
        i++;
        if (i >= 624) {
            r->mt[0] = r->mt[623];
            i = 1;
        }
    }
    r->mt[0] = 0x80000000u;
}

uint32_t pyrand_u32(struct pyrand *r)
{
    static const uint32_t mag01[2] = {0, 0x9908b0dfu};
    uint32_t y;
    if (r->mti >= 624) {
        int kk;
        for (kk = 0; kk < 624 - 397; kk++) {
            y = (r->mt[kk] & 0x80000000u) | (r->mt[kk + 1] & 0x7fffffffu);
            r->mt[kk] = r->mt[kk + 397] ^ (y >> 1) ^ mag01[y & 1];
        }
        for (; kk < 623; kk++) {
            y = (r->mt[kk] & 0x80000000u) | (r->mt[kk + 1] & 0x7fffffffu);
            r->mt[kk] = r->mt[kk + (397 - 624)] ^ (y >> 1) ^ mag01[y & 1];
        }
        y = (r->mt[623] & 0x80000000u) | (r->mt[0] & 0x7fffffffu);
        r->mt[623] = r->mt[396] ^ (y >> 1) ^ mag01[y & 1];
        r->mti = 0;
    }
    y = r->mt[r->mti++];
    y ^= y >> 11;
    y ^= (y << 7) & 0x9d2c5680u;
    y ^= (y << 15) & 0xefc60000u;
    y ^= y >> 18;
    return y;
}

uint32_t pyrand_below(struct pyrand *r, uint32_t n)
{
    int k = 0;
    while (k < 32 && (n >> k))
        k++; /* n.bit_length() */
    uint32_t v;
    do
        v = k ? pyrand_u32(r) >> (32 - k) : 0;
    while (v >= n);
    return v;
}

void pyrand_sample(struct pyrand *r, int n, int k, int *out)
{
    int setsize = 21;
    if (k > 5) setsize += (int)pow(4, ceil(log(k * 3) / log(4)));
    if (n <= setsize) {
        int *pool = malloc(sizeof *pool * (size_t)(n ? n : 1));
        if (!pool) return;
        for (int i = 0; i < n; i++)
            pool[i] = i;
        for (int i = 0; i < k; i++) {
            int j = (int)pyrand_below(r, (uint32_t)(n - i));
            out[i] = pool[j];
            pool[j] = pool[n - i - 1];
        }
        free(pool);
        return;
    }
    for (int i = 0; i < k; i++) {
        int j;
        bool again;
        do {
            j = (int)pyrand_below(r, (uint32_t)n);
            again = false;
            for (int q = 0; q < i; q++)
                again |= out[q] == j;
        } while (again);
        out[i] = j;
    }
}
