/* Runs a command with an optional LD_PRELOAD and reports its wall time, CPU time and peak RSS
 * (from wait4's rusage), so every allocator is measured the same way without /usr/bin/time.
 * Usage: runrss REPORT_FILE PRELOAD_OR_EMPTY CMD [ARGS...]
 * The report line: "wall=<s> cpu=<s> maxrss_kb=<KiB> status=<exit code or 128+signal>".
 * The command's stdout and stderr pass through. Exit status: the command's. */
#define _GNU_SOURCE
#include <stdio.h>
#include <stdlib.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

int main(int argc, char **argv) {
    if (argc < 4) {
        fprintf(stderr, "usage: runrss REPORT_FILE PRELOAD CMD [ARGS...]\n");
        return 2;
    }
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    pid_t pid = fork();
    if (pid < 0) { perror("fork"); return 2; }
    if (pid == 0) {
        if (argv[2][0]) setenv("LD_PRELOAD", argv[2], 1);
        else unsetenv("LD_PRELOAD");
        execvp(argv[3], &argv[3]);
        perror(argv[3]);
        _exit(127);
    }
    int status;
    struct rusage ru;
    if (wait4(pid, &status, 0, &ru) != pid) { perror("wait4"); return 2; }
    clock_gettime(CLOCK_MONOTONIC, &t1);
    double wall = (double)(t1.tv_sec - t0.tv_sec) + (double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
    double cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
                 (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
    int code = WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
    FILE *f = fopen(argv[1], "w");
    if (!f) { perror(argv[1]); return 2; }
    fprintf(f, "wall=%.4f cpu=%.4f maxrss_kb=%ld status=%d\n", wall, cpu, ru.ru_maxrss, code);
    fclose(f);
    return code;
}
