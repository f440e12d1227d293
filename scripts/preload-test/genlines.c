/* Writes deterministic pseudo-random text lines to stdout until `megabytes` MiB are written:
 * words of random length and case, numbers, some duplicate lines and long lines, so that
 * sort compares, copies and allocates realistically. Usage: genlines MiB [seed] */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

int main(int argc, char **argv) {
    if (argc < 2) { fprintf(stderr, "usage: genlines MiB [seed]\n"); return 2; }
    uint64_t limit = strtoull(argv[1], NULL, 10) << 20;
    uint64_t x = argc > 2 ? strtoull(argv[2], NULL, 10) * 0x9E3779B97F4A7C15ull + 1 : 88172645463325252ull;
    static char buf[1 << 16];
    static char line[8192];
    uint64_t written = 0;
    size_t used = 0;
    while (written < limit) {
        x ^= x << 13; x ^= x >> 7; x ^= x << 17;
        size_t len = 0;
        int words = 1 + (int)(x % 12);
        if (x % 1000 == 0) words = 400; /* an occasional long line */
        uint64_t y = x;
        for (int w = 0; w < words && len < sizeof line - 32; w++) {
            y ^= y << 13; y ^= y >> 7; y ^= y << 17;
            if (y % 5 == 0) {
                len += (size_t)snprintf(line + len, 24, "%llu", (unsigned long long)(y >> 40));
            } else {
                int wl = 1 + (int)(y % 9);
                char base = (y >> 8) % 4 == 0 ? 'A' : 'a';
                for (int i = 0; i < wl; i++) line[len++] = (char)(base + (y >> (12 + i * 5)) % 26);
            }
            line[len++] = ' ';
        }
        line[len - 1] = '\n';
        if (x % 50 == 0) { /* duplicates */
            for (int d = 0; d < 2; d++) {
                if (used + len > sizeof buf) { fwrite(buf, 1, used, stdout); used = 0; }
                for (size_t i = 0; i < len; i++) buf[used + i] = line[i];
                used += len;
                written += len;
            }
            continue;
        }
        if (used + len > sizeof buf) { fwrite(buf, 1, used, stdout); used = 0; }
        for (size_t i = 0; i < len; i++) buf[used + i] = line[i];
        used += len;
        written += len;
    }
    fwrite(buf, 1, used, stdout);
    return 0;
}
