/* setjmp/longjmp: a simple jump with a value, longjmp(…, 0) becoming 1,
 * nested jump buffers across several function frames, volatile locals
 * keeping values changed after setjmp, jumping out of deep recursion, and
 * sigsetjmp/siglongjmp with a saved mask (no signal is raised).
 * Exit status 0. */
#include <setjmp.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>

static jmp_buf outer, inner;
static int depth_reached;

static void recurse(int depth, jmp_buf *env)
{
    char pad[64];
    memset(pad, depth, sizeof pad);
    if (depth > 1000)
        return;
    if (depth == 50) {
        depth_reached = depth + pad[10];
        longjmp(*env, depth);
    }
    recurse(depth + 1, env);
    pad[0]++; /* not reached */
}

static void level3(int v) { longjmp(inner, v); }
static void level2(int v)
{
    level3(v * 2);
}
static int level1(int v)
{
    volatile int local = 100;
    int r = setjmp(inner);
    if (r == 0) {
        local = 200;
        level2(v);
        return -1;
    }
    printf("level1 caught %d, local=%d\n", r, local);
    if (r > 10)
        longjmp(outer, r + 1); /* rethrow outward */
    return r;
}

static double fp_keep(void)
{
    jmp_buf env;
    volatile double d = 1.5;
    if (setjmp(env) == 0) {
        d = d * 3.0;
        longjmp(env, 1);
    }
    return d;
}

int main(void)
{
    jmp_buf env;
    volatile int count = 0;
    int r = setjmp(env);
    printf("setjmp returned %d (count %d)\n", r, count);
    if (count < 3) {
        count++;
        longjmp(env, count * 10);
    }

    r = setjmp(env);
    if (r == 0)
        longjmp(env, 0);
    printf("longjmp(env, 0) gives %d\n", r);

    r = setjmp(outer);
    if (r == 0) {
        printf("level1(2) = %d\n", level1(2));
        level1(7);
        printf("not reached\n");
    } else {
        printf("outer caught %d\n", r);
    }

    r = setjmp(env);
    if (r == 0)
        recurse(0, &env);
    printf("recursion unwound from depth %d (%d)\n", r, depth_reached);

    printf("fp kept across longjmp: %g\n", fp_keep());

    sigjmp_buf senv;
    sigset_t set, old;
    sigemptyset(&set);
    sigaddset(&set, SIGUSR1);
    sigprocmask(SIG_BLOCK, &set, NULL);
    r = sigsetjmp(senv, 1);
    if (r == 0) {
        sigset_t more;
        sigemptyset(&more);
        sigaddset(&more, SIGUSR2);
        sigprocmask(SIG_BLOCK, &more, NULL);
        siglongjmp(senv, 5);
    }
    sigprocmask(SIG_BLOCK, NULL, &old);
    printf("siglongjmp %d: USR1 blocked=%d USR2 blocked=%d\n", r,
           sigismember(&old, SIGUSR1), sigismember(&old, SIGUSR2));
    return 0;
}
