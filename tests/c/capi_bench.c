/*
 * capi_bench SOCKET CYCLES LIB [LIB...]: lock/unlock cycles through the FLoM
 * C API of each shared library LIB (loaded with dlopen, each run in a fresh
 * child process), against the daemon on SOCKET. A cycle is lock + unlock on
 * one handle: connect, lock request and answer, unlock, disconnect.
 * Prints, per library, the median over ROUNDS runs of: the load time
 * (dlopen with RTLD_NOW, including GLib for a library that needs it loaded
 * first), the first call (the library's one-time initialisation), and the
 * time per cycle (wall clock, and CPU time of the calling process).
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>
#include "flom.h"

#define ROUNDS 5
#define WARMUP 50

struct result { double load_us, init_us, cycle_us, cpu_us; int rc; };

static double now_us(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e6 + t.tv_nsec / 1e3;
}

/* User + system CPU time of this process. */
static double cpu_us(void)
{
    struct rusage u;
    getrusage(RUSAGE_SELF, &u);
    return (u.ru_utime.tv_sec + u.ru_stime.tv_sec) * 1e6 + u.ru_utime.tv_usec + u.ru_stime.tv_usec;
}

typedef int (*handle_fn)(flom_handle_t *);
typedef int (*set_str_fn)(flom_handle_t *, const char *);

static struct result run(const char *lib, const char *sock, int cycles)
{
    struct result r = { 0, 0, 0, 0, 0 };
    double c0;
    double t0 = now_us(), t1;
    void *dl = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
    handle_fn init, lock, unlock, clean;
    set_str_fn set_socket, set_resource;
    flom_handle_t h;
    int i, rc;
    if (dl == NULL) {
        /* C FLoM's libflom does not name GLib as a dependency. */
        dlopen("libglib-2.0.so.0", RTLD_NOW | RTLD_GLOBAL);
        dl = dlopen(lib, RTLD_NOW | RTLD_LOCAL);
    }
    t1 = now_us();
    if (dl == NULL) {
        fprintf(stderr, "capi_bench: %s\n", dlerror());
        r.rc = -1;
        return r;
    }
    r.load_us = t1 - t0;
    init = (handle_fn)dlsym(dl, "flom_handle_init");
    lock = (handle_fn)dlsym(dl, "flom_handle_lock");
    unlock = (handle_fn)dlsym(dl, "flom_handle_unlock");
    clean = (handle_fn)dlsym(dl, "flom_handle_clean");
    set_socket = (set_str_fn)dlsym(dl, "flom_handle_set_socket_name");
    set_resource = (set_str_fn)dlsym(dl, "flom_handle_set_resource_name");
    t0 = now_us();
    rc = init(&h);
    r.init_us = now_us() - t0;
    if (rc == 0) rc = set_socket(&h, sock);
    if (rc == 0) rc = set_resource(&h, "bench");
    for (i = 0; rc == 0 && i < WARMUP; i++)
        if ((rc = lock(&h)) == 0) rc = unlock(&h);
    c0 = cpu_us();
    t0 = now_us();
    for (i = 0; rc == 0 && i < cycles; i++)
        if ((rc = lock(&h)) == 0) rc = unlock(&h);
    r.cycle_us = (now_us() - t0) / cycles;
    r.cpu_us = (cpu_us() - c0) / cycles;
    clean(&h);
    r.rc = rc;
    return r;
}

static int cmp(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v, int n)
{
    qsort(v, n, sizeof(double), cmp);
    return v[n / 2];
}

int main(int argc, char *argv[])
{
    int nlib = argc - 3, cycles, round, l;
    double load[8][ROUNDS], init[8][ROUNDS], cyc[8][ROUNDS], cpu[8][ROUNDS];
    if (argc < 4 || nlib > 8) {
        fprintf(stderr, "usage: capi_bench SOCKET CYCLES LIB [LIB...]\n");
        return 2;
    }
    cycles = atoi(argv[2]);
    for (round = 0; round < ROUNDS; round++) {
        for (l = 0; l < nlib; l++) {
            int fd[2];
            struct result r;
            pid_t pid;
            if (pipe(fd) != 0) return 1;
            pid = fork();
            if (pid == 0) {
                r = run(argv[3 + l], argv[1], cycles);
                if (write(fd[1], &r, sizeof(r)) != sizeof(r)) _exit(1);
                _exit(0);
            }
            close(fd[1]);
            if (read(fd[0], &r, sizeof(r)) != sizeof(r)) r.rc = -1;
            close(fd[0]);
            waitpid(pid, NULL, 0);
            if (r.rc != 0) {
                fprintf(stderr, "capi_bench: %s: lock/unlock failed, ret_cod=%d\n", argv[3 + l], r.rc);
                return 1;
            }
            load[l][round] = r.load_us;
            init[l][round] = r.init_us;
            cyc[l][round] = r.cycle_us;
            cpu[l][round] = r.cpu_us;
        }
    }
    printf("%-44s %10s %10s %11s %11s\n", "library (median of 5 runs, microseconds)",
           "load", "1st call", "cycle", "cycle CPU");
    for (l = 0; l < nlib; l++)
        printf("%-44s %10.1f %10.1f %11.2f %11.2f\n", argv[3 + l], median(load[l], ROUNDS),
               median(init[l], ROUNDS), median(cyc[l], ROUNDS), median(cpu[l], ROUNDS));
    if (nlib == 2)
        printf("first/second: cycle %.2f, cycle CPU %.2f, load %.3f\n",
               median(cyc[0], ROUNDS) / median(cyc[1], ROUNDS),
               median(cpu[0], ROUNDS) / median(cpu[1], ROUNDS),
               median(load[0], ROUNDS) / median(load[1], ROUNDS));
    return 0;
}
