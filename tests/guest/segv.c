/* Prints a line, flushes stdout, then stores to address 0x10: the process
 * must die of SIGSEGV (no handler installed). */
#include <stdint.h>
#include <stdio.h>

static volatile uintptr_t target = 0x10;

int main(void)
{
    printf("about to write to address 0x10\n");
    fflush(stdout);
    *(volatile int *)target = 1;
    printf("still alive?!\n");
    return 0;
}
