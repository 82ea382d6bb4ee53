/* Sockets: TCP over 127.0.0.1 and ::1 (fork: echo server and client), UDP,
 * AF_UNIX (socketpair + SCM_RIGHTS/SCM_CREDENTIALS, named and abstract
 * sockets), socket options, recvmsg flags (MSG_PEEK, MSG_TRUNC, MSG_CTRUNC),
 * shutdown, sendmmsg/recvmmsg, SIGPIPE, NETLINK_ROUTE and error answers.
 *
 * usage: sockets TMPDIR [section...]   (sections: tcp tcp6 udp unix opts msg
 *        shutdown mmsg netlink errors; default all but kernel, which
 *        qemu gets wrong: it is checked against a native build)
 *        sockets accept-wait MODE       (prints the port, then blocks in accept;
 *        MODE: default | handler | restart | timeo-restart (SA_RESTART, but
 *        SO_RCVTIMEO set), or thread-handler: in a second thread, the only
 *        one that takes SIGINT; see test_sockets.py)
 *        sockets unix-connect PATH MSG  (sends MSG to a named socket, prints the reply)
 *        sockets scm-high               (SCM_RIGHTS of fds at and over RLIMIT_NOFILE)
 * Output is deterministic: ports and pids are only checked, never printed.
 * Children report through their exit status; only the parent prints.
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/netlink.h>
#include <linux/rtnetlink.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <sys/un.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static int failures;
static int *volatile bad_ptr = (int *)16;
static const char *tmpdir = "/tmp";

#define CHECK(cond, ...)                                                                                    \
    do {                                                                                                    \
        if (!(cond)) {                                                                                      \
            failures++;                                                                                     \
            printf("FAIL line %d: ", __LINE__);                                                             \
            printf(__VA_ARGS__);                                                                            \
            printf(" (errno %s)\n", strerrorname_np(errno) ? strerrorname_np(errno) : "?");                 \
        }                                                                                                   \
    } while (0)

static const char *ename(int e)
{
    const char *n = strerrorname_np(e);
    return n ? n : "?";
}

/* "ok" or the errno name of a call's result */
static const char *res(long r)
{
    return r < 0 ? ename(errno) : "ok";
}

static int wait_child(pid_t pid)
{
    int st;
    while (waitpid(pid, &st, 0) < 0)
        if (errno != EINTR)
            return -1;
    return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

static int write_all(int fd, const void *p, size_t n)
{
    const char *c = p;
    while (n) {
        ssize_t k = write(fd, c, n);
        if (k <= 0)
            return -1;
        c += k;
        n -= (size_t)k;
    }
    return 0;
}

/* ------------------------------------------------------------------ TCP */
static int tcp_client(const struct sockaddr *a, socklen_t alen, int family)
{
    int c = socket(family, SOCK_STREAM, 0);
    if (c < 0 || connect(c, a, alen) < 0)
        return 10;
    int one = 1;
    if (setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one) < 0)
        return 11;
    static const char *lines[] = {"hello", "echo server", "third line, a bit longer than the others"};
    for (int i = 0; i < 3; i++) {
        size_t n = strlen(lines[i]);
        if (send(c, lines[i], n, 0) != (ssize_t)n)
            return 12;
        char buf[128];
        size_t got = 0;
        while (got < n) {
            ssize_t k = recv(c, buf + got, sizeof buf - got, 0);
            if (k <= 0)
                return 13;
            got += (size_t)k;
        }
        if (got != n || memcmp(buf, lines[i], n))
            return 14;
    }
    close(c);
    return 0;
}

static void tcp_test(int family)
{
    const char *tag = family == AF_INET ? "tcp" : "tcp6";
    struct sockaddr_storage ss;
    memset(&ss, 0, sizeof ss);
    socklen_t alen;
    if (family == AF_INET) {
        struct sockaddr_in *a = (void *)&ss;
        a->sin_family = AF_INET;
        a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        alen = sizeof *a;
    } else {
        struct sockaddr_in6 *a = (void *)&ss;
        a->sin6_family = AF_INET6;
        a->sin6_addr = in6addr_loopback;
        alen = sizeof *a;
    }
    int s = socket(family, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (s < 0 && family == AF_INET6) {
        printf("%s: skipped (no IPv6: %s)\n", tag, ename(errno));
        return;
    }
    CHECK(s >= 0, "%s socket", tag);
    int one = 1;
    CHECK(setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one) == 0, "SO_REUSEADDR");
    if (bind(s, (void *)&ss, alen) < 0) {
        if (family == AF_INET6 && (errno == EADDRNOTAVAIL || errno == EAFNOSUPPORT)) {
            printf("%s: skipped (no ::1: %s)\n", tag, ename(errno));
            close(s);
            return;
        }
        CHECK(0, "%s bind", tag);
    }
    socklen_t l = sizeof ss;
    CHECK(getsockname(s, (void *)&ss, &l) == 0 && l == alen, "getsockname");
    int port = family == AF_INET ? ntohs(((struct sockaddr_in *)&ss)->sin_port)
                                 : ntohs(((struct sockaddr_in6 *)&ss)->sin6_port);
    printf("%s: bound to port 0, getsockname gave a port: %s, len %d\n", tag, port ? "ok" : "none", (int)l);
    printf("%s: FD_CLOEXEC from SOCK_CLOEXEC: %d\n", tag, fcntl(s, F_GETFD) & FD_CLOEXEC);
    CHECK(listen(s, 4) == 0, "listen");

    pid_t kids[2];
    for (int k = 0; k < 2; k++) {
        fflush(stdout);
        kids[k] = fork();
        if (kids[k] == 0) {
            close(s);
            _exit(tcp_client((void *)&ss, alen, family));
        }
        struct sockaddr_storage peer;
        socklen_t pl = sizeof peer;
        memset(&peer, 0, sizeof peer);
        int c = k == 0 ? accept(s, (void *)&peer, &pl) : accept4(s, (void *)&peer, &pl, SOCK_CLOEXEC);
        CHECK(c >= 0, "accept");
        char host[64] = "?";
        if (family == AF_INET)
            inet_ntop(AF_INET, &((struct sockaddr_in *)&peer)->sin_addr, host, sizeof host);
        else
            inet_ntop(AF_INET6, &((struct sockaddr_in6 *)&peer)->sin6_addr, host, sizeof host);
        printf("%s: %s: peer %s, addrlen %d, family %d, cloexec %d\n", tag, k ? "accept4" : "accept", host,
               (int)pl, peer.ss_family, fcntl(c, F_GETFD) & FD_CLOEXEC);
        struct sockaddr_storage gp;
        socklen_t gl = sizeof gp;
        CHECK(getpeername(c, (void *)&gp, &gl) == 0 && gl == pl && !memcmp(&gp, &peer, pl), "getpeername");
        char buf[256];
        long total = 0;
        ssize_t n;
        while ((n = recv(c, buf, sizeof buf, 0)) > 0) {
            CHECK(write_all(c, buf, (size_t)n) == 0, "echo");
            total += n;
        }
        CHECK(n == 0, "recv EOF");
        close(c);
        printf("%s: echoed %ld bytes, client exit %d\n", tag, total, wait_child(kids[k]));
    }
    /* nonblocking accept with nothing pending */
    int fl = fcntl(s, F_GETFL);
    fcntl(s, F_SETFL, fl | O_NONBLOCK);
    printf("%s: nonblocking accept: %s\n", tag, res(accept(s, NULL, NULL)));
    close(s);
}

