/* Executes an illegal instruction and must die of SIGILL.  argv[1] picks
 * which one:
 *   zero   - the all-zero parcel (.2byte 0, defined to be illegal)
 *   undef  - a 32-bit encoding with a reserved funct3 (OP-IMM-32, funct3 2)
 *   csr    - a write to the read-only cycle CSR (gas "unimp" = csrrw x0,
 *            cycle, x0)
 *   nofd   - a floating-point op with the invalid dynamic rounding mode
 *            (frm = 5)
 */
#include <stdio.h>
#include <string.h>

int main(int argc, char **argv)
{
    const char *which = argc > 1 ? argv[1] : "zero";
    printf("executing illegal instruction: %s\n", which);
    fflush(stdout);
    if (strcmp(which, "zero") == 0)
        __asm__ volatile(".2byte 0");
    else if (strcmp(which, "undef") == 0)
        __asm__ volatile(".4byte 0x0000201b");
    else if (strcmp(which, "csr") == 0)
        __asm__ volatile(".4byte 0xc0001073");
    else if (strcmp(which, "nofd") == 0)
        __asm__ volatile("csrwi frm, 5\n\tfadd.d ft0, ft0, ft0, dyn" ::: "ft0");
    printf("still alive?!\n");
    return 0;
}
