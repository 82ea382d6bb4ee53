/* Threads for the gdbstub tests (built -g -O0): three workers each call
   worker_step, the main thread joins them. */
#include <pthread.h>
#include <stdio.h>

volatile long total;
pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
pthread_barrier_t barrier;

void worker_step(long id)
{
    pthread_mutex_lock(&lock);
    total += id;
    pthread_mutex_unlock(&lock);
}

void *worker(void *arg)
{
    long id = (long)arg;
    pthread_barrier_wait(&barrier);     /* every thread exists before any steps */
    worker_step(id);
    return NULL;
}

int main(void)
{
    pthread_t t[3];
    pthread_barrier_init(&barrier, NULL, 3);
    for (long i = 0; i < 3; i++)
        pthread_create(&t[i], NULL, worker, (void *)(i + 1));
    for (int i = 0; i < 3; i++)
        pthread_join(t[i], NULL);
    printf("total=%ld\n", total);
    return 0;
}
