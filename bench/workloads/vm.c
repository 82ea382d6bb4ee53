/* A tiny stack-based bytecode VM: a switch-dispatch interpreter loop (an
 * indirect jump through a jump table per bytecode) running a small program
 * of a loop with arithmetic and a conditional.  Size = iterations of the
 * interpreted loop (~33 bytecodes each). */
#include "common.h"

enum { PUSH, LOAD, STORE, ADD, SUB, MUL, XOR, AND, SHR, LT, JZ, JMP, DUP, POP, HALT };

struct insn {
    uint8_t op;
    int32_t arg;
};

static int64_t run(const struct insn *code, int64_t *regs)
{
    int64_t stack[64];
    int sp = 0;
    int pc = 0;
    for (;;) {
        const struct insn *in = &code[pc++];
        switch (in->op) {
        case PUSH: stack[sp++] = in->arg; break;
        case LOAD: stack[sp++] = regs[in->arg]; break;
        case STORE: regs[in->arg] = stack[--sp]; break;
        case ADD: sp--; stack[sp - 1] += stack[sp]; break;
        case SUB: sp--; stack[sp - 1] -= stack[sp]; break;
        case MUL: sp--; stack[sp - 1] *= stack[sp]; break;
        case XOR: sp--; stack[sp - 1] ^= stack[sp]; break;
        case AND: sp--; stack[sp - 1] &= stack[sp]; break;
        case SHR: stack[sp - 1] = (int64_t)((uint64_t)stack[sp - 1] >> in->arg); break;
        case LT: sp--; stack[sp - 1] = stack[sp - 1] < stack[sp]; break;
        case JZ: if (stack[--sp] == 0) pc = in->arg; break;
        case JMP: pc = in->arg; break;
        case DUP: stack[sp] = stack[sp - 1]; sp++; break;
        case POP: sp--; break;
        case HALT: return stack[sp - 1];
        default: return -1;
        }
    }
}

int main(int argc, char **argv)
{
    long n = bench_size(argc, argv, 3000);
    /* r0 = n, r1 = i, r2 = acc
     *   while (i < n) {
     *       x = ((acc * 31) ^ i) + (i >> 3);
     *       acc = (x ^ (x >> 7)) & 0x7fffffff;
     *       if (i & 1) acc = acc + 7;
     *       i = i + 1;
     *   }
     *   return acc */
    /* Built at run time so the program is easy to read and edit. */
    struct insn code[64];
    int k = 0;
#define E(o, a) (code[k].op = (o), code[k].arg = (a), k++)
    E(PUSH, 0); E(STORE, 1);             /* i = 0 */
    E(PUSH, 1); E(STORE, 2);             /* acc = 1 */
    int loop = k;
    E(LOAD, 1); E(LOAD, 0); E(LT, 0);
    int jz_end = k; E(JZ, 0);
    E(LOAD, 2); E(PUSH, 31); E(MUL, 0); E(LOAD, 1); E(XOR, 0);
    E(LOAD, 1); E(SHR, 3); E(ADD, 0);
    E(DUP, 0); E(SHR, 7); E(XOR, 0);     /* x ^= x >> 7 */
    E(STORE, 2);
    E(LOAD, 2); E(PUSH, 0x7fffffff); E(AND, 0); E(STORE, 2);
    E(LOAD, 1); E(PUSH, 1); E(AND, 0);
    int jz_skip = k; E(JZ, 0);
    E(LOAD, 2); E(PUSH, 7); E(ADD, 0); E(STORE, 2);
    code[jz_skip].arg = k;
    E(LOAD, 1); E(PUSH, 1); E(ADD, 0); E(STORE, 1);
    E(JMP, loop);
    code[jz_end].arg = k;
    E(LOAD, 2); E(HALT, 0);
#undef E
    int64_t regs[4] = {n, 0, 0, 0};
    int64_t acc = run(code, regs);
    bench_result("vm", n, (uint64_t)acc ^ ((uint64_t)k << 56));
    return 0;
}
