/* The C allocation API of a preloaded malloc, checked as C and glibc callers rely on it:
 * alignment, usable size, zeroing, realloc, errno on failure, posix_memalign's errors,
 * memalign/valloc/pvalloc, thread churn with cross-thread frees, thread-exit destructors
 * that allocate, a signal handler that allocates while the thread is inside malloc/free
 * (the shim's re-entrancy promise; glibc's malloc makes none). Run with LD_PRELOAD=libmalloc_shim.so; exits 1 on the first failure. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <errno.h>
#include <malloc.h>
#include <pthread.h>
#include <stdatomic.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

static int checks;
#define CHECK(cond, ...)                                                       \
    do {                                                                       \
        checks++;                                                              \
        if (!(cond)) {                                                         \
            fprintf(stderr, "api.c:%d: check failed: %s: ", __LINE__, #cond);  \
            fprintf(stderr, __VA_ARGS__);                                      \
            fprintf(stderr, "\n");                                             \
            exit(1);                                                           \
        }                                                                      \
    } while (0)

/* Keeps the compiler from folding malloc calls with constant sizes. */
static void *(*volatile my_malloc)(size_t) = malloc;
static volatile size_t huge = SIZE_MAX;

static void fill(unsigned char *p, size_t n, unsigned seed) {
    for (size_t i = 0; i < n; i++) p[i] = (unsigned char)(seed + i * 31);
}
static int same(const unsigned char *p, size_t n, unsigned seed) {
    for (size_t i = 0; i < n; i++)
        if (p[i] != (unsigned char)(seed + i * 31)) return 0;
    return 1;
}

static void basics(void) {
    const char *want = getenv("EXPECT_MALLOC_FROM");
    if (want) {
        Dl_info info;
        void *m = dlsym(RTLD_DEFAULT, "malloc");
        CHECK(m && dladdr(m, &info) && info.dli_fname && strstr(info.dli_fname, want),
              "malloc comes from %s, not %s", m && dladdr(m, &info) ? info.dli_fname : "?", want);
    }
    void *z1 = my_malloc(0), *z2 = my_malloc(0);
    CHECK(z1 && z2 && z1 != z2, "malloc(0) gives distinct non-null pointers");
    free(z1);
    free(z2);
    free(NULL);
    for (size_t size = 1; size <= 70000; size += (size < 2048 ? 1 : 997)) {
        unsigned char *p = my_malloc(size);
        size_t want_align = size <= 8 ? 8 : 16;
        CHECK(p && (uintptr_t)p % want_align == 0, "malloc(%zu) = %p", size, (void *)p);
        size_t usable = malloc_usable_size(p);
        CHECK(usable >= size, "usable %zu < %zu", usable, size);
        fill(p, usable, (unsigned)size);
        CHECK(same(p, usable, (unsigned)size), "bytes of malloc(%zu)", size);
        free(p);
    }
    CHECK(malloc_usable_size(NULL) == 0, "usable size of NULL");
}

static void zeroing(void) {
    size_t sizes[] = {1, 24, 100, 1000, 5000, 40000, 1 << 20, 50 << 20};
    for (size_t i = 0; i < sizeof sizes / sizeof *sizes; i++) {
        size_t n = sizes[i];
        unsigned char *p = my_malloc(n);
        CHECK(p != NULL, "malloc(%zu)", n);
        memset(p, 0xff, n);
        free(p);
        unsigned char *q = calloc(1, n);
        CHECK(q != NULL, "calloc(1, %zu)", n);
        for (size_t j = 0; j < n; j += (n > 4096 ? 61 : 1)) CHECK(q[j] == 0, "calloc byte %zu of %zu", j, n);
        CHECK(q[n - 1] == 0, "last calloc byte");
        free(q);
    }
    errno = 0;
    CHECK(calloc(huge / 2, 3) == NULL && errno == ENOMEM, "calloc overflow: errno %d", errno);
    errno = 0;
    CHECK(calloc((size_t)1 << 24, (size_t)1 << 23) == NULL && errno == ENOMEM, "calloc(128 TiB): errno %d", errno);
}

