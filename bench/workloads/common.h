/* Shared helpers for the benchmark workloads: the size argument, a
 * deterministic generator and the checksum line.  Every workload prints
 * exactly one line, "<name> <size> <checksum>", and nothing else. */
#ifndef BENCH_COMMON_H
#define BENCH_COMMON_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>

static inline long bench_size(int argc, char **argv, long dflt)
{
    if (argc < 2)
        return dflt;
    char *end;
    long v = strtol(argv[1], &end, 0);
    if (*argv[1] == '\0' || *end != '\0' || v < 0) {
        fprintf(stderr, "usage: %s [SIZE]  (SIZE a non-negative integer)\n", argv[0]);
        exit(2);
    }
    return v;
}

/* 64-bit LCG (Knuth's MMIX constants); returns the high 31 bits. */
static inline uint32_t lcg_next(uint64_t *state)
{
    *state = *state * 6364136223846793005ULL + 1442695040888963407ULL;
    return (uint32_t)(*state >> 33);
}

/* FNV-1a style mixing of a 64-bit value into a running hash. */
static inline uint64_t mix64(uint64_t h, uint64_t v)
{
    h ^= v;
    h *= 0x100000001b3ULL;
    h ^= h >> 29;
    return h;
}

static inline void bench_result(const char *name, long size, uint64_t checksum)
{
    printf("%s %ld %016llx\n", name, size, (unsigned long long)checksum);
}

#endif
