/*
 * threads SOCKET: eight threads, one handle each, start at the same moment
 * (so the library's one-time initialisation runs under contention) and take
 * the same exclusive lock 25 times each; inside the lock a thread checks
 * that it is alone. Prints "threads ok" and the number of critical sections.
 */
#include <pthread.h>
#include <stdio.h>
#include <flom.h>

#define THREADS 8
#define ROUNDS 25

static const char *socket_path;
static pthread_barrier_t start;
static int inside, sections, failures;
static pthread_mutex_t guard = PTHREAD_MUTEX_INITIALIZER;

static void *worker(void *arg)
{
    flom_handle_t h;
    int i, rc;
    (void)arg;
    pthread_barrier_wait(&start);
    if ((rc = flom_handle_init(&h)) != FLOM_RC_OK ||
        (rc = flom_handle_set_socket_name(&h, socket_path)) != FLOM_RC_OK ||
        (rc = flom_handle_set_resource_name(&h, "threads")) != FLOM_RC_OK) {
        fprintf(stderr, "init: %s\n", flom_strerror(rc));
        __atomic_add_fetch(&failures, 1, __ATOMIC_SEQ_CST);
        return NULL;
    }
    for (i = 0; i < ROUNDS; i++) {
        if ((rc = flom_handle_lock(&h)) != FLOM_RC_OK) {
            fprintf(stderr, "lock: %s\n", flom_strerror(rc));
            __atomic_add_fetch(&failures, 1, __ATOMIC_SEQ_CST);
            break;
        }
        if (__atomic_add_fetch(&inside, 1, __ATOMIC_SEQ_CST) != 1)
            __atomic_add_fetch(&failures, 1, __ATOMIC_SEQ_CST);
        pthread_mutex_lock(&guard);
        sections++;
        pthread_mutex_unlock(&guard);
        __atomic_sub_fetch(&inside, 1, __ATOMIC_SEQ_CST);
        if ((rc = flom_handle_unlock(&h)) != FLOM_RC_OK) {
            fprintf(stderr, "unlock: %s\n", flom_strerror(rc));
            __atomic_add_fetch(&failures, 1, __ATOMIC_SEQ_CST);
            break;
        }
    }
    flom_handle_clean(&h);
    return NULL;
}

int main(int argc, char *argv[])
{
    pthread_t t[THREADS];
    int i;
    if (argc != 2) {
        fprintf(stderr, "usage: threads SOCKET\n");
        return 2;
    }
    socket_path = argv[1];
    pthread_barrier_init(&start, NULL, THREADS);
    for (i = 0; i < THREADS; i++)
        pthread_create(&t[i], NULL, worker, NULL);
    for (i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    if (failures != 0) {
        printf("threads failed: %d\n", failures);
        return 1;
    }
    printf("threads ok, %d critical sections\n", sections);
    return 0;
}