/* ------------------------------------------------------------------ UDP */
static int udp_socket(struct sockaddr_in *a)
{
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    memset(a, 0, sizeof *a);
    a->sin_family = AF_INET;
    a->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t l = sizeof *a;
    if (bind(s, (void *)a, sizeof *a) < 0 || getsockname(s, (void *)a, &l) < 0)
        return -1;
    return s;
}

static void udp_test(void)
{
    struct sockaddr_in a, b, from;
    int sa = udp_socket(&a), sb = udp_socket(&b);
    CHECK(sa >= 0 && sb >= 0, "udp sockets");
    printf("udp: sendto: %ld\n", (long)sendto(sa, "datagram one", 12, 0, (void *)&b, sizeof b));
    char buf[64];
    socklen_t fl = sizeof from;
    ssize_t n = recvfrom(sb, buf, sizeof buf, 0, (void *)&from, &fl);
    printf("udp: recvfrom: %ld [%.*s], from the sender: %d, fromlen %d\n", (long)n, (int)(n > 0 ? n : 0), buf,
           from.sin_port == a.sin_port && from.sin_addr.s_addr == a.sin_addr.s_addr, (int)fl);
    /* a short buffer: the rest of the datagram is dropped; MSG_TRUNC gives the real length */
    sendto(sa, "0123456789", 10, 0, (void *)&b, sizeof b);
    sendto(sa, "abcdefghij", 10, 0, (void *)&b, sizeof b);
    n = recvfrom(sb, buf, 4, 0, NULL, NULL);
    printf("udp: short recv: %ld [%.4s]\n", (long)n, buf);
    n = recvfrom(sb, buf, 4, MSG_TRUNC, NULL, NULL);
    printf("udp: short recv with MSG_TRUNC: %ld [%.4s]\n", (long)n, buf);
    /* fromlen smaller than the address: cut, the full length returned */
    sendto(sa, "x", 1, 0, (void *)&b, sizeof b);
    fl = 4;
    memset(&from, 0, sizeof from);
    n = recvfrom(sb, buf, sizeof buf, 0, (void *)&from, &fl);
    printf("udp: fromlen 4: %ld, fromlen now %d, family %d, port copied %d\n", (long)n, (int)fl, from.sin_family,
           from.sin_port != 0);
    /* connected UDP: send/recv; a datagram to a closed port gives ECONNREFUSED later */
    CHECK(connect(sa, (void *)&b, sizeof b) == 0, "udp connect");
    printf("udp: send on connected: %ld\n", (long)send(sa, "hi", 2, 0));
    n = recv(sb, buf, sizeof buf, MSG_DONTWAIT);
    printf("udp: recv: %ld\n", (long)n);
    printf("udp: recv on empty, MSG_DONTWAIT: %s\n", res(recv(sb, buf, sizeof buf, MSG_DONTWAIT)));
    close(sa);
    close(sb);
}

/* ------------------------------------------------------------------ AF_UNIX */
static int send_fds(int s, const int *fds, int n, const char *byte)
{
    char ctl[CMSG_SPACE(sizeof(int) * 8)];
    memset(ctl, 0, sizeof ctl);
    struct iovec v = {(void *)byte, 1};
    struct msghdr m = {0};
    m.msg_iov = &v;
    m.msg_iovlen = 1;
    m.msg_control = ctl;
    m.msg_controllen = CMSG_SPACE(sizeof(int) * n);
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_RIGHTS;
    c->cmsg_len = CMSG_LEN(sizeof(int) * n);
    memcpy(CMSG_DATA(c), fds, sizeof(int) * n);
    return (int)sendmsg(s, &m, 0);
}

