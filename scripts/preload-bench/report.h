/* Shared by the single-file stand-ins of scripts/bench-preload.sh: a time limit checked between
 * rounds of work, and the report line that script parses ("NAME: X Mops/s wall, Y Mops per
 * CPU-second (...)"). One "op" is one malloc (or calloc/realloc) with its free.
 * The limit argument is seconds ("2", "0.3"), or "rN" for exactly N rounds: the same work on
 * every allocator, for instruction counts (valgrind --tool=callgrind). */
#ifndef LP_PRELOAD_BENCH_REPORT_H
#define LP_PRELOAD_BENCH_REPORT_H
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static inline double clock_s(clockid_t id) {
    struct timespec t;
    clock_gettime(id, &t);
    return (double)t.tv_sec + (double)t.tv_nsec * 1e-9;
}

struct run {
    double wall0, cpu0, limit;
    long rounds, max_rounds; /* max_rounds > 0: a fixed number of rounds, no time limit */
};

static inline struct run run_start(const char *limit) {
    struct run r = {clock_s(CLOCK_MONOTONIC), clock_s(CLOCK_PROCESS_CPUTIME_ID), 2, 0, 0};
    if (limit && limit[0] == 'r') r.max_rounds = atol(limit + 1) > 0 ? atol(limit + 1) : 1;
    else if (limit) r.limit = atof(limit);
    return r;
}

/* Called after each round: whether to stop. */
static inline int run_over(struct run *r) {
    r->rounds++;
    if (r->max_rounds > 0) return r->rounds >= r->max_rounds;
    return clock_s(CLOCK_MONOTONIC) - r->wall0 >= r->limit;
}

static inline void run_report(const char *name, const struct run *r, double ops, const char *what) {
    double wall = clock_s(CLOCK_MONOTONIC) - r->wall0;
    double cpu = clock_s(CLOCK_PROCESS_CPUTIME_ID) - r->cpu0;
    printf("%s: %.2f Mops/s wall, %.2f Mops per CPU-second (%.0f ops in %.2f s, %.2f CPU-s; %s)\n",
           name, ops / wall / 1e6, ops / cpu / 1e6, ops, wall, cpu, what);
}

/* xorshift64: the same sequence on every allocator. */
static inline uint64_t next_random(uint64_t *x) {
    *x ^= *x << 13;
    *x ^= *x >> 7;
    *x ^= *x << 17;
    return *x;
}
#endif
