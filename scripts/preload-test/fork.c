/* fork() while other threads allocate: every child must find a usable, unlocked heap.
 * Worker threads malloc/realloc/free small and large blocks without pause; the main thread
 * forks again and again; each child allocates across all size ranges, starts a thread that
 * allocates too, and exits 0. A child that deadlocks is killed after 10 s and fails the test.
 * Usage: fork [forks] (default 300). */
#define _GNU_SOURCE
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static atomic_int stop;
static atomic_long ops;

static size_t pick_size(unsigned *x) {
    *x ^= *x << 13; *x ^= *x >> 17; *x ^= *x << 5;
    unsigned r = *x % 100;
    if (r < 2) return 40000 + *x % 2000000;
    if (r < 10) return 1024 + *x % 30000;
    return 1 + *x % 1024;
}

static void *worker(void *arg) {
    unsigned x = (unsigned)(uintptr_t)arg * 2654435761u + 7;
    void *live[256] = {0};
    while (!atomic_load_explicit(&stop, memory_order_relaxed)) {
        unsigned i = x % 256;
        size_t size = pick_size(&x);
        if (x % 3 == 0 && live[i]) {
            void *q = realloc(live[i], size);
            if (!q) abort();
            live[i] = q;
        } else {
            free(live[i]);
            live[i] = malloc(size);
            if (!live[i]) abort();
        }
        memset(live[i], (int)i, size < 64 ? size : 64);
        atomic_fetch_add_explicit(&ops, 1, memory_order_relaxed);
    }
    for (int i = 0; i < 256; i++) free(live[i]);
    return NULL;
}

static void *child_thread(void *arg) {
    unsigned x = (unsigned)(uintptr_t)arg;
    for (int i = 0; i < 2000; i++) {
        size_t size = pick_size(&x);
        char *p = malloc(size);
        if (!p) return (void *)1;
        p[size - 1] = 1;
        free(p);
    }
    return NULL;
}

static int child_main(unsigned seed) {
    unsigned x = seed | 1;
    void *keep[64];
    for (int i = 0; i < 64; i++) {
        keep[i] = malloc(pick_size(&x));
        if (!keep[i]) return 2;
    }
    pthread_t t;
    if (pthread_create(&t, NULL, child_thread, (void *)(uintptr_t)(seed * 3 + 1)) != 0) return 3;
    void *r = child_thread((void *)(uintptr_t)(seed * 5 + 1));
    void *r2;
    pthread_join(t, &r2);
    for (int i = 0; i < 64; i++) free(keep[i]);
    return (r || r2) ? 4 : 0;
}

int main(int argc, char **argv) {
    int forks = argc > 1 ? atoi(argv[1]) : 300;
    enum { WORKERS = 3 };
    pthread_t w[WORKERS];
    for (int i = 0; i < WORKERS; i++) pthread_create(&w[i], NULL, worker, (void *)(uintptr_t)(i + 1));
    int failed = 0;
    for (int f = 0; f < forks && !failed; f++) {
        long before = atomic_load(&ops);
        while (atomic_load(&ops) < before + 200) sched_yield();
        pid_t pid = fork();
        if (pid < 0) { perror("fork"); return 1; }
        if (pid == 0) _exit(child_main((unsigned)f));
        struct timespec start, now;
        clock_gettime(CLOCK_MONOTONIC, &start);
        int status;
        for (;;) {
            pid_t r = waitpid(pid, &status, WNOHANG);
            if (r == pid) break;
            clock_gettime(CLOCK_MONOTONIC, &now);
            if (now.tv_sec - start.tv_sec > 10) {
                fprintf(stderr, "fork %d: child %d hung (deadlock in the child's allocator)\n", f, pid);
                kill(pid, SIGKILL);
                waitpid(pid, &status, 0);
                failed = 1;
                break;
            }
            usleep(200);
        }
        if (!failed && !(WIFEXITED(status) && WEXITSTATUS(status) == 0)) {
            fprintf(stderr, "fork %d: child ended with status 0x%x\n", f, status);
            failed = 1;
        }
    }
    atomic_store(&stop, 1);
    for (int i = 0; i < WORKERS; i++) pthread_join(w[i], NULL);
    if (failed) return 1;
    printf("fork: %d children forked while %d threads allocated, all exited 0\n", forks, WORKERS);
    return 0;
}