static void unix_test(void)
{
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM, 0, sv) == 0, "socketpair");
    char path[512];
    snprintf(path, sizeof path, "%s/passed.txt", tmpdir);
    int f = open(path, O_RDWR | O_CREAT | O_TRUNC, 0600);
    CHECK(f >= 0, "open %s", path);
    write_all(f, "contents of the passed file\n", 28);
    printf("unix: sendmsg SCM_RIGHTS: %d\n", send_fds(sv[0], &f, 1, "F"));
    close(f);
    char ctl[CMSG_SPACE(sizeof(int) * 4)], b;
    struct iovec v = {&b, 1};
    struct msghdr m = {0};
    m.msg_iov = &v;
    m.msg_iovlen = 1;
    m.msg_control = ctl;
    m.msg_controllen = sizeof ctl;
    ssize_t n = recvmsg(sv[1], &m, MSG_CMSG_CLOEXEC);
    struct cmsghdr *c = CMSG_FIRSTHDR(&m);
    printf("unix: recvmsg: %ld byte %c, controllen %d, flags %#x, cmsg level %d type %d len %d\n", (long)n, b,
           (int)m.msg_controllen, m.msg_flags, c ? c->cmsg_level : -1, c ? c->cmsg_type : -1,
           c ? (int)c->cmsg_len : -1);
    if (c && c->cmsg_type == SCM_RIGHTS) {
        int got;
        memcpy(&got, CMSG_DATA(c), sizeof got);
        char text[64] = {0};
        lseek(got, 0, SEEK_SET);
        ssize_t k = read(got, text, sizeof text - 1);
        printf("unix: read through the received fd: %ld [%.*s], cloexec %d\n", (long)k,
               (int)(k > 0 ? k - 1 : 0), text, fcntl(got, F_GETFD) & FD_CLOEXEC);
        close(got);
    }
    /* no control room at all */
    int zero = 0;
    send_fds(sv[0], &zero, 1, "U");
    m.msg_control = NULL;
    m.msg_controllen = 0;
    n = recvmsg(sv[1], &m, 0);
    printf("unix: fd with no control room: %ld, MSG_CTRUNC %d\n", (long)n, !!(m.msg_flags & MSG_CTRUNC));
    /* a bad fd in SCM_RIGHTS */
    int bad = 987;
    printf("unix: SCM_RIGHTS with a closed fd: %s\n", res(send_fds(sv[0], &bad, 1, "B")));

    /* SCM_CREDENTIALS: the receiver asks for them; the sender states its own */
    int one = 1;
    CHECK(setsockopt(sv[1], SOL_SOCKET, SO_PASSCRED, &one, sizeof one) == 0, "SO_PASSCRED");
    struct ucred cr = {getpid(), getuid(), getgid()};
    char cctl[CMSG_SPACE(sizeof cr)];
    memset(cctl, 0, sizeof cctl);
    v.iov_base = "C";
    m.msg_control = cctl;
    m.msg_controllen = sizeof cctl;
    c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_CREDENTIALS;
    c->cmsg_len = CMSG_LEN(sizeof cr);
    memcpy(CMSG_DATA(c), &cr, sizeof cr);
    printf("unix: sendmsg SCM_CREDENTIALS: %ld\n", (long)sendmsg(sv[0], &m, 0));
    v.iov_base = &b;
    memset(cctl, 0, sizeof cctl);
    m.msg_controllen = sizeof cctl;
    n = recvmsg(sv[1], &m, 0);
    c = CMSG_FIRSTHDR(&m);
    struct ucred rc = {0};
    if (c)
        memcpy(&rc, CMSG_DATA(c), sizeof rc);
    printf("unix: SCM_CREDENTIALS received: %ld, type %d, pid is ours %d, uid %d, gid %d\n", (long)n,
           c ? c->cmsg_type : -1, rc.pid == getpid(), rc.uid == getuid(), rc.gid == getgid());
    /* a lie about the pid: EPERM for an unprivileged sender */
    cr.pid = 1;
    m.msg_control = cctl;
    m.msg_controllen = sizeof cctl;
    c = CMSG_FIRSTHDR(&m);
    c->cmsg_level = SOL_SOCKET;
    c->cmsg_type = SCM_CREDENTIALS;
    c->cmsg_len = CMSG_LEN(sizeof cr);
    memcpy(CMSG_DATA(c), &cr, sizeof cr);
    v.iov_base = "L";
    if (getuid() != 0)
        printf("unix: SCM_CREDENTIALS with pid 1: %s\n", res(sendmsg(sv[0], &m, 0)));
    struct ucred pc;
    socklen_t pl = sizeof pc;
    CHECK(getsockopt(sv[0], SOL_SOCKET, SO_PEERCRED, &pc, &pl) == 0, "SO_PEERCRED");
    printf("unix: SO_PEERCRED: len %d, pid is ours %d, uid %d\n", (int)pl, pc.pid == getpid(), pc.uid == getuid());
    close(sv[0]);
    close(sv[1]);

    /* a named stream socket in the temp dir */
    struct sockaddr_un un = {0};
    un.sun_family = AF_UNIX;
    snprintf(un.sun_path, sizeof un.sun_path, "%s/sock", tmpdir);
    if (strlen(un.sun_path) + 1 >= sizeof un.sun_path) {
        printf("unix: named: temp dir path too long\n");
        return;
    }
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    socklen_t ul = offsetof(struct sockaddr_un, sun_path) + strlen(un.sun_path) + 1;
    CHECK(bind(s, (void *)&un, ul) == 0, "bind unix");
    struct stat st;
    printf("unix: named: bound, a socket file: %d\n", stat(un.sun_path, &st) == 0 && S_ISSOCK(st.st_mode));
    printf("unix: named: bind again: %s\n", res(bind(socket(AF_UNIX, SOCK_STREAM, 0), (void *)&un, ul)));
    CHECK(listen(s, 1) == 0, "listen unix");
    fflush(stdout);
    pid_t kid = fork();
    if (kid == 0) {
        int c2 = socket(AF_UNIX, SOCK_STREAM, 0);
        if (connect(c2, (void *)&un, ul) < 0)
            _exit(10);
        _exit(write(c2, "via path", 8) == 8 ? 0 : 11);
    }
    int a = accept(s, NULL, NULL);
    char buf[32] = {0};
    n = read(a, buf, sizeof buf);
    struct sockaddr_un got = {0};
    socklen_t gl = sizeof got;
    getsockname(a, (void *)&got, &gl);
    printf("unix: named: read %ld [%.8s], getsockname is the path %d, its length %d, child %d\n", (long)n, buf,
           !strcmp(got.sun_path, un.sun_path), gl == ul, wait_child(kid));
    close(a);
    close(s);
    unlink(un.sun_path);
    printf("unix: connect to the removed path: %s\n",
           res(connect(socket(AF_UNIX, SOCK_STREAM, 0), (void *)&un, ul)));

    /* an abstract name: starts with a NUL, no file */
    struct sockaddr_un ab = {0};
    ab.sun_family = AF_UNIX;
    int an = snprintf(ab.sun_path + 1, sizeof ab.sun_path - 1, "pydbt-sockets-%d", (int)getpid());
    socklen_t al = offsetof(struct sockaddr_un, sun_path) + 1 + an;
    int d1 = socket(AF_UNIX, SOCK_DGRAM, 0), d2 = socket(AF_UNIX, SOCK_DGRAM, 0);
    CHECK(bind(d1, (void *)&ab, al) == 0, "bind abstract");
    printf("unix: abstract: sendto: %ld\n", (long)sendto(d2, "abs", 3, 0, (void *)&ab, al));
    gl = sizeof got;
    memset(&got, 0, sizeof got);
    getsockname(d1, (void *)&got, &gl);
    n = recv(d1, buf, sizeof buf, 0);
    /* the name holds the pid, whose digits differ between runs: print the lengths' equality, not them */
    printf("unix: abstract: recv %ld, getsockname len == bind len %d, same name %d\n", (long)n, gl == al,
           !memcmp(&got, &ab, al));
    close(d1);
    close(d2);
}

