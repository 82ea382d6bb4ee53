/* Priorities, affinity, scheduling policies and io priorities: the host's answers for the guest's own thread, as qemu gives them. */
#define _GNU_SOURCE
#include <errno.h>
#include <sched.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/syscall.h>
#include <unistd.h>
int main(void) {
    errno = 0;
    int p = getpriority(PRIO_PROCESS, 0);
    printf("getpriority: %d errno %d\n", p, errno);
    printf("setpriority +1: %d\n", setpriority(PRIO_PROCESS, 0, p + 1));
    printf("getpriority now: %d\n", getpriority(PRIO_PROCESS, 0) - p);
    cpu_set_t s; CPU_ZERO(&s);
    printf("getaffinity: %d\n", sched_getaffinity(0, sizeof s, &s));
    printf("setaffinity same: %d\n", sched_setaffinity(0, sizeof s, &s));
    printf("sched_getscheduler: %d\n", sched_getscheduler(0));
    printf("max/min OTHER: %d %d FIFO: %d %d\n", sched_get_priority_max(SCHED_OTHER), sched_get_priority_min(SCHED_OTHER), sched_get_priority_max(SCHED_FIFO), sched_get_priority_min(SCHED_FIFO));
    struct sched_param sp; printf("getparam: %d prio %d\n", sched_getparam(0, &sp), sp.sched_priority);
    printf("ioprio_get: %ld\n", syscall(SYS_ioprio_get, 1, 0) >= 0);
    return 0;
}
