/* Black-box probe of a container's confinement, run inside the container by
 * tests/container_security.rs and scripts/compare-runc.sh. Prints one "key: value" line per
 * check; built static (gcc -static) so it runs in any rootfs. Never changes anything outside
 * the container: every call that could succeed is harmless or undone. */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/reboot.h>
#include <sched.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *res(long r) {
    static char buf[64];
    if (r >= 0) return "ok";
    snprintf(buf, sizeof buf, "%s", strerrorname_np(errno) ? strerrorname_np(errno) : "E?");
    return buf;
}

static void status_lines(void) {
    FILE *f = fopen("/proc/self/status", "r");
    char line[256];
    if (!f) { printf("status: %s\n", res(-1)); return; }
    while (fgets(line, sizeof line, f)) {
        if (!strncmp(line, "Cap", 3) || !strncmp(line, "NoNewPrivs:", 11) ||
            !strncmp(line, "Seccomp:", 8)) {
            char *tab = strchr(line, '\t');
            if (tab) { *tab = ' '; }
            fputs(line, stdout);
        }
    }
    fclose(f);
}

/* Bytes readable from a file (or the errno name). */
static void file_size(const char *key, const char *path) {
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0) { printf("%s: %s\n", key, res(-1)); return; }
    char buf[4096];
    long total = 0, n;
    while ((n = read(fd, buf, sizeof buf)) > 0 && total < (1 << 20)) total += n;
    close(fd);
    if (n < 0) printf("%s: read %s\n", key, res(-1));
    else printf("%s: %ld bytes\n", key, total);
}

static void dir_count(const char *key, const char *path) {
    DIR *d = opendir(path);
    if (!d) { printf("%s: %s\n", key, res(-1)); return; }
    int n = 0;
    struct dirent *e;
    while ((e = readdir(d))) if (e->d_name[0] != '.') n++;
    closedir(d);
    printf("%s: %d entries\n", key, n);
}

static void write_test(const char *key, const char *path) {
    int fd = open(path, O_WRONLY | O_CLOEXEC);
    printf("%s: %s\n", key, res(fd));
    if (fd >= 0) close(fd);
}

/* The device nodes in /dev, sorted by readdir order of a tmpfs (creation order). */
static void dev_list(void) {
    DIR *d = opendir("/dev");
    char names[2048] = "";
    if (!d) { printf("dev: %s\n", res(-1)); return; }
    struct dirent *e;
    const char *want[] = {"null", "zero", "full", "random", "urandom", "tty", "console", "ptmx",
                          "kmsg", "mem", "kcore", "sda", "vda", "nvme0", "loop0", "fuse", 0};
    /* Report which notable names exist, in a fixed order, so outputs compare. */
    int have[32] = {0};
    while ((e = readdir(d)))
        for (int i = 0; want[i]; i++) if (!strcmp(e->d_name, want[i])) have[i] = 1;
    closedir(d);
    for (int i = 0; want[i]; i++)
        if (have[i]) { strcat(names, want[i]); strcat(names, ","); }
    printf("dev nodes: %s\n", names);
}

static void fd_list(void) {
    DIR *d = opendir("/proc/self/fd");
    char out[512] = "";
    if (!d) { printf("fds: %s\n", res(-1)); return; }
    int self = dirfd(d);
    struct dirent *e;
    int fds[128], n = 0;
    while ((e = readdir(d)) && n < 128) {
        if (e->d_name[0] == '.') continue;
        int fd = atoi(e->d_name);
        if (fd != self) fds[n++] = fd;
    }
    closedir(d);
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++)
            if (fds[j] < fds[i]) { int t = fds[i]; fds[i] = fds[j]; fds[j] = t; }
    for (int i = 0; i < n; i++) { char b[16]; snprintf(b, sizeof b, "%s%d", i ? "," : "", fds[i]); strcat(out, b); }
    printf("open fds: %s\n", out);
}

static void mknod_test(const char *key, const char *dir) {
    char path[256];
    snprintf(path, sizeof path, "%s/lp-probe-mem", dir);
    unlink(path);
    long r = mknod(path, S_IFCHR | 0600, makedev(1, 1));
    const char *m = res(r);
    char mk[64];
    snprintf(mk, sizeof mk, "%s", m);
    if (r == 0) {
        int fd = open(path, O_RDONLY | O_CLOEXEC);
        printf("%s: mknod %s, open %s\n", key, mk, res(fd));
        if (fd >= 0) close(fd);
        unlink(path);
    } else {
        printf("%s: mknod %s\n", key, mk);
    }
}

