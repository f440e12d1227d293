/* A larson-style server workload (after Larson & Krishnan's benchmark, as in mimalloc-bench):
 * each of T lanes owns a table of slots; a lane's thread repeatedly frees a random slot's
 * object and allocates a new one of random size; after every round it hands its table to a
 * freshly created thread and ends, so objects are freed by threads other than the one that
 * allocated them, and threads come and go as in a server. Runs for a fixed time and prints
 * throughput in million operations (a free plus a malloc) per second of wall time.
 *
 * Usage: larson [seconds=3] [threads=4] [slots=5000] [min=8] [max=1000] [round=20000] */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

struct lane {
    char **slots;
    uint64_t x;
    long ops;
};

static int nslots, min_size, max_size, round_ops;
static atomic_int stop;
static atomic_int running;

static void *lane_round(void *arg) {
    struct lane *l = arg;
    uint64_t x = l->x;
    long ops = 0;
    for (int i = 0; i < round_ops; i++) {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        int s = (int)(x % (uint64_t)nslots);
        size_t size = (size_t)min_size + (size_t)((x >> 20) % (uint64_t)(max_size - min_size + 1));
        free(l->slots[s]);
        char *p = malloc(size);
        if (!p) abort();
        p[0] = (char)s;
        p[size - 1] = (char)size;
        l->slots[s] = p;
        ops++;
    }
    l->x = x;
    l->ops += ops;
    if (atomic_load_explicit(&stop, memory_order_relaxed)) {
        atomic_fetch_sub(&running, 1);
        return NULL;
    }
    /* Hand the table to a new thread, as larson's server threads do. */
    pthread_t t;
    pthread_attr_t attr;
    pthread_attr_init(&attr);
    pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
    if (pthread_create(&t, &attr, lane_round, l) != 0) abort();
    pthread_attr_destroy(&attr);
    return NULL;
}

int main(int argc, char **argv) {
    double seconds = argc > 1 ? atof(argv[1]) : 3;
    int threads = argc > 2 ? atoi(argv[2]) : 4;
    nslots = argc > 3 ? atoi(argv[3]) : 5000;
    min_size = argc > 4 ? atoi(argv[4]) : 8;
    max_size = argc > 5 ? atoi(argv[5]) : 1000;
    round_ops = argc > 6 ? atoi(argv[6]) : 20000;
    struct lane *lanes = calloc((size_t)threads, sizeof *lanes);
    for (int t = 0; t < threads; t++) {
        lanes[t].slots = calloc((size_t)nslots, sizeof(char *));
        lanes[t].x = 0x9E3779B97F4A7C15ull * (uint64_t)(t + 1);
        for (int s = 0; s < nslots; s++) {
            size_t size = (size_t)min_size + (size_t)(s * 7919) % (size_t)(max_size - min_size + 1);
            lanes[t].slots[s] = malloc(size);
        }
    }
    struct timespec t0, t1, c0, c1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
    atomic_store(&running, threads);
    for (int t = 0; t < threads; t++) {
        pthread_t th;
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setdetachstate(&attr, PTHREAD_CREATE_DETACHED);
        pthread_create(&th, &attr, lane_round, &lanes[t]);
        pthread_attr_destroy(&attr);
    }
    struct timespec nap = {(time_t)seconds, (long)((seconds - (time_t)seconds) * 1e9)};
    nanosleep(&nap, NULL);
    atomic_store(&stop, 1);
    while (atomic_load(&running) > 0) usleep(100);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
    double wall = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    double cpu = (double)(c1.tv_sec - c0.tv_sec) + (double)(c1.tv_nsec - c0.tv_nsec) / 1e9;
    long total = 0;
    for (int t = 0; t < threads; t++) {
        total += lanes[t].ops;
        for (int s = 0; s < nslots; s++) free(lanes[t].slots[s]);
        free(lanes[t].slots);
    }
    free(lanes);
    printf("larson: %.2f Mops/s wall, %.2f Mops per CPU-second (%ld ops in %.2f s, %.2f CPU-s, %d threads)\n",
           (double)total / wall / 1e6, (double)total / cpu / 1e6, total, wall, cpu, threads);
    return 0;
}
