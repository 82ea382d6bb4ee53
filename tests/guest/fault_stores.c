/* Stores that fault, in a hot loop: native code stores to guest memory with
 * no check (the host pages it may not write are write-protected: read-only or
 * no access for the guest, or holding translated code), so each of these is a
 * host fault that must become the guest's SIGSEGV at the exact instruction
 * with the exact registers and nothing written.  One loop (inline asm, fixed
 * registers: a0 the pointer, a1 the value stored, a2 the words left) runs
 * ROUNDS times over each target; a SA_SIGINFO handler prints the first and
 * last fault of each (si_addr and a0 relative to the target, a1, a2, the pc
 * relative to the loop) and siglongjmps out; then a checksum of the pages.
 * Targets: a page made read-only after some rounds, then writable again; a
 * PROT_NONE page; an unmapped page; a word across into a read-only page (its
 * first half not written either); addresses below 0 and past the space.
 * Then code that rewrites itself: a store into the page of a function it
 * calls next (after fence.i), each round.  Exit status 0. */
#include <setjmp.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/mman.h>
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

/* store v, v+1, ... to n 64-bit words from p (a misaligned p: sd across
 * words); one copy per target, so each is a region of its own in native code */
#define FILL(name)                                                                  \
    extern char name##_loop[];                                                      \
    static void name(uintptr_t p, long v, long n)                                   \
    {                                                                               \
        register uintptr_t a0 __asm__("a0") = p;                                    \
        register long a1 __asm__("a1") = v;                                         \
        register long a2 __asm__("a2") = n;                                         \
        loop = (uintptr_t)name##_loop;                                              \
        __asm__ volatile(".globl " #name "_loop\n" #name "_loop:\n"                 \
                         "    sd a1, 0(a0)\n"                                       \
                         "    addi a1, a1, 1\n"                                     \
                         "    addi a0, a0, 8\n"                                     \
                         "    addi a2, a2, -1\n"                                    \
                         "    bnez a2, " #name "_loop\n"                            \
                         : "+r"(a0), "+r"(a1), "+r"(a2) : : "memory");              \
    }

FILL(fill_readonly)
FILL(fill_protnone)
FILL(fill_unmapped)
FILL(fill_across)
FILL(fill_negative)
FILL(fill_above)

static unsigned char *pages;

static unsigned long checksum(int npages)
{
    unsigned long h = 1469598103934665603ul;
    for (int i = 0; i < npages * PAGE; i++)
        h = (h ^ pages[i]) * 1099511628211ul;
    return h;
}

/* ROUNDS rounds of fill(p, round, n); before round `cut`, cut_fn(); before `heal`, heal_fn() */
static void rounds(const char *what, void (*fill)(uintptr_t, long, long), uintptr_t p, long n, int cut,
                   void (*cut_fn)(void), int heal, void (*heal_fn)(void))
{
    faults = 0;
    base = p;
    for (int r = 0; r < ROUNDS; r++) {
        if (r == cut && cut_fn)
            cut_fn();
        if (r == heal && heal_fn)
            heal_fn();
        if (sigsetjmp(env, 1) == 0)
            fill(p, 1000 * r, n);
    }
    printf("%s: faults=%d", what, faults);
    if (faults)
        printf(" first=[%#lx %#lx %ld %ld %#lx] last=[%#lx %#lx %ld %ld %#lx]",
               (unsigned long)first[0], (unsigned long)first[1], (long)first[2], (long)first[3],
               (unsigned long)first[4], (unsigned long)last[0], (unsigned long)last[1], (long)last[2],
               (long)last[3], (unsigned long)last[4]);
    printf("\n");
}

static void ro2(void)
{
    mprotect(pages + 2 * PAGE, PAGE, PROT_READ);
}

static void rw2(void)
{
    mprotect(pages + 2 * PAGE, PAGE, PROT_READ | PROT_WRITE);
}

static void none2(void)
{
    mprotect(pages + 2 * PAGE, PAGE, PROT_NONE);
}

static void unmap3(void)
{
    munmap(pages + 3 * PAGE, PAGE);
}

/* code that rewrites itself: `li a0, k; ret` in a page of its own, its li
 * stored anew (by native code: an `sw` in a loop) before each call */
extern char patch_loop[];
static void patch(uint32_t *at, uint32_t word)
{
    register uintptr_t a0 __asm__("a0") = (uintptr_t)at;
    register long a1 __asm__("a1") = word;
    __asm__ volatile("patch_loop:\n"
                     "    sw a1, 0(a0)\n"
                     "    fence.i\n"
                     : "+r"(a0), "+r"(a1) : : "memory");
}

static long self_modifying(void)
{
    uint32_t *code = mmap(NULL, PAGE, PROT_READ | PROT_WRITE | PROT_EXEC, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (code == MAP_FAILED)
        return -1;
    code[1] = 0x00008067;                                  /* ret */
    long total = 0;
    for (int r = 0; r < ROUNDS; r++) {
        uint32_t k = (uint32_t)(r * 7 % 2048);
        patch(code, (k << 20) | (10 << 7) | 0x13);         /* addi a0, zero, k */
        total = total * 3 + ((long (*)(void))code)();
    }
    return total;
}

int main(void)
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
    long words = 3 * PAGE / 8;

    /* pages 0-2: page 2 read-only from round 100, writable from round 220 */
    rounds("readonly", fill_readonly, (uintptr_t)pages, words, 100, ro2, 220, rw2);
    printf("  checksum %#lx\n", checksum(3));
    /* pages 0-2 again: page 2 PROT_NONE from round 50 */
    rounds("protnone", fill_protnone, (uintptr_t)pages, words, 50, none2, -1, NULL);
    mprotect(pages + 2 * PAGE, PAGE, PROT_READ);
    printf("  checksum %#lx\n", checksum(3));
    /* pages 3-4: page 3 unmapped from round 150 */
    rounds("unmapped", fill_unmapped, (uintptr_t)pages + 3 * PAGE, PAGE / 8, 150, unmap3, -1, NULL);
    /* one word across from page 1 into page 2 (read-only from round 50): its
     * first four bytes, in page 1, are not written either */
    mprotect(pages + 2 * PAGE, PAGE, PROT_READ | PROT_WRITE);
    rounds("across", fill_across, (uintptr_t)pages + 2 * PAGE - 4, 1, 50, ro2, -1, NULL);
    printf("  checksum %#lx\n", checksum(3));
    /* below address 0, past the guest's usual space */
    rounds("negative", fill_negative, (uintptr_t)-64, 4, -1, NULL, -1, NULL);
    rounds("above", fill_above, (uintptr_t)1 << 36, 4, -1, NULL, -1, NULL);

    printf("self-modifying: %ld\n", self_modifying());
    return 0;
}