/* unshare(flags) in a child, so a success does not change the probe's own namespaces. */
static void unshare_in_child(const char *key, int flags) {
    pid_t pid = fork();
    if (pid == 0) _exit(unshare(flags) == 0 ? 0 : errno);
    int st = 0;
    waitpid(pid, &st, 0);
    int e = WIFEXITED(st) ? WEXITSTATUS(st) : 255;
    errno = e;
    printf("%s: %s\n", key, e == 0 ? "ok" : res(-1));
}

static void clone_newuser(void) {
    long pid = syscall(SYS_clone, CLONE_NEWUSER | SIGCHLD, 0, 0, 0, 0);
    if (pid == 0) _exit(0);
    printf("clone(CLONE_NEWUSER): %s\n", res(pid));
    if (pid > 0) waitpid(pid, 0, 0);
}

int main(int argc, char **argv) {
    if (argc > 1 && !strcmp(argv[1], "whoami")) {
        printf("uid: %d euid: %d\n", getuid(), geteuid());
        return 0;
    }
    status_lines();
    printf("uid: %d gid: %d\n", getuid(), getgid());
    char cwd[512];
    printf("cwd: %s\n", getcwd(cwd, sizeof cwd) ? cwd : res(-1));
    fd_list();
    dev_list();
    /* Denied system calls (EPERM from the filter or a missing capability). */
    printf("keyctl: %s\n", res(syscall(SYS_keyctl, 0 /* GET_KEYRING_ID */, -3, 0)));
    printf("add_key: %s\n", res(syscall(SYS_add_key, "user", "lp-probe", "x", 1, -3)));
    printf("bpf: %s\n", res(syscall(SYS_bpf, 0, 0, 0)));
    printf("perf_event_open: %s\n", res(syscall(SYS_perf_event_open, 0, 0, -1, -1, 0)));
    unshare_in_child("unshare(CLONE_NEWNS)", CLONE_NEWNS);
    unshare_in_child("unshare(CLONE_NEWUSER)", CLONE_NEWUSER);
    clone_newuser();
    printf("setns: %s\n", res(syscall(SYS_setns, -1, 0)));
    long m = mount("none", "/mnt", "tmpfs", 0, 0);
    printf("mount tmpfs: %s\n", res(m));
    if (m == 0) umount2("/mnt", MNT_DETACH);
    printf("umount2 /mnt: %s\n", res(umount2("/mnt", MNT_DETACH)));
    printf("pivot_root: %s\n", res(syscall(SYS_pivot_root, "/", "/")));
    printf("open_by_handle_at: %s\n", res(syscall(SYS_open_by_handle_at, -1, 0, 0)));
    printf("init_module: %s\n", res(syscall(SYS_init_module, 0, 0, "")));
    printf("finit_module: %s\n", res(syscall(SYS_finit_module, -1, "", 0)));
    printf("delete_module: %s\n", res(syscall(SYS_delete_module, "lp_probe_none", 0)));
    printf("kexec_load: %s\n", res(syscall(SYS_kexec_load, 0, 0, 0, 0)));
    printf("reboot(bad magic): %s\n", res(syscall(SYS_reboot, 0, 0, 0, 0)));
    printf("ptrace(PEEKUSER self): %s\n", res(syscall(SYS_ptrace, 3, getpid(), 0, 0)));
    printf("userfaultfd: %s\n", res(syscall(SYS_userfaultfd, O_CLOEXEC)));
    printf("iopl: %s\n", res(syscall(SYS_iopl, 3)));
    printf("acct: %s\n", res(syscall(SYS_acct, 0)));
    printf("swapoff: %s\n", res(syscall(SYS_swapoff, "/lp-probe-none")));
    printf("settimeofday(null): %s\n", res(syscall(SYS_settimeofday, 0, 0)));
    printf("personality(ADDR_NO_RANDOMIZE): %s\n", res(syscall(SYS_personality, 0x0040000)));
    syscall(SYS_personality, 0);
    /* Masked and read-only kernel paths. */
    file_size("/proc/kcore", "/proc/kcore");
    file_size("/proc/keys", "/proc/keys");
    file_size("/proc/timer_list", "/proc/timer_list");
    file_size("/proc/sched_debug", "/proc/sched_debug");
    dir_count("/proc/acpi", "/proc/acpi");
    dir_count("/proc/scsi", "/proc/scsi");
    dir_count("/sys/firmware", "/sys/firmware");
    write_test("write /proc/sys/kernel/domainname", "/proc/sys/kernel/domainname");
    write_test("write /proc/sysrq-trigger", "/proc/sysrq-trigger");
    write_test("write /sys/kernel/uevent_helper", "/sys/kernel/uevent_helper");
    /* Device nodes made inside cannot be used. */
    mknod_test("mknod c 1:1 in /dev", "/dev");
    mknod_test("mknod c 1:1 in /tmp", "/tmp");
    return 0;
}
