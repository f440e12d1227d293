/* A per-thread malloc/free loop in the manner of glibc's benchtests/bench-malloc-thread: each
 * of T threads owns 1,024 slots and repeatedly frees a random slot's block and mallocs a new
 * one, of a size drawn from an inverse-square distribution over 4..32,768 bytes (most blocks
 * small, some large: the distribution glibc's benchmark uses), from precomputed tables shared
 * by the threads. Nothing but the allocator is measured. Run with T = 1 (a single-threaded
 * random-size allocation test) and T = 2.
 *
 * Usage: mthread [seconds=2 | rROUNDS] [threads=1]   (a round: 10,000 iterations per thread) */
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include "report.h"

#define SLOTS 1024
#define SIZES 8000
#define OFFSETS (SIZES * 4)
#define ROUND 10000

static unsigned sizes[SIZES], offsets[OFFSETS];
static atomic_int stop;
static long fixed_rounds;

struct worker {
    pthread_t t;
    long iters;
};

static void *loop(void *arg) {
    struct worker *w = arg;
    void *slot[SLOTS] = {0};
    unsigned o = 0, s = 0;
    long iters = 0;
    for (long round = 0; fixed_rounds ? round < fixed_rounds : !atomic_load_explicit(&stop, memory_order_relaxed); round++) {
        for (int i = 0; i < ROUND; i++) {
            unsigned k = offsets[o];
            free(slot[k]);
            slot[k] = malloc(sizes[s]);
            if (!slot[k]) abort();
            o = o + 1 == OFFSETS ? 0 : o + 1;
            s = s + 1 == SIZES ? 0 : s + 1;
        }
        iters += ROUND;
    }
    for (int k = 0; k < SLOTS; k++) free(slot[k]);
    w->iters = iters;
    return NULL;
}

int main(int argc, char **argv) {
    int threads = argc > 2 ? atoi(argv[2]) : 1;
    if (threads < 1 || threads > 64) threads = 1;
    uint64_t x = 0x9E3779B97F4A7C15ull;
    for (int i = 0; i < SIZES; i++) { /* inverse CDF of density ~ 1/size^2 on [4, 32768] */
        double u = (double)(next_random(&x) >> 11) / 9007199254740992.0;
        sizes[i] = (unsigned)(1.0 / (1.0 / 4 - u * (1.0 / 4 - 1.0 / 32768)));
    }
    for (int i = 0; i < OFFSETS; i++) offsets[i] = (unsigned)(next_random(&x) % SLOTS);
    struct worker w[64];
    struct run r = run_start(argc > 1 ? argv[1] : NULL);
    fixed_rounds = r.max_rounds;
    for (int t = 0; t < threads; t++)
        if (pthread_create(&w[t].t, NULL, loop, &w[t]) != 0) abort();
    if (!fixed_rounds) {
        struct timespec ts = {(time_t)r.limit, (long)((r.limit - (double)(time_t)r.limit) * 1e9)};
        nanosleep(&ts, NULL);
        atomic_store(&stop, 1);
    }
    double ops = 0;
    for (int t = 0; t < threads; t++) {
        pthread_join(w[t].t, NULL);
        ops += (double)w[t].iters;
    }
    char what[32];
    snprintf(what, sizeof what, "%d thread%s", threads, threads > 1 ? "s" : "");
    run_report("mthread", &r, ops, what);
    return 0;
}