static void failures(void) {
    errno = 0;
    CHECK(my_malloc(huge) == NULL && errno == ENOMEM, "malloc(SIZE_MAX): errno %d", errno);
    errno = 0;
    CHECK(my_malloc(huge / 2) == NULL && errno == ENOMEM, "malloc(SIZE_MAX/2): errno %d", errno);
    errno = 0;
    CHECK(my_malloc((size_t)1 << 47) == NULL && errno == ENOMEM, "malloc(128 TiB): errno %d", errno);
}

static void reallocs(void) {
    unsigned char *p = realloc(NULL, 10);
    CHECK(p != NULL, "realloc(NULL, 10)");
    fill(p, 10, 7);
    size_t size = 10;
    while (size < (8u << 20)) {
        size_t next = size * 3 / 2 + 1;
        unsigned char *q = realloc(p, next);
        CHECK(q != NULL, "realloc to %zu", next);
        CHECK(same(q, size, 7), "realloc %zu -> %zu kept the bytes", size, next);
        fill(q, next, 7);
        p = q;
        size = next;
    }
    while (size > 5) {
        size_t next = size / 3;
        unsigned char *q = realloc(p, next);
        CHECK(q != NULL && same(q, next, 7), "shrinking realloc to %zu", next);
        p = q;
        size = next;
    }
    errno = 0;
    unsigned char *r = reallocarray(p, huge / 2, 4);
    CHECK(r == NULL && errno == ENOMEM, "reallocarray overflow: errno %d", errno);
    CHECK(same(p, size, 7), "a failed reallocarray leaves the block alone");
    errno = 0;
    r = realloc(p, huge - 4096);
    CHECK(r == NULL && errno == ENOMEM, "huge realloc: errno %d", errno);
    CHECK(same(p, size, 7), "a failed realloc leaves the block alone");
    r = reallocarray(p, 100, 8);
    CHECK(r != NULL && same(r, size, 7), "reallocarray(100, 8)");
    CHECK(realloc(r, 0) == NULL, "realloc(p, 0) frees and returns NULL (glibc)");
}

static void aligned(void) {
    void *out = (void *)0x1234;
    CHECK(posix_memalign(&out, 3, 10) == EINVAL && out == (void *)0x1234, "align 3");
    CHECK(posix_memalign(&out, 4, 10) == EINVAL && out == (void *)0x1234, "align 4 < sizeof(void*)");
    CHECK(posix_memalign(&out, 0, 10) == EINVAL && out == (void *)0x1234, "align 0");
    CHECK(posix_memalign(&out, 64, huge - 100) == ENOMEM && out == (void *)0x1234, "huge posix_memalign");
    size_t aligns[] = {8, 16, 32, 64, 256, 4096, 8192, 65536, 1 << 21};
    size_t sizes[] = {0, 1, 17, 100, 4000, 5000, 40000, 300000};
    for (size_t a = 0; a < sizeof aligns / sizeof *aligns; a++) {
        for (size_t s = 0; s < sizeof sizes / sizeof *sizes; s++) {
            void *p = NULL;
            CHECK(posix_memalign(&p, aligns[a], sizes[s]) == 0 && p, "posix_memalign(%zu, %zu)", aligns[a], sizes[s]);
            CHECK((uintptr_t)p % aligns[a] == 0, "posix_memalign(%zu) gave %p", aligns[a], p);
            CHECK(malloc_usable_size(p) >= sizes[s], "usable size of aligned block");
            memset(p, 1, sizes[s]);
            free(p);
            p = aligned_alloc(aligns[a], sizes[s]);
            CHECK(p && (uintptr_t)p % aligns[a] == 0, "aligned_alloc(%zu, %zu)", aligns[a], sizes[s]);
            memset(p, 2, sizes[s]);
            p = realloc(p, sizes[s] + 100);
            CHECK(p && (uintptr_t)p % 16 == 0, "realloc of an aligned block");
            free(p);
            p = memalign(aligns[a], sizes[s]);
            CHECK(p && (uintptr_t)p % aligns[a] == 0, "memalign(%zu, %zu)", aligns[a], sizes[s]);
            free(p);
        }
    }
    void *p = memalign(24, 10);
    CHECK(p && (uintptr_t)p % 32 == 0, "memalign(24) rounds the alignment up to 32");
    free(p);
    p = valloc(10);
    CHECK(p && (uintptr_t)p % 4096 == 0, "valloc");
    free(p);
    p = pvalloc(1);
    CHECK(p && (uintptr_t)p % 4096 == 0 && malloc_usable_size(p) >= 4096, "pvalloc(1)");
    free(p);
    errno = 0;
    CHECK(pvalloc(huge - 10) == NULL && errno == ENOMEM, "pvalloc overflow: errno %d", errno);
}

