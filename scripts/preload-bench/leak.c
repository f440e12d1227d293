/* A program that leaks steadily (the kind of mleak): one thread allocates blocks of 16 to 512
 * bytes, writes them, keeps the last 2,000 in a ring (freeing the oldest as it goes) and leaks
 * one block in 64 for good, so the heap grows all the time (about 25 MiB per 10 million
 * blocks) while most blocks still die young.
 *
 * Usage: leak [seconds=2 | rROUNDS]   (a round: 100,000 blocks) */
#include <stdlib.h>
#include <string.h>
#include "report.h"

#define RING 2000

int main(int argc, char **argv) {
    static char *ring[RING];
    uint64_t x = 0xDA3E39CB94B95BDBull;
    double ops = 0;
    unsigned k = 0;
    struct run r = run_start(argc > 1 ? argv[1] : NULL);
    do {
        for (int i = 0; i < 100000; i++) {
            uint64_t v = next_random(&x);
            size_t size = 16 + (size_t)(v % 497);
            char *p = malloc(size);
            if (!p) abort();
            memset(p, (int)v, size < 64 ? size : 64);
            if ((v >> 32) % 64 == 0) continue; /* leaked */
            free(ring[k]);
            ring[k] = p;
            k = k + 1 == RING ? 0 : k + 1;
        }
        ops += 100000;
    } while (!run_over(&r));
    run_report("leak", &r, ops, "1 thread");
    return 0;
}
