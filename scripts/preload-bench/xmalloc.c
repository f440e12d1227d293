/* A producer/consumer workload in the style of xmalloc-test (as in mimalloc-bench): producer
 * threads allocate objects and pass them, in batches of 64, through a bounded shared queue to
 * consumer threads, which touch and free them. Every free is a cross-thread free. Runs for a
 * fixed time and prints million objects (malloc + free on another thread) per second.
 *
 * Usage: xmalloc [seconds=3] [pairs=2] [min=16] [max=512] */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define BATCH 64
#define QUEUE 64

struct batch {
    char *items[BATCH];
};

static struct batch *queue[QUEUE];
static int head, count;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t not_full = PTHREAD_COND_INITIALIZER;
static pthread_cond_t not_empty = PTHREAD_COND_INITIALIZER;
static atomic_int stop;
static atomic_long freed;
static int min_size, max_size;
static int producers_left;

static void *producer(void *arg) {
    uint64_t x = 0x9E3779B97F4A7C15ull * (uint64_t)(uintptr_t)arg;
    while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
        struct batch *b = malloc(sizeof *b);
        if (!b) abort();
        for (int i = 0; i < BATCH; i++) {
            x ^= x << 13; x ^= x >> 7; x ^= x << 17;
            size_t size = (size_t)min_size + (size_t)(x % (uint64_t)(max_size - min_size + 1));
            char *p = malloc(size);
            if (!p) abort();
            p[0] = 1;
            p[size - 1] = 2;
            b->items[i] = p;
        }
        pthread_mutex_lock(&lock);
        while (count == QUEUE && !atomic_load(&stop)) pthread_cond_wait(&not_full, &lock);
        if (count == QUEUE) { /* stopping with a full queue: this batch goes nowhere */
            pthread_mutex_unlock(&lock);
            for (int i = 0; i < BATCH; i++) free(b->items[i]);
            free(b);
            break;
        }
        queue[(head + count) % QUEUE] = b;
        count++;
        pthread_cond_signal(&not_empty);
        pthread_mutex_unlock(&lock);
    }
    pthread_mutex_lock(&lock);
    producers_left--;
    pthread_cond_broadcast(&not_empty);
    pthread_mutex_unlock(&lock);
    return NULL;
}

static void *consumer(void *arg) {
    (void)arg;
    long n = 0;
    for (;;) {
        pthread_mutex_lock(&lock);
        while (count == 0 && producers_left > 0) pthread_cond_wait(&not_empty, &lock);
        if (count == 0) {
            pthread_mutex_unlock(&lock);
            break;
        }
        struct batch *b = queue[head];
        head = (head + 1) % QUEUE;
        count--;
        pthread_cond_signal(&not_full);
        pthread_mutex_unlock(&lock);
        for (int i = 0; i < BATCH; i++) {
            if (b->items[i][0] != 1) abort();
            free(b->items[i]);
        }
        free(b);
        n += BATCH;
    }
    atomic_fetch_add(&freed, n);
    return NULL;
}

int main(int argc, char **argv) {
    double seconds = argc > 1 ? atof(argv[1]) : 3;
    int pairs = argc > 2 ? atoi(argv[2]) : 2;
    min_size = argc > 3 ? atoi(argv[3]) : 16;
    max_size = argc > 4 ? atoi(argv[4]) : 512;
    producers_left = pairs;
    pthread_t *t = calloc((size_t)pairs * 2, sizeof *t);
    struct timespec t0, t1, c0, c1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c0);
    for (int i = 0; i < pairs; i++) {
        pthread_create(&t[2 * i], NULL, producer, (void *)(uintptr_t)(i + 1));
        pthread_create(&t[2 * i + 1], NULL, consumer, NULL);
    }
    struct timespec nap = {(time_t)seconds, (long)((seconds - (time_t)seconds) * 1e9)};
    nanosleep(&nap, NULL);
    atomic_store(&stop, 1);
    pthread_mutex_lock(&lock);
    pthread_cond_broadcast(&not_full);
    pthread_mutex_unlock(&lock);
    for (int i = 0; i < 2 * pairs; i++) pthread_join(t[i], NULL);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &c1);
    free(t);
    double wall = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    double cpu = (double)(c1.tv_sec - c0.tv_sec) + (double)(c1.tv_nsec - c0.tv_nsec) / 1e9;
    long n = atomic_load(&freed);
    printf("xmalloc: %.2f Mops/s wall, %.2f Mops per CPU-second (%ld objects in %.2f s, %.2f CPU-s, %d pairs)\n",
           (double)n / wall / 1e6, (double)n / cpu / 1e6, n, wall, cpu, pairs);
    return 0;
}
