/* Loads that fault, in a hot loop: native code loads guest memory with no
 * check, so each of these is a host fault that must become the guest's
 * SIGSEGV at the exact instruction with the exact registers.  One loop (inline
 * asm, fixed registers: a0 the pointer, a1 the sum, a2 the words left) runs
 * ROUNDS times over each target; a SA_SIGINFO handler prints the first and
 * last fault of each (si_addr and a0 relative to the target, a1, a2, the pc
 * relative to the loop) and siglongjmps out.  Targets: a page made PROT_NONE
 * after some rounds, then readable again; an unmapped page; a word across
 * into a PROT_NONE page; addresses below 0, past the space, far above.
 * Then a private file mapping made PROT_NONE and readable again reads the
 * file's bytes.  Exit status 0. */
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
#include <fcntl.h>
#include <ucontext.h>
#include <unistd.h>

#define ROUNDS 300
#define PAGE 4096

static sigjmp_buf env;
static volatile int faults;
static volatile uintptr_t first[5], last[5];
static uintptr_t base, loop;

static void handler(int sig, siginfo_t *si, void *ucv)
{
    ucontext_t *uc = ucv;
    uintptr_t v[5] = {
        (uintptr_t)si->si_addr - base,
        uc->uc_mcontext.__gregs[10] - base,                 /* a0 */
        uc->uc_mcontext.__gregs[11],                        /* a1 */
        uc->uc_mcontext.__gregs[12],                        /* a2 */
        uc->uc_mcontext.__gregs[0] - loop,                  /* pc */
    };
    (void)sig;
    for (int i = 0; i < 5; i++) {
        if (faults == 0)
            first[i] = v[i];
        last[i] = v[i];
    }
    faults++;
    siglongjmp(env, 1);
}

/* sum of n 64-bit words at p (a misaligned p: ld across words); one copy per
 * target, so each is a region of its own in native code */
#define SUM(name)                                                                   \
    extern char name##_loop[];                                                      \
    static long name(uintptr_t p, long n)                                           \
    {                                                                               \
        register uintptr_t a0 __asm__("a0") = p;                                    \
        register long a1 __asm__("a1") = 0;                                         \
        register long a2 __asm__("a2") = n;                                         \
        loop = (uintptr_t)name##_loop;                                              \
        __asm__ volatile(".globl " #name "_loop\n" #name "_loop:\n"                 \
                         "    ld t0, 0(a0)\n"                                       \
                         "    add a1, a1, t0\n"                                     \
                         "    addi a0, a0, 8\n"                                     \
                         "    addi a2, a2, -1\n"                                    \
                         "    bnez a2, " #name "_loop\n"                            \
                         : "+r"(a0), "+r"(a1), "+r"(a2) : : "t0", "memory");        \
        return a1;                                                                  \
    }

SUM(sum_protnone)
SUM(sum_unmapped)
SUM(sum_across)
SUM(sum_negative)
SUM(sum_above)
SUM(sum_far)

/* ROUNDS rounds of sum(p, n); before round `cut`, cut_fn(); before `heal`, heal_fn() */
static void rounds(const char *what, long (*sum)(uintptr_t, long), uintptr_t p, long n, int cut,
                   void (*cut_fn)(void), int heal, void (*heal_fn)(void))
{
    long total = 0;
    faults = 0;
    base = p;
    for (int r = 0; r < ROUNDS; r++) {
        if (r == cut && cut_fn)
            cut_fn();
        if (r == heal && heal_fn)
            heal_fn();
        if (sigsetjmp(env, 1) == 0)
            total += sum(p, n);
    }
    printf("%s: faults=%d total=%ld", what, faults, total);
    if (faults)
        printf(" first=[%#lx %#lx %ld %ld %#lx] last=[%#lx %#lx %ld %ld %#lx]",
               (unsigned long)first[0], (unsigned long)first[1], (long)first[2], (long)first[3],
               (unsigned long)first[4], (unsigned long)last[0], (unsigned long)last[1], (long)last[2],
               (long)last[3], (unsigned long)last[4]);
    printf("\n");
}

static unsigned char *pages;

static void none2(void)
{
    mprotect(pages + 2 * PAGE, PAGE, PROT_NONE);
}

static void read2(void)
{
    mprotect(pages + 2 * PAGE, PAGE, PROT_READ);
}

static void unmap3(void)
{
    munmap(pages + 3 * PAGE, PAGE);
}

int main(int argc, char **argv)
{
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_sigaction = handler;
    sa.sa_flags = SA_SIGINFO;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGSEGV, &sa, NULL);
    sigaction(SIGBUS, &sa, NULL);

    pages = mmap(NULL, 5 * PAGE, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (pages == MAP_FAILED)
        return 1;
    for (int i = 0; i < 5 * PAGE; i++)
        pages[i] = (unsigned char)(i * 13 + 1);
    long words = 3 * PAGE / 8;

    /* pages 0-2: page 2 PROT_NONE from round 100, readable from round 220 */
    rounds("protnone", sum_protnone, (uintptr_t)pages, words, 100, none2, 220, read2);
    /* pages 1-3: page 3 unmapped from round 150 */
    rounds("unmapped", sum_unmapped, (uintptr_t)pages + PAGE, words, 150, unmap3, -1, NULL);
    /* one word across from page 1 into page 2 (PROT_NONE from round 50) */
    rounds("across", sum_across, (uintptr_t)pages + 2 * PAGE - 4, 1, 50, none2, -1, NULL);
    /* below address 0, past the guest's usual space, far above (a non-canonical
     * host address under pydbt; not a non-canonical guest one: qemu-user says
     * si_addr 0 there, the host's) */
    rounds("negative", sum_negative, (uintptr_t)-64, 4, -1, NULL, -1, NULL);
    rounds("above", sum_above, (uintptr_t)1 << 36, 4, -1, NULL, -1, NULL);
    rounds("far", sum_far, (uintptr_t)0x7ffff0000000ul, 4, -1, NULL, -1, NULL);

    /* a private file mapping made PROT_NONE, then readable: the file's bytes */
    int fd = open(argv[0], O_RDONLY);
    unsigned char *f = fd < 0 ? MAP_FAILED : mmap(NULL, PAGE, PROT_NONE, MAP_PRIVATE, fd, 0);
    if (f == MAP_FAILED || mprotect(f, PAGE, PROT_READ) != 0)
        return 2;
    printf("file: %02x %c%c%c\n", f[0], f[1], f[2], f[3]);
    (void)argc;
    return 0;
}