/* ------------------------------------------------------------------ options */
static int geti(int s, int level, int opt)
{
    int v = -12345;
    socklen_t l = sizeof v;
    if (getsockopt(s, level, opt, &v, &l) < 0)
        return -errno * 1000;
    return l == sizeof v ? v : -999;
}

static void seti(int s, int level, int opt, int v, const char *name)
{
    int r = setsockopt(s, level, opt, &v, sizeof v);
    if (r < 0)
        printf("opts: set %s: %s\n", name, ename(errno));
}

static double now(void)
{
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec + t.tv_nsec / 1e9;
}

static void opts_test(void)
{
    int s = socket(AF_INET, SOCK_STREAM, 0);
    printf("opts: SO_TYPE %d SO_DOMAIN %d SO_PROTOCOL %d SO_ERROR %d SO_ACCEPTCONN %d\n",
           geti(s, SOL_SOCKET, SO_TYPE), geti(s, SOL_SOCKET, SO_DOMAIN), geti(s, SOL_SOCKET, SO_PROTOCOL),
           geti(s, SOL_SOCKET, SO_ERROR), geti(s, SOL_SOCKET, SO_ACCEPTCONN));
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    bind(s, (void *)&a, sizeof a);
    listen(s, 1);
    printf("opts: SO_ACCEPTCONN after listen %d\n", geti(s, SOL_SOCKET, SO_ACCEPTCONN));
    static const struct {
        int level, opt, val;
        const char *name;
    } ints[] = {
        {SOL_SOCKET, SO_REUSEADDR, 1, "SO_REUSEADDR"}, {SOL_SOCKET, SO_REUSEPORT, 1, "SO_REUSEPORT"},
        {SOL_SOCKET, SO_KEEPALIVE, 1, "SO_KEEPALIVE"}, {SOL_SOCKET, SO_BROADCAST, 1, "SO_BROADCAST"},
        {SOL_SOCKET, SO_PASSCRED, 1, "SO_PASSCRED"},   {SOL_SOCKET, SO_RCVBUF, 65536, "SO_RCVBUF"},
        {SOL_SOCKET, SO_SNDBUF, 32768, "SO_SNDBUF"},   {IPPROTO_TCP, TCP_NODELAY, 1, "TCP_NODELAY"},
        {IPPROTO_TCP, TCP_KEEPIDLE, 77, "TCP_KEEPIDLE"}, {IPPROTO_TCP, TCP_KEEPINTVL, 11, "TCP_KEEPINTVL"},
        {IPPROTO_TCP, TCP_KEEPCNT, 5, "TCP_KEEPCNT"},  {IPPROTO_TCP, TCP_CORK, 1, "TCP_CORK"},
        {IPPROTO_IP, IP_TTL, 33, "IP_TTL"},            {IPPROTO_IP, IP_TOS, 0x10, "IP_TOS"},
    };
    for (unsigned i = 0; i < sizeof ints / sizeof ints[0]; i++) {
        int before = geti(s, ints[i].level, ints[i].opt);
        seti(s, ints[i].level, ints[i].opt, ints[i].val, ints[i].name);
        printf("opts: %s %d -> %d\n", ints[i].name, before, geti(s, ints[i].level, ints[i].opt));
    }
    struct linger lg = {1, 7}, lg2 = {0, 0};
    socklen_t l = sizeof lg2;
    setsockopt(s, SOL_SOCKET, SO_LINGER, &lg, sizeof lg);
    getsockopt(s, SOL_SOCKET, SO_LINGER, &lg2, &l);
    printf("opts: SO_LINGER {%d,%d} len %d\n", lg2.l_onoff, lg2.l_linger, (int)l);
    l = 4;
    memset(&lg2, 0, sizeof lg2);
    getsockopt(s, SOL_SOCKET, SO_LINGER, &lg2, &l);
    printf("opts: SO_LINGER with optlen 4: len %d onoff %d\n", (int)l, lg2.l_onoff);
    int v = 1;
    printf("opts: unknown SOL_SOCKET option 9999: set %s", res(setsockopt(s, SOL_SOCKET, 9999, &v, sizeof v)));
    l = sizeof v;
    printf(", get %s\n", res(getsockopt(s, SOL_SOCKET, 9999, &v, &l)));
    printf("opts: unknown level 9999: %s\n", res(setsockopt(s, 9999, 1, &v, sizeof v)));
    printf("opts: SO_REUSEADDR optlen 2: %s\n", res(setsockopt(s, SOL_SOCKET, SO_REUSEADDR, &v, 2)));
    l = (socklen_t)-1;
    printf("opts: getsockopt optlen -1: %s\n", res(getsockopt(s, SOL_SOCKET, SO_TYPE, &v, &l)));
    printf("opts: getsockopt optval NULL: %s\n", res(getsockopt(s, SOL_SOCKET, SO_TYPE, NULL, &(socklen_t){4})));
    close(s);

    int s6 = socket(AF_INET6, SOCK_DGRAM, 0);
    if (s6 >= 0) {
        int before = geti(s6, IPPROTO_IPV6, IPV6_V6ONLY);
        seti(s6, IPPROTO_IPV6, IPV6_V6ONLY, 1, "IPV6_V6ONLY");
        printf("opts: IPV6_V6ONLY %d -> %d\n", before, geti(s6, IPPROTO_IPV6, IPV6_V6ONLY));
        close(s6);
    }
    int u = socket(AF_INET, SOCK_DGRAM, 0);
    seti(u, IPPROTO_IP, IP_MULTICAST_TTL, 3, "IP_MULTICAST_TTL");
    seti(u, IPPROTO_IP, IP_MULTICAST_LOOP, 0, "IP_MULTICAST_LOOP");
    printf("opts: IP_MULTICAST_TTL %d IP_MULTICAST_LOOP %d\n", geti(u, IPPROTO_IP, IP_MULTICAST_TTL),
           geti(u, IPPROTO_IP, IP_MULTICAST_LOOP));
    /* SO_RCVTIMEO: a guest timeval; recv times out with EAGAIN */
    struct timeval tv = {0, 200000}, tv2 = {9, 9};
    CHECK(setsockopt(u, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv) == 0, "SO_RCVTIMEO");
    l = sizeof tv2;
    getsockopt(u, SOL_SOCKET, SO_RCVTIMEO, &tv2, &l);
    printf("opts: SO_RCVTIMEO {%ld,%ld} len %d\n", (long)tv2.tv_sec, (long)tv2.tv_usec, (int)l);
    printf("opts: SO_RCVTIMEO short optlen: %s\n", res(setsockopt(u, SOL_SOCKET, SO_RCVTIMEO, &tv, 8)));
    struct timeval badtv = {0, 2000000};
    printf("opts: SO_RCVTIMEO usec 2000000: %s\n", res(setsockopt(u, SOL_SOCKET, SO_RCVTIMEO, &badtv, sizeof badtv)));
    a.sin_port = 0;
    bind(u, (void *)&a, sizeof a);
    char buf[8];
    double t0 = now();
    ssize_t n = recv(u, buf, sizeof buf, 0);
    double dt = now() - t0;
    printf("opts: recv with SO_RCVTIMEO 0.2 s: %s, waited >= 0.15 s: %d\n", res(n), dt >= 0.15);
    tv.tv_sec = 5;
    tv.tv_usec = 0;
    setsockopt(u, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
    l = sizeof tv2;
    getsockopt(u, SOL_SOCKET, SO_SNDTIMEO, &tv2, &l);
    printf("opts: SO_SNDTIMEO {%ld,%ld}\n", (long)tv2.tv_sec, (long)tv2.tv_usec);
    close(u);
}

/* ------------------------------------------------------------------ recvmsg flags, gather/scatter */
static void msg_test(void)
{
    struct sockaddr_in a, b;
    int sa = udp_socket(&a), sb = udp_socket(&b);
    struct iovec out[3] = {{"gath", 4}, {"ered ", 5}, {"datagram", 8}};
    struct msghdr m = {0};
    m.msg_name = &b;
    m.msg_namelen = sizeof b;
    m.msg_iov = out;
    m.msg_iovlen = 3;
    printf("msg: sendmsg gather: %ld\n", (long)sendmsg(sa, &m, 0));
    char p1[6] = {0}, p2[32] = {0};
    struct iovec in[2] = {{p1, 5}, {p2, sizeof p2}};
    struct sockaddr_in from;
    memset(&m, 0, sizeof m);
    m.msg_name = &from;
    m.msg_namelen = sizeof from;
    m.msg_iov = in;
    m.msg_iovlen = 2;
    ssize_t n = recvmsg(sb, &m, MSG_PEEK);
    printf("msg: MSG_PEEK: %ld [%s|%s], namelen %d, from the sender %d\n", (long)n, p1, p2, (int)m.msg_namelen,
           from.sin_port == a.sin_port);
    memset(p1, 0, sizeof p1);
    memset(p2, 0, sizeof p2);
    n = recvmsg(sb, &m, 0);
    printf("msg: recvmsg scatter: %ld [%s|%s], flags %#x\n", (long)n, p1, p2, m.msg_flags);
    /* a datagram bigger than the buffers */
    sendto(sa, "a longer datagram than fits", 27, 0, (void *)&b, sizeof b);
    in[0].iov_len = 3;
    in[1].iov_len = 4;
    memset(p1, 0, sizeof p1);
    memset(p2, 0, sizeof p2);
    m.msg_namelen = sizeof from;
    n = recvmsg(sb, &m, 0);
    printf("msg: truncated: %ld [%s|%s], MSG_TRUNC %d\n", (long)n, p1, p2, !!(m.msg_flags & MSG_TRUNC));
    sendto(sa, "again too long for it", 21, 0, (void *)&b, sizeof b);
    n = recvmsg(sb, &m, MSG_TRUNC);
    printf("msg: truncated, MSG_TRUNC asked: %ld, MSG_TRUNC %d\n", (long)n, !!(m.msg_flags & MSG_TRUNC));
    /* errors */
    m.msg_iovlen = 1025;
    printf("msg: iovlen 1025: %s\n", res(recvmsg(sb, &m, MSG_DONTWAIT)));
    m.msg_iovlen = 1;
    m.msg_namelen = (socklen_t)-1;
    printf("msg: namelen -1: %s\n", res(sendmsg(sa, &m, 0)));
    printf("msg: msghdr NULL: %s\n", res(recvmsg(sb, NULL, MSG_DONTWAIT)));
    close(sa);
    close(sb);
}

/* ------------------------------------------------------------------ shutdown, SIGPIPE */
static volatile sig_atomic_t pipes;
static void on_pipe(int sig)
{
    (void)sig;
    pipes++;
}

static void shutdown_test(void)
{
    int sv[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    printf("shutdown: SHUT_WR: %s\n", res(shutdown(sv[0], SHUT_WR)));
    char buf[8];
    printf("shutdown: peer reads EOF: %ld\n", (long)read(sv[1], buf, sizeof buf));
    printf("shutdown: peer still sends: %ld\n", (long)send(sv[1], "back", 4, 0));
    printf("shutdown: and we read it: %ld\n", (long)recv(sv[0], buf, sizeof buf, 0));
    const char *r = res(send(sv[0], "x", 1, MSG_NOSIGNAL));
    printf("shutdown: send after SHUT_WR, MSG_NOSIGNAL: %s, SIGPIPEs %d\n", r, (int)pipes);
    signal(SIGPIPE, on_pipe);
    r = res(send(sv[0], "x", 1, 0));
    printf("shutdown: send after SHUT_WR: %s, SIGPIPEs %d\n", r, (int)pipes);
    printf("shutdown: how 7: %s\n", res(shutdown(sv[0], 7)));
    close(sv[0]);
    close(sv[1]);
    int s = socket(AF_INET, SOCK_STREAM, 0);
    printf("shutdown: unconnected: %s\n", res(shutdown(s, SHUT_RDWR)));
    close(s);
    /* the peer closed: EPIPE and SIGPIPE (handled), then death by SIGPIPE (default) in a child */
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    close(sv[1]);
    r = res(sendto(sv[0], "x", 1, 0, NULL, 0));
    printf("shutdown: peer closed: sendto %s, SIGPIPEs %d\n", r, (int)pipes);
    struct iovec v = {"y", 1};
    struct msghdr m = {.msg_iov = &v, .msg_iovlen = 1};
    r = res(sendmsg(sv[0], &m, 0));
    printf("shutdown: peer closed: sendmsg %s, SIGPIPEs %d\n", r, (int)pipes);
    signal(SIGPIPE, SIG_DFL);
    fflush(stdout);
    pid_t kid = fork();
    if (kid == 0) {
        send(sv[0], "z", 1, 0);
        _exit(0);
    }
    printf("shutdown: child sending to a closed peer: status %d\n", wait_child(kid));
    close(sv[0]);
}

/* ------------------------------------------------------------------ sendmmsg / recvmmsg */
static void mmsg_test(void)
{
    struct sockaddr_in a, b;
    int sa = udp_socket(&a), sb = udp_socket(&b);
    connect(sa, (void *)&b, sizeof b);
    struct mmsghdr out[3];
    struct iovec ov[3] = {{"one", 3}, {"second", 6}, {"third!!", 7}};
    memset(out, 0, sizeof out);
    for (int i = 0; i < 3; i++) {
        out[i].msg_hdr.msg_iov = &ov[i];
        out[i].msg_hdr.msg_iovlen = 1;
    }
    int r = sendmmsg(sa, out, 3, 0);
    printf("mmsg: sendmmsg %d, msg_len %u %u %u\n", r, out[0].msg_len, out[1].msg_len, out[2].msg_len);
    struct mmsghdr in[4];
    char bufs[4][16];
    struct iovec iv[4];
    struct sockaddr_in froms[4];
    memset(in, 0, sizeof in);
    memset(bufs, 0, sizeof bufs);
    for (int i = 0; i < 4; i++) {
        iv[i].iov_base = bufs[i];
        iv[i].iov_len = sizeof bufs[i];
        in[i].msg_hdr.msg_iov = &iv[i];
        in[i].msg_hdr.msg_iovlen = 1;
        in[i].msg_hdr.msg_name = &froms[i];
        in[i].msg_hdr.msg_namelen = sizeof froms[i];
    }
    struct timespec ts = {5, 0};
    r = recvmmsg(sb, in, 4, MSG_DONTWAIT, &ts);
    printf("mmsg: recvmmsg %d:", r);
    for (int i = 0; i < r; i++)
        printf(" [%s] len %u namelen %d from the sender %d;", bufs[i], in[i].msg_len, (int)in[i].msg_hdr.msg_namelen,
               froms[i].sin_port == a.sin_port);
    printf("\n");
    printf("mmsg: recvmmsg on empty: %s\n", res(recvmmsg(sb, in, 4, MSG_DONTWAIT, NULL)));
    printf("mmsg: sendmmsg vlen 0: %d\n", sendmmsg(sa, out, 0, 0));
    close(sa);
    close(sb);
}

/* ------------------------------------------------------------------ NETLINK_ROUTE */
static void netlink_test(void)
{
    int s = socket(AF_NETLINK, SOCK_RAW | SOCK_CLOEXEC, NETLINK_ROUTE);
    if (s < 0) {
        printf("netlink: socket: %s\n", ename(errno));
        return;
    }
    struct sockaddr_nl sn = {.nl_family = AF_NETLINK};
    CHECK(bind(s, (void *)&sn, sizeof sn) == 0, "netlink bind");
    socklen_t l = sizeof sn;
    getsockname(s, (void *)&sn, &l);
    printf("netlink: bound, len %d, port id set %d\n", (int)l, sn.nl_pid != 0);
    struct {
        struct nlmsghdr h;
        struct rtgenmsg g;
    } req = {{NLMSG_LENGTH(sizeof(struct rtgenmsg)), RTM_GETLINK, NLM_F_REQUEST | NLM_F_DUMP, 1, 0}, {AF_UNSPEC}};
    struct sockaddr_nl kernel = {.nl_family = AF_NETLINK};
    printf("netlink: sendto RTM_GETLINK: %ld\n", (long)sendto(s, &req, req.h.nlmsg_len, 0, (void *)&kernel, sizeof kernel));
    static char buf[65536];
    int lo = 0, done = 0, msgs = 0;
    while (!done) {
        ssize_t n = recv(s, buf, sizeof buf, 0);
        if (n <= 0)
            break;
        for (struct nlmsghdr *h = (void *)buf; NLMSG_OK(h, n); h = NLMSG_NEXT(h, n)) {
            if (h->nlmsg_type == NLMSG_DONE || h->nlmsg_type == NLMSG_ERROR) {
                done = 1;
                break;
            }
            msgs++;
            struct ifinfomsg *ifi = NLMSG_DATA(h);
            int alen = IFLA_PAYLOAD(h);
            for (struct rtattr *a = IFLA_RTA(ifi); RTA_OK(a, alen); a = RTA_NEXT(a, alen))
                if (a->rta_type == IFLA_IFNAME && !strcmp(RTA_DATA(a), "lo"))
                    lo = 1;
        }
    }
    printf("netlink: dump done %d, some links %d, lo found %d\n", done, msgs > 0, lo);
    close(s);
}

/* ------------------------------------------------------------------ errors */
static void errors_test(void)
{
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    int s = socket(AF_INET, SOCK_STREAM, 0);
    socklen_t l = sizeof a;
    bind(s, (void *)&a, sizeof a);
    getsockname(s, (void *)&a, &l);
    listen(s, 1);
    int t = socket(AF_INET, SOCK_STREAM, 0);
    printf("errors: bind to a port in use: %s\n", res(bind(t, (void *)&a, sizeof a)));
    close(t);
    close(s);
    t = socket(AF_INET, SOCK_STREAM, 0);
    printf("errors: connect to a closed port: %s\n", res(connect(t, (void *)&a, sizeof a)));
    close(t);
    int p[2];
    pipe(p);
    printf("errors: getsockname on a pipe: %s\n", res(getsockname(p[0], (void *)&a, &l)));
    printf("errors: send on a pipe: %s\n", res(send(p[1], "x", 1, 0)));
    printf("errors: setsockopt on a pipe: %s\n", res(setsockopt(p[0], SOL_SOCKET, SO_REUSEADDR, &(int){1}, 4)));
    close(p[0]);
    close(p[1]);
    printf("errors: socket(-1): %s\n", res(socket(-1, SOCK_STREAM, 0)));
    printf("errors: socket(AF_MAX+1): %s\n", res(socket(AF_MAX + 1, SOCK_STREAM, 0)));
    printf("errors: socket(AF_INET, SOCK_STREAM, IPPROTO_UDP): %s\n", res(socket(AF_INET, SOCK_STREAM, IPPROTO_UDP)));
    printf("errors: accept on a bad fd: %s\n", res(accept(-5, NULL, NULL)));
    s = socket(AF_INET, SOCK_STREAM, 0);
    printf("errors: accept on an unlistening socket: %s\n", res(accept(s, NULL, NULL)));
    printf("errors: accept4 bad flags: %s\n", res(accept4(s, NULL, NULL, 0x7)));
    printf("errors: bind addrlen 200: %s\n", res(bind(s, (void *)&a, 200)));
    printf("errors: bind addrlen -1: %s\n", res(bind(s, (void *)&a, (socklen_t)-1)));
    printf("errors: bind addrlen 4: %s\n", res(bind(s, (void *)&a, 4)));
    printf("errors: bind bad pointer: %s\n", res(bind(s, (void *)16, sizeof a)));
    printf("errors: getsockname NULL len: %s\n", res(getsockname(s, (void *)&a, NULL)));
    printf("errors: getpeername unconnected: %s\n", res(getpeername(s, (void *)&a, &l)));
    printf("errors: connect AF_UNIX address on inet: %s\n",
           res(connect(s, (void *)&(struct sockaddr_un){AF_UNIX, "/nonexistent"}, sizeof(struct sockaddr_un))));
    printf("errors: socketpair AF_INET: %s\n", res(socketpair(AF_INET, SOCK_STREAM, 0, p)));
    close(s);
}

/* ------------------------------------------------------------------ kernel
 * Cases qemu-riscv64 7.2 gets wrong (it gives all fds without MSG_CTRUNC; it
 * aborts on a short cmsg_len; it waits for ever on an invalid recvmmsg timeout): test_sockets.py compares them with a native
 * build of this file on the host kernel. */
static void kernel_test(void)
{
    int sv[2];
    socketpair(AF_UNIX, SOCK_DGRAM, 0, sv);
    int three[3] = {0, 1, 2}, probe = dup(0);
    close(probe);
    char b;
    struct iovec v = {&b, 1};
    struct msghdr m = {0};
    m.msg_iov = &v;
    m.msg_iovlen = 1;
    struct cmsghdr *c;
    ssize_t n;
    send_fds(sv[0], three, 3, "T");
    char small[CMSG_SPACE(sizeof(int))];
    m.msg_control = small;
    m.msg_controllen = sizeof small;
    n = recvmsg(sv[1], &m, 0);
    c = CMSG_FIRSTHDR(&m);
    int nfds = c ? (int)((c->cmsg_len - CMSG_LEN(0)) / sizeof(int)) : -1;
    printf("kernel: 3 fds, room for %d: %ld, MSG_CTRUNC %d, received %d, controllen %d\n",
           (int)((sizeof small - CMSG_LEN(0)) / sizeof(int)), (long)n, !!(m.msg_flags & MSG_CTRUNC), nfds,
           (int)m.msg_controllen);
    for (int i = 0; c && i < nfds; i++) {
        int fd;
        memcpy(&fd, CMSG_DATA(c) + i * sizeof(int), sizeof fd);
        close(fd);
    }
    int after = dup(0);
    printf("kernel: no fd left behind: %d\n", after == probe);
    close(after);
    /* room for less than a header */
    send_fds(sv[0], three, 1, "H");
    m.msg_control = small;
    m.msg_controllen = 10;
    n = recvmsg(sv[1], &m, 0);
    printf("kernel: controllen 10: %ld, MSG_CTRUNC %d, controllen %d\n", (long)n, !!(m.msg_flags & MSG_CTRUNC),
           (int)m.msg_controllen);
    after = dup(0);
    printf("kernel: no fd left behind: %d\n", after == probe);
    close(after);
    char junk[CMSG_SPACE(4)] = {0};
    m.msg_control = junk;
    m.msg_controllen = sizeof junk;
    ((struct cmsghdr *)junk)->cmsg_len = 4; /* shorter than a header */
    printf("kernel: cmsg_len 4: %s\n", res(sendmsg(sv[0], &m, 0)));
    ((struct cmsghdr *)junk)->cmsg_len = 64; /* past the buffer */
    printf("kernel: cmsg_len past the end: %s\n", res(sendmsg(sv[0], &m, 0)));
    m.msg_controllen = 8; /* no room for a header: no control message at all */
    printf("kernel: controllen 8: %s\n", res(sendmsg(sv[0], &m, 0)));
    struct mmsghdr in[1];
    memset(in, 0, sizeof in);
    struct timespec bad = {0, 1000000000};
    printf("kernel: socket(AF_INET, type 99): %s\n", res(socket(AF_INET, 99, 0)));
    int before = dup(0);
    close(before);
    printf("kernel: socketpair bad pointer: %s\n", res(socketpair(AF_UNIX, SOCK_STREAM, 0, bad_ptr)));
    after = dup(0);
    printf("kernel: after the failed socketpair the lowest free fd is unchanged: %d\n", after == before);
    close(after);
    /* msg_namelen smaller than the address: only that much is copied */
    struct sockaddr_in ua, ub, from;
    int sa = udp_socket(&ua), sb = udp_socket(&ub);
    sendto(sa, "z", 1, 0, (void *)&ub, sizeof ub);
    memset(&m, 0, sizeof m);
    m.msg_iov = &v;
    m.msg_iovlen = 1;
    m.msg_name = &from;
    m.msg_namelen = 2;
    memset(&from, 0, sizeof from);
    n = recvmsg(sb, &m, 0);
    printf("kernel: namelen 2: %ld, namelen now %d, family copied %d, port copied %d\n", (long)n, (int)m.msg_namelen,
           from.sin_family == AF_INET, from.sin_port != 0);
    close(sa);
    close(sb);
    printf("kernel: socket(AF_INET, bad flag bit): %s\n", res(socket(AF_INET, SOCK_STREAM | 0x100000, 0)));
    printf("kernel: recvmmsg timeout with 1e9 ns: %s\n", res(recvmmsg(sv[1], in, 1, 0, &bad)));
    close(sv[0]);
    close(sv[1]);
}

/* ------------------------------------------------------------------ accept-wait (host-driven) */
static volatile sig_atomic_t got_int;
static int accept_wait(const char *mode);
static void on_int(int sig)
{
    (void)sig;
    got_int = 1;
    write(1, "handler\n", 8);
}

/* connect to a named AF_UNIX socket, send MSG, print the reply */
static int unix_connect(const char *path, const char *msg)
{
    struct sockaddr_un un = {0};
    un.sun_family = AF_UNIX;
    snprintf(un.sun_path, sizeof un.sun_path, "%s", path);
    int s = socket(AF_UNIX, SOCK_STREAM, 0);
    if (connect(s, (void *)&un, sizeof un) < 0) {
        printf("connect %s: %s\n", path, ename(errno));
        return 1;
    }
    write_all(s, msg, strlen(msg));
    shutdown(s, SHUT_WR);
    char buf[128] = {0};
    ssize_t n = read(s, buf, sizeof buf - 1);
    printf("reply %ld [%s]\n", (long)n, buf);
    return 0;
}

/* SCM_RIGHTS of every fd from the soft RLIMIT_NOFILE up: closed to the guest
 * (pydbt keeps its own there, out of the guest's reach) */
static int scm_high(void)
{
    struct rlimit rl;
    getrlimit(RLIMIT_NOFILE, &rl);
    int sv[2];
    socketpair(AF_UNIX, SOCK_STREAM, 0, sv);
    int ok = 0;
    for (int fd = (int)rl.rlim_cur; fd < (int)rl.rlim_cur + 16; fd++)
        if (send_fds(sv[0], &fd, 1, "x") >= 0)
            ok++;
        else if (errno != EBADF)
            printf("fd %d: %s\n", fd - (int)rl.rlim_cur, ename(errno));
    printf("scm-high: %d of 16 sent\n", ok);
    return 0;
}

static void *accept_thread(void *arg)
{
    sigset_t set;
    sigemptyset(&set);
    sigaddset(&set, SIGINT);
    pthread_sigmask(SIG_UNBLOCK, &set, NULL);
    return (void *)(long)accept_wait((const char *)arg + 7); /* "thread-" MODE */
}

static int accept_wait(const char *mode)
{
    if (!strncmp(mode, "thread-", 7)) {
        /* the accept runs in a second thread, the only one that takes SIGINT */
        sigset_t set;
        sigemptyset(&set);
        sigaddset(&set, SIGINT);
        pthread_sigmask(SIG_BLOCK, &set, NULL);
        pthread_t t;
        void *ret;
        pthread_create(&t, NULL, accept_thread, (void *)mode);
        pthread_join(t, &ret);
        printf("joined\n");
        return (int)(long)ret;
    }
    int timeo = !strcmp(mode, "timeo-restart");
    if (!strcmp(mode, "handler") || !strcmp(mode, "restart") || timeo) {
        struct sigaction sa = {0};
        sa.sa_handler = on_int;
        sa.sa_flags = strcmp(mode, "handler") ? SA_RESTART : 0;
        sigaction(SIGINT, &sa, NULL);
    }
    int s = socket(AF_INET, SOCK_STREAM, 0);
    struct timeval tv = {8, 0};
    if (timeo) /* a socket with a timeout: EINTR whatever SA_RESTART says (signal(7)) */
        setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t l = sizeof a;
    if (bind(s, (void *)&a, sizeof a) < 0 || listen(s, 1) < 0 || getsockname(s, (void *)&a, &l) < 0)
        return 2;
    printf("port %d\n", ntohs(a.sin_port));
    fflush(stdout);
    int c = accept(s, NULL, NULL);
    printf("accept: %s, handler ran %d\n", res(c), (int)got_int);
    if (c >= 0) {
        char buf[16] = {0};
        ssize_t n = read(c, buf, sizeof buf - 1);
        printf("read %ld [%s]\n", (long)n, buf);
    }
    return 0;
}

int main(int argc, char **argv)
{
    setvbuf(stdout, NULL, _IONBF, 0);
    if (argc >= 3 && !strcmp(argv[1], "accept-wait"))
        return accept_wait(argv[2]);
    if (argc >= 4 && !strcmp(argv[1], "unix-connect"))
        return unix_connect(argv[2], argv[3]);
    if (argc >= 2 && !strcmp(argv[1], "scm-high"))
        return scm_high();
    if (argc >= 2)
        tmpdir = argv[1];
    static const char *all[] = {"tcp", "tcp6", "udp", "unix", "opts", "msg", "shutdown", "mmsg", "netlink", "errors"};
    const char **secs = argc > 2 ? (const char **)argv + 2 : all;
    int nsecs = argc > 2 ? argc - 2 : (int)(sizeof all / sizeof all[0]);
    for (int i = 0; i < nsecs; i++) {
        const char *s = secs[i];
        if (!strcmp(s, "tcp"))
            tcp_test(AF_INET);
        else if (!strcmp(s, "tcp6"))
            tcp_test(AF_INET6);
        else if (!strcmp(s, "udp"))
            udp_test();
        else if (!strcmp(s, "unix"))
            unix_test();
        else if (!strcmp(s, "opts"))
            opts_test();
        else if (!strcmp(s, "msg"))
            msg_test();
        else if (!strcmp(s, "shutdown"))
            shutdown_test();
        else if (!strcmp(s, "mmsg"))
            mmsg_test();
        else if (!strcmp(s, "netlink"))
            netlink_test();
        else if (!strcmp(s, "errors"))
            errors_test();
        else if (!strcmp(s, "kernel"))
            kernel_test();
        else
            printf("unknown section %s\n", s);
    }
    printf("sockets done, failures=%d\n", failures);
    return failures != 0;
}