/* Thread churn: waves of short-lived threads; each frees what the previous wave left in
 * shared slots (cross-thread frees of blocks whose allocating thread has ended) and leaves
 * new blocks behind. A key created after the allocator's own makes its destructor run after
 * the allocator flushed the thread's cache: it allocates and frees there. */
#define SLOTS 4096
static unsigned char *slots[SLOTS];
static pthread_mutex_t slot_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_key_t late_key;
static volatile int late_ok = 1;

static void late_destructor(void *v) {
    free(v);
    char *s = strdup("allocation in a thread-exit destructor");
    if (!s) late_ok = 0;
    void *big = malloc(200000);
    if (!big) late_ok = 0;
    free(big);
    free(s);
}

static void *churn(void *arg) {
    unsigned x = (unsigned)(uintptr_t)arg * 2654435761u + 1;
    pthread_setspecific(late_key, malloc(77));
    for (int i = 0; i < 3000; i++) {
        x ^= x << 13; x ^= x >> 17; x ^= x << 5;
        size_t slot = x % SLOTS;
        size_t size = 8 + (x >> 8) % (x % 50 == 0 ? 100000 : 600);
        unsigned char *p = malloc(size);
        if (!p) return (void *)1;
        p[0] = (unsigned char)size;
        p[size - 1] = (unsigned char)slot;
        pthread_mutex_lock(&slot_lock);
        unsigned char *old = slots[slot];
        slots[slot] = p;
        pthread_mutex_unlock(&slot_lock);
        free(old);
    }
    return NULL;
}

static void threads(void) {
    CHECK(pthread_key_create(&late_key, late_destructor) == 0, "key");
    for (int wave = 0; wave < 40; wave++) {
        pthread_t t[8];
        for (int i = 0; i < 8; i++) CHECK(pthread_create(&t[i], NULL, churn, (void *)(uintptr_t)(wave * 8 + i + 1)) == 0, "create");
        for (int i = 0; i < 8; i++) {
            void *r;
            pthread_join(t[i], &r);
            CHECK(r == NULL, "thread failed to allocate");
        }
    }
    CHECK(late_ok, "allocation in a late thread-exit destructor failed");
    for (int i = 0; i < SLOTS; i++) free(slots[i]);
}

/* Thread caches go back when their thread ends: 600 threads, each of which frees 1 MiB of
 * small blocks it allocated (enough to stay in its cache), must not grow RSS by 600 MiB. */
static void *fill_cache(void *arg) {
    (void)arg;
    void *blocks[4096];
    for (int i = 0; i < 4096; i++) {
        blocks[i] = malloc(16 + (size_t)(i % 16) * 32);
        if (!blocks[i]) return (void *)1;
        memset(blocks[i], 1, 16);
    }
    for (int i = 0; i < 4096; i++) free(blocks[i]);
    return NULL;
}

static long rss_kib(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    long kib = -1;
    while (f && fgets(line, sizeof line, f))
        if (sscanf(line, "VmRSS: %ld", &kib) == 1) break;
    if (f) fclose(f);
    return kib;
}

