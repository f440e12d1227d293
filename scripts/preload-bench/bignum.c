/* A bignum-like workload (the kind of cfrac, a continued-fraction factoring program): numbers
 * are malloc'd arrays of 32-bit limbs, every arithmetic result is a fresh block and every
 * temporary is freed at once, so one thread allocates and frees many short-lived blocks of
 * mixed small sizes (8 to ~100 bytes), mostly in LIFO order, with some realloc growth.
 * A pool of 256 live numbers is combined pairwise (product, sum, shifted difference, reduced
 * back to at most 12 limbs) until the time is up.
 *
 * Usage: bignum [seconds=2 | rROUNDS] */
#include <stdlib.h>
#include <string.h>
#include "report.h"

typedef struct {
    uint32_t len, cap;
    uint32_t d[];
} num;

static num *num_new(uint32_t len) {
    num *n = malloc(sizeof(num) + (size_t)len * 4);
    if (!n) abort();
    n->len = len;
    n->cap = len;
    return n;
}

static num *num_push(num *n, uint32_t limb) { /* grows by realloc, as bignum code appends */
    if (n->len == n->cap) {
        n->cap = n->cap + n->cap / 2 + 1;
        n = realloc(n, sizeof(num) + (size_t)n->cap * 4);
        if (!n) abort();
    }
    n->d[n->len++] = limb;
    return n;
}

static num *num_mul(const num *a, const num *b) {
    num *r = num_new(a->len + b->len);
    memset(r->d, 0, (size_t)r->len * 4);
    for (uint32_t i = 0; i < a->len; i++) {
        uint64_t carry = 0;
        for (uint32_t j = 0; j < b->len; j++) {
            uint64_t t = (uint64_t)a->d[i] * b->d[j] + r->d[i + j] + carry;
            r->d[i + j] = (uint32_t)t;
            carry = t >> 32;
        }
        r->d[i + b->len] = (uint32_t)carry;
    }
    return r;
}

static num *num_add(const num *a, const num *b) {
    if (a->len < b->len) { const num *t = a; a = b; b = t; }
    num *r = num_new(a->len); /* a carry out of the top limb grows it by realloc */
    r->len = 0;
    uint64_t carry = 0;
    for (uint32_t i = 0; i < a->len; i++) {
        uint64_t t = (uint64_t)a->d[i] + (i < b->len ? b->d[i] : 0) + carry;
        r = num_push(r, (uint32_t)t);
        carry = t >> 32;
    }
    if (carry) r = num_push(r, (uint32_t)carry);
    return r;
}

static num *num_reduce(const num *a, uint32_t max) { /* keeps the low limbs, mixes in the rest */
    uint32_t len = a->len < max ? a->len : max;
    num *r = num_new(len ? len : 1);
    r->d[0] = 1;
    for (uint32_t i = 0; i < len; i++) r->d[i] = a->d[i] ^ a->d[a->len - 1 - i];
    return r;
}

int main(int argc, char **argv) {
    enum { POOL = 256 };
    num *pool[POOL];
    uint64_t x = 0x2545F4914F6CDD1Dull;
    for (int i = 0; i < POOL; i++) {
        pool[i] = num_new(1 + (uint32_t)(next_random(&x) % 8));
        for (uint32_t j = 0; j < pool[i]->len; j++) pool[i]->d[j] = (uint32_t)next_random(&x) | 1;
    }
    double ops = 0;
    uint64_t check = 0;
    struct run r = run_start(argc > 1 ? argv[1] : NULL);
    do {
        for (int step = 0; step < 2000; step++) {
            int i = (int)(next_random(&x) % POOL), j = (int)(next_random(&x) % POOL);
            uint32_t max = 2 + (uint32_t)(next_random(&x) % 11);
            num *p = num_mul(pool[i], pool[j]);
            num *s = num_add(p, pool[i]);  /* several reallocs on the way */
            num *q = num_reduce(s, max);
            num *t = num_reduce(p, 1 + max / 4);
            num *u = num_add(q, t);
            check += u->d[0];
            free(p);
            free(s);
            free(q);
            free(t);
            free(pool[j]);
            pool[j] = u;
            ops += 5;
        }
    } while (!run_over(&r));
    run_report("bignum", &r, ops, "1 thread");
    for (int i = 0; i < POOL; i++) free(pool[i]);
    return check == 42; /* keeps the arithmetic */
}
