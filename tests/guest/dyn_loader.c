/* A dynamically linked program (built without -static, run with -L): what the
 * ELF interpreter and the loader hand it.  Prints only values that are the
 * same under every correct emulator: AT_ENTRY is &_start, AT_BASE is a
 * page-aligned address (qemu and pydbt choose different ones) where /proc/self/maps and dladdr show ld.so, AT_PHDR
 * is the program's, AT_EXECFN and /proc/self/exe; then dlopen of libm (not
 * linked: -Wl,--as-needed) and calls through dlsym; exit status 0 unless a
 * check FAILs. */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <elf.h>
#include <link.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/auxv.h>
#include <unistd.h>

extern char _start[];
static int failures;

static void check(const char *what, int ok)
{
    printf("%s: %s\n", what, ok ? "ok" : "FAIL");
    failures += !ok;
}

static int ends_with(const char *s, const char *tail)
{
    size_t n = strlen(s), m = strlen(tail);
    return n >= m && strcmp(s + n - m, tail) == 0;
}

/* the /proc/self/maps line that starts at `addr`: its path (or "") */
static int maps_name_at(unsigned long addr, char *name, size_t size)
{
    FILE *f = fopen("/proc/self/maps", "r");
    char line[512];
    int found = 0;
    if (!f)
        return 0;
    while (fgets(line, sizeof line, f)) {
        unsigned long lo, hi;
        int pos = 0;
        if (sscanf(line, "%lx-%lx %*s %*s %*s %*s %n", &lo, &hi, &pos) >= 2 && lo == addr) {
            snprintf(name, size, "%s", pos ? line + pos : "");
            name[strcspn(name, "\n")] = 0;
            found = 1;
            break;
        }
    }
    fclose(f);
    return found;
}

int main(int argc, char **argv)
{
    unsigned long base = getauxval(AT_BASE), entry = getauxval(AT_ENTRY);
    const char *interp = NULL;
    char name[512] = "";
    Dl_info info;

    (void)argc;
    check("AT_ENTRY == &_start", entry == (unsigned long)_start);
    check("AT_BASE nonzero and page aligned", base != 0 && base % getpagesize() == 0);
    check("AT_BASE outside the program",
          !(base >= (unsigned long)_start - 0x100000 && base < (unsigned long)_start + 0x100000));
    check("/proc/self/maps shows ld.so at AT_BASE",
          maps_name_at(base, name, sizeof name) && ends_with(name, "/ld-linux-riscv64-lp64d.so.1"));
    check("dladdr(AT_BASE) is ld.so", dladdr((void *)(base + 0x100), &info) != 0 &&
          (unsigned long)info.dli_fbase == base && ends_with(info.dli_fname, "ld-linux-riscv64-lp64d.so.1"));
    /* the program's own headers: AT_PHDR minus PT_PHDR's p_vaddr is its load bias */
    const ElfW(Phdr) *phdr = (const ElfW(Phdr) *)getauxval(AT_PHDR);
    unsigned long bias = 0, phnum = getauxval(AT_PHNUM);
    for (unsigned long i = 0; i < phnum; i++)
        if (phdr[i].p_type == PT_PHDR)
            bias = (unsigned long)phdr - phdr[i].p_vaddr;
    for (unsigned long i = 0; i < phnum; i++)
        if (phdr[i].p_type == PT_INTERP)
            interp = (const char *)(bias + phdr[i].p_vaddr);
    check("AT_PHDR's bias is the program's", bias == (unsigned long)_start - ((ElfW(Ehdr) *)bias)->e_entry);
    printf("PT_INTERP via AT_PHDR: %s\n", interp ? interp : "(none)");
    printf("AT_PHENT=%lu\n", getauxval(AT_PHENT));
    printf("AT_EXECFN == argv[0]: %d\n", strcmp((char *)getauxval(AT_EXECFN), argv[0]) == 0);
    char exe[4096];
    ssize_t n = readlink("/proc/self/exe", exe, sizeof exe - 1);
    exe[n > 0 ? n : 0] = 0;
    check("/proc/self/exe names this program", n > 0 && exe[0] == '/' && ends_with(exe, "/dyn_loader"));

    void *libm = dlopen("libm.so.6", RTLD_NOLOAD | RTLD_NOW);
    printf("libm loaded before dlopen: %d\n", libm != NULL);
    libm = dlopen("libm.so.6", RTLD_NOW);
    if (!libm) {
        printf("dlopen(libm.so.6): FAIL %s\n", dlerror());
        return 1;
    }
    double (*cosp)(double) = (double (*)(double))dlsym(libm, "cos");
    double (*powp)(double, double) = (double (*)(double, double))dlsym(libm, "pow");
    check("dlsym(cos), dlsym(pow)", cosp != NULL && powp != NULL);
    if (cosp && powp)
        printf("cos(0.5)=%.17g cos(3)=%.17g pow(2,0.5)=%.17g\n", cosp(0.5), cosp(3.0), powp(2.0, 0.5));
    check("dladdr(cos) is libm", cosp && dladdr((void *)cosp, &info) && strstr(info.dli_fname, "libm.so.6"));
    printf("dlsym(nonexistent)=%p\n", dlsym(libm, "no_such_symbol_here"));
    printf("dlclose=%d\n", dlclose(libm));
    void *none = dlopen("libdoesnotexist.so.9", RTLD_NOW);
    printf("dlopen(missing)=%p error mentions it: %d\n", none,
           none == NULL && strstr(dlerror(), "libdoesnotexist.so.9") != NULL);
    printf("dyn_loader done, failures=%d\n", failures);
    return failures ? 1 : 0;
}