static void thread_exit_returns_caches(void) {
    long before = rss_kib();
    for (int i = 0; i < 300; i++) {
        pthread_t a, b;
        void *ra, *rb;
        CHECK(pthread_create(&a, NULL, fill_cache, NULL) == 0 && pthread_create(&b, NULL, fill_cache, NULL) == 0, "create");
        pthread_join(a, &ra);
        pthread_join(b, &rb);
        CHECK(ra == NULL && rb == NULL, "allocation failed");
    }
    long after = rss_kib();
    CHECK(before > 0 && after - before < 64 * 1024, "RSS grew from %ld to %ld KiB over 600 threads", before, after);
}

/* Re-entrancy: another thread keeps signalling this one while it runs a malloc/free loop
 * (often inside the allocator), and the handler frees and allocates blocks of the same sizes,
 * keeping a few across runs. A nested call that reached the cache the interrupted call was
 * using would hand one block to both or lose one: the contents checks catch it. */
enum { HANDLER_KEEP = 8 };
static unsigned char *handler_blocks[HANDLER_KEEP];
static size_t handler_len[HANDLER_KEEP];
static volatile sig_atomic_t handler_runs, handler_bad;
static atomic_int signaller_stop;

static void allocating_handler(int sig) {
    (void)sig;
    unsigned r = (unsigned)handler_runs;
    unsigned k = r % HANDLER_KEEP;
    if (handler_blocks[k]) {
        if (!same(handler_blocks[k], handler_len[k], 1000 + r - HANDLER_KEEP)) handler_bad = 1;
        free(handler_blocks[k]);
    }
    handler_len[k] = 16 + (size_t)(r * 40 % 130);
    handler_blocks[k] = malloc(handler_len[k]);
    if (!handler_blocks[k]) { handler_bad = 1; return; }
    fill(handler_blocks[k], handler_len[k], 1000 + r);
    handler_runs = (sig_atomic_t)(r + 1);
}

static void *signaller(void *arg) {
    pthread_t target = *(pthread_t *)arg;
    struct timespec pause = {0, 20000};
    while (!atomic_load(&signaller_stop)) {
        pthread_kill(target, SIGUSR1);
        nanosleep(&pause, NULL);
    }
    return NULL;
}

static void reentrancy(void) {
    struct sigaction sa, old;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = allocating_handler;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESTART;
    CHECK(sigaction(SIGUSR1, &sa, &old) == 0, "sigaction");
    pthread_t self = pthread_self(), t;
    CHECK(pthread_create(&t, NULL, signaller, &self) == 0, "create the signalling thread");
    enum { LIVE = 64 };
    unsigned char *live[LIVE] = {0};
    size_t len[LIVE] = {0};
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    for (unsigned i = 0;; i++) {
        unsigned k = i % LIVE;
        if (live[k]) {
            if (!same(live[k], len[k], k + i / LIVE)) CHECK(0, "block %u changed while signals allocated", k);
            free(live[k]);
        }
        len[k] = 16 + (size_t)(i * 7919u % 121);
        live[k] = malloc(len[k]);
        if (!live[k]) CHECK(0, "malloc under signals");
        fill(live[k], len[k], k + (i + LIVE) / LIVE);
        if (k == 0) {
            clock_gettime(CLOCK_MONOTONIC, &now);
            if (handler_runs >= 20000 || now.tv_sec - t0.tv_sec >= 3) break;
        }
    }
    atomic_store(&signaller_stop, 1);
    pthread_join(t, NULL);
    CHECK(sigaction(SIGUSR1, &old, NULL) == 0, "sigaction restore");
    CHECK(handler_runs > 0, "no signal arrived");
    CHECK(!handler_bad, "a block kept by the signal handler was wrong");
    for (int k = 0; k < LIVE; k++) free(live[k]);
    for (int k = 0; k < HANDLER_KEEP; k++) free(handler_blocks[k]);
}

int main(void) {
    basics();
    zeroing();
    failures();
    reallocs();
    aligned();
    threads();
    thread_exit_returns_caches();
    reentrancy();
    printf("api: %d checks passed\n", checks);
    return 0;
}
