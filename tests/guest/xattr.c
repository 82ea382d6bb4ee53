/* Extended attributes inside the directory given as argv[1] (each run gets its
 * own empty temporary directory): set/get/list/remove through a path, a
 * symlink (l*: the link's own attributes, which user.* refuses) and an fd
 * (f*), the size queries (size 0: the size needed, the buffer untouched),
 * ERANGE for a short buffer, XATTR_CREATE/XATTR_REPLACE, ENODATA, a name too
 * long (ERANGE) or empty, a value over XATTR_SIZE_MAX (E2BIG), a value and
 * a list longer than the buffer the kernel may fill, bad pointers (EFAULT), a
 * bad fd (EBADF), a missing file (ENOENT).  Each result is printed; the host
 * file system may not support user.* attributes: then every call prints
 * its errno, the same under qemu and pydbt.  Exit status 0. */
#define _GNU_SOURCE
#include "common.h"
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/xattr.h>

static void res(const char *what, long r)
{
    if (r < 0)
        printf("%-44s -1 %s\n", what, strerrorname_np(errno));
    else
        printf("%-44s %ld\n", what, r);
}

/* the list's names, sorted (the file system's order is its own) */
static void show_list(const char *what, const char *list, long n)
{
    const char *names[32];
    int k = 0;
    for (long i = 0; i < n && k < 32; i += strlen(list + i) + 1)
        names[k++] = list + i;
    for (int i = 1; i < k; i++)
        for (int j = i; j > 0 && strcmp(names[j - 1], names[j]) > 0; j--) {
            const char *t = names[j];
            names[j] = names[j - 1];
            names[j - 1] = t;
        }
    printf("%s:", what);
    for (int i = 0; i < k; i++)
        printf(" %s", names[i]);
    printf("\n");
}

int main(int argc, char **argv)
{
    if (argc < 2 || chdir(argv[1]) != 0)
        return 2;
    int fd = open("f", O_CREAT | O_RDWR, 0644);
    res("open f", fd);
    res("symlink l -> f", symlink("f", "l"));

    res("setxattr user.a", setxattr("f", "user.a", "alpha", 5, 0));
    res("setxattr user.a CREATE (exists)", setxattr("f", "user.a", "x", 1, XATTR_CREATE));
    res("setxattr user.b REPLACE (missing)", setxattr("f", "user.b", "x", 1, XATTR_REPLACE));
    res("setxattr user.a REPLACE", setxattr("f", "user.a", "ALPHA!", 6, XATTR_REPLACE));
    res("setxattr user.b CREATE", setxattr("f", "user.b", "", 0, XATTR_CREATE));
    res("fsetxattr user.c", fsetxattr(fd, "user.c", "gamma", 5, 0));
    res("setxattr through the link", setxattr("l", "user.d", "delta", 5, 0));
    res("lsetxattr on the link (user.*)", lsetxattr("l", "user.e", "e", 1, 0));
    res("setxattr bad flags", setxattr("f", "user.z", "z", 1, 4));

    char v[64];
    memset(v, '#', sizeof v);
    res("getxattr user.a size 0", getxattr("f", "user.a", NULL, 0));
    long n = getxattr("f", "user.a", v, sizeof v);
    res("getxattr user.a", n);
    if (n >= 0)
        printf("  value [%.*s] then %c\n", (int)n, v, v[n]);
    res("getxattr user.a into 3 bytes", getxattr("f", "user.a", v, 3));
    res("getxattr user.b (empty)", getxattr("f", "user.b", v, sizeof v));
    res("fgetxattr user.c", fgetxattr(fd, "user.c", v, sizeof v));
    res("lgetxattr user.d through the link name", lgetxattr("l", "user.d", v, sizeof v));
    res("getxattr user.d through the link", getxattr("l", "user.d", v, sizeof v));
    res("getxattr user.nope", getxattr("f", "user.nope", v, sizeof v));
    res("getxattr missing file", getxattr("missing", "user.a", v, sizeof v));
    res("getxattr bad value pointer", getxattr("f", "user.a", (void *)16, sizeof v));
    res("getxattr bad name pointer", getxattr("f", (void *)16, v, sizeof v));
    res("getxattr bad path pointer", getxattr((void *)16, "user.a", v, sizeof v));
    res("fgetxattr bad fd", fgetxattr(-5, "user.a", v, sizeof v));

    char longname[300];
    memcpy(longname, "user.", 5);
    memset(longname + 5, 'n', sizeof longname - 6);
    longname[sizeof longname - 1] = 0;
    res("getxattr name of 299 bytes", getxattr("f", longname, v, sizeof v));
    longname[255] = 0;
    res("getxattr name of 255 bytes", getxattr("f", longname, v, sizeof v));
    res("getxattr empty name", getxattr("f", "", v, sizeof v));
    res("setxattr name without a namespace", setxattr("f", "plain", "x", 1, 0));

    size_t big = 70000;
    char *bv = malloc(big);
    memset(bv, 'v', big);
    res("setxattr value of 70000 bytes", setxattr("f", "user.big", bv, big, 0));
    res("setxattr value of 3000 bytes", setxattr("f", "user.big", bv, 3000, 0));
    memset(bv, 0, big);
    n = getxattr("f", "user.big", bv, big);     /* (a buffer over XATTR_SIZE_MAX: clamped) */
    res("getxattr 3000 bytes into a 70000-byte buffer", n);
    printf("  all v: %d\n", n == 3000 && bv[0] == 'v' && bv[2999] == 'v' && bv[3000] == 0);

    char list[512];
    memset(list, 0, sizeof list);
    res("listxattr size 0", listxattr("f", NULL, 0));
    n = listxattr("f", list, sizeof list);
    res("listxattr", n);
    if (n > 0)
        show_list("  names", list, n);
    res("listxattr into 4 bytes", listxattr("f", list, 4));
    n = flistxattr(fd, list, sizeof list);
    res("flistxattr", n);
    if (n > 0)
        show_list("  names", list, n);
    n = llistxattr("l", list, sizeof list);
    res("llistxattr on the link", n);
    res("listxattr bad list pointer", listxattr("f", (void *)16, sizeof list));

    res("removexattr user.a", removexattr("f", "user.a"));
    res("removexattr user.a again", removexattr("f", "user.a"));
    res("fremovexattr user.c", fremovexattr(fd, "user.c"));
    res("lremovexattr user.d on the link", lremovexattr("l", "user.d"));
    res("removexattr user.d through the link", removexattr("l", "user.d"));
    res("removexattr user.big", removexattr("f", "user.big"));
    n = listxattr("f", list, sizeof list);
    res("listxattr at the end", n);
    if (n > 0)
        show_list("  names", list, n);
    close(fd);
    printf("xattr done\n");
    return 0;
}
