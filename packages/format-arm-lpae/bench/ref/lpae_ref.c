/*
 * gki-iommu-model: a plain C yardstick for the page-table benchmarks.
 *
 * `pnpm bench` compiles this file with `cc -O2` and runs it in the same minute as the
 * TypeScript benchmarks, so every figure can be quoted as a ratio on the same machine. It does
 * the same page-table work as the benchmark rows in the simplest possible way (no argument
 * checks, no prot translation, no atomic install, no TLB callbacks, a bump allocator), so it is
 * a floor, not Linux: BENCHMARKS.md documents the factor between this program and Linux's own
 * io-pgtable code, and the benchmarks multiply by it to estimate the kernel's time.
 *
 * Workloads (each operation timed over the whole sweep, median of RUNS runs):
 *   lpae4k  48-bit input, 4 KiB granule, 4 levels: 4 KiB pages over 1 GiB (262144 pages)
 *   lpae2m  the same tables, 2 MiB blocks (level-2 leaves) over 64 GiB (32768 blocks)
 *   v7s4k   short-descriptor, 2 levels (4096-entry level 1, 256-entry level 2): 4 KiB pages
 *           over 1 GiB
 * Sequence per run, as the benchmarks: from an empty table, map one leaf per call, translate
 * every leaf, unmap one leaf per call; then from an empty table, map 512 leaves per call,
 * unmap 512 leaves per call.
 *
 * Usage: lpae_ref [runs]   (default 5). Output: one JSON object, ns per leaf of CPU time
 * (LPAE_REF_CLOCK=wall: wall time).
 * This is the project's own code, written for this purpose; it contains no kernel code.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

typedef uint64_t u64;
typedef uint32_t u32;

/* The leaf level is a constant in every caller: inline so that each workload gets a loop
 * specialised for it, as a hand-written mapper for one geometry would be. */
#define HOT static inline __attribute__((always_inline))

/* ---- table memory: a bump arena, reset for every fresh table ---- */
static unsigned char *pool;
static size_t pool_top;
#define POOL_BYTES ((size_t)16 << 20)

static void *zalloc(size_t bytes)
{
	void *p = pool + pool_top;
	pool_top += (bytes + 1023) & ~(size_t)1023;
	if (pool_top > POOL_BYTES) {
		fprintf(stderr, "lpae_ref: arena exhausted\n");
		exit(2);
	}
	memset(p, 0, bytes);
	return p;
}

/* ---- LPAE, 4 KiB granule: levels 0..3 index bits 47:39, 38:30, 29:21, 20:12 ---- */
#define D_VALID 1ull
#define D_TABLE 3ull
#define D_BLOCK 1ull
#define D_PAGE 3ull
#define D_AF (1ull << 10)
#define D_ISH (3ull << 8)
#define D_ADDR 0x0000fffffffff000ull

static u64 *lpae_root;

HOT unsigned lvl_index(u64 va, int level)
{
	return (unsigned)(va >> (12 + 9 * (3 - level))) & 511;
}

/* Table holding the leaf slot of `va` at `leaf_level`; NULL if absent and !grow. */
HOT u64 *lpae_table_for(u64 va, int leaf_level, int grow)
{
	u64 *t = lpae_root;
	for (int level = 0; level < leaf_level; level++) {
		u64 *slot = &t[lvl_index(va, level)];
		if (*slot == 0) {
			if (!grow)
				return NULL;
			u64 *n = zalloc(4096);
			*slot = ((u64)(uintptr_t)n & D_ADDR) | D_TABLE;
		}
		t = (u64 *)(uintptr_t)(*slot & D_ADDR);
	}
	return t;
}

HOT int lpae_map(u64 va, u64 pa, int leaf_level, unsigned n)
{
	u64 *t = lpae_table_for(va, leaf_level, 1);
	unsigned i0 = lvl_index(va, leaf_level);
	u64 step = 1ull << (12 + 9 * (3 - leaf_level));
	u64 type = leaf_level == 3 ? D_PAGE : D_BLOCK;
	for (unsigned i = 0; i < n; i++) {
		if (t[i0 + i])
			return -1;
		t[i0 + i] = ((pa + i * step) & D_ADDR) | D_AF | D_ISH | type;
	}
	return 0;
}

HOT u64 lpae_unmap(u64 va, int leaf_level, unsigned n)
{
	u64 *t = lpae_table_for(va, leaf_level, 0);
	if (!t)
		return 0;
	unsigned i0 = lvl_index(va, leaf_level);
	for (unsigned i = 0; i < n; i++)
		t[i0 + i] = 0;
	return (u64)n << (12 + 9 * (3 - leaf_level));
}

HOT u64 lpae_iova_to_phys(u64 va, int leaf_level)
{
	u64 *t = lpae_table_for(va, leaf_level, 0);
	if (!t)
		return 0;
	u64 d = t[lvl_index(va, leaf_level)];
	u64 off = va & ((1ull << (12 + 9 * (3 - leaf_level))) - 1);
	return d ? ((d & D_ADDR) & ~off) | off : 0;
}

/* ---- v7s: level 1 = 4096 x 32-bit (1 MiB each), level 2 = 256 x 32-bit (4 KiB each) ---- */
static u32 *v7s_l1;

HOT u32 *v7s_l2(u32 va, int grow)
{
	u32 *slot = &v7s_l1[va >> 20];
	if ((*slot & 3) == 0) {
		if (!grow)
			return NULL;
		u32 *n = zalloc(1024);
		/* the arena sits in a 64-bit address space: keep a side index instead of a PA */
		*slot = (u32)(((unsigned char *)n - pool) | 1);
	}
	return (u32 *)(pool + (*slot & ~1023u));
}

static int v7s_map(u32 va, u32 pa, unsigned n)
{
	for (unsigned i = 0; i < n; i++, va += 4096, pa += 4096) {
		u32 *t = v7s_l2(va, 1);
		u32 *e = &t[(va >> 12) & 255];
		if (*e)
			return -1;
		*e = (pa & 0xfffff000u) | 0x2u | (1u << 4) | (1u << 10);
	}
	return 0;
}

static u32 v7s_unmap(u32 va, unsigned n)
{
	for (unsigned i = 0; i < n; i++, va += 4096) {
		u32 *t = v7s_l2(va, 0);
		if (!t)
			return i * 4096;
		t[(va >> 12) & 255] = 0;
	}
	return n * 4096;
}

static u32 v7s_iova_to_phys(u32 va)
{
	u32 *t = v7s_l2(va, 0);
	if (!t)
		return 0;
	u32 d = t[(va >> 12) & 255];
	return d ? (d & 0xfffff000u) | (va & 0xfff) : 0;
}

/* ---- timing: CPU time of this (single-threaded) process, as the benchmarks measure theirs, so
 * that time spent descheduled on a shared host does not count; LPAE_REF_CLOCK=wall for wall
 * time ---- */
static clockid_t clock_id = CLOCK_PROCESS_CPUTIME_ID;

static double now_ns(void)
{
	struct timespec ts;
	clock_gettime(clock_id, &ts);
	return (double)ts.tv_sec * 1e9 + (double)ts.tv_nsec;
}

static volatile u64 sink;

enum { OP_MAP1, OP_MAP512, OP_I2P, OP_UNMAP1, OP_UNMAP512, NOPS };
static const char *const op_name[NOPS] = { "map1", "map512", "iova_to_phys", "unmap1", "unmap512" };

HOT void run_lpae(int leaf_level, unsigned leaves, double out[NOPS])
{
	const u64 va0 = 1ull << 32, pa0 = 1ull << 36;
	const u64 step = 1ull << (12 + 9 * (3 - leaf_level));
	u64 acc = 0;
	double t[7];

	pool_top = 0;
	lpae_root = zalloc(4096);
	t[0] = now_ns();
	for (unsigned i = 0; i < leaves; i++)
		if (lpae_map(va0 + i * step, pa0 + i * step, leaf_level, 1))
			exit(3);
	t[1] = now_ns();
	for (unsigned i = 0; i < leaves; i++)
		acc += lpae_iova_to_phys(va0 + i * step + 0x10, leaf_level);
	t[2] = now_ns();
	for (unsigned i = 0; i < leaves; i++)
		acc += lpae_unmap(va0 + i * step, leaf_level, 1);
	t[3] = now_ns();
	pool_top = 0;
	lpae_root = zalloc(4096);
	t[4] = now_ns();
	for (unsigned i = 0; i < leaves; i += 512)
		if (lpae_map(va0 + i * step, pa0 + i * step, leaf_level, 512))
			exit(3);
	t[5] = now_ns();
	for (unsigned i = 0; i < leaves; i += 512)
		acc += lpae_unmap(va0 + i * step, leaf_level, 512);
	t[6] = now_ns();
	sink += acc;
	out[OP_MAP1] = (t[1] - t[0]) / leaves;
	out[OP_I2P] = (t[2] - t[1]) / leaves;
	out[OP_UNMAP1] = (t[3] - t[2]) / leaves;
	out[OP_MAP512] = (t[5] - t[4]) / leaves;
	out[OP_UNMAP512] = (t[6] - t[5]) / leaves;
}

static void run_v7s(double out[NOPS])
{
	const unsigned pages = 1u << 18;
	const u32 pa0 = 0x80000000u;
	u64 acc = 0;
	double t[7];

	pool_top = 0;
	v7s_l1 = zalloc(16384);
	t[0] = now_ns();
	for (unsigned i = 0; i < pages; i++)
		if (v7s_map(i * 4096u, pa0 + i * 4096u, 1))
			exit(3);
	t[1] = now_ns();
	for (unsigned i = 0; i < pages; i++)
		acc += v7s_iova_to_phys(i * 4096u + 0x10);
	t[2] = now_ns();
	for (unsigned i = 0; i < pages; i++)
		acc += v7s_unmap(i * 4096u, 1);
	t[3] = now_ns();
	pool_top = 0;
	v7s_l1 = zalloc(16384);
	t[4] = now_ns();
	for (unsigned i = 0; i < pages; i += 512)
		if (v7s_map(i * 4096u, pa0 + i * 4096u, 512))
			exit(3);
	t[5] = now_ns();
	for (unsigned i = 0; i < pages; i += 512)
		acc += v7s_unmap(i * 4096u, 512);
	t[6] = now_ns();
	sink += acc;
	out[OP_MAP1] = (t[1] - t[0]) / pages;
	out[OP_I2P] = (t[2] - t[1]) / pages;
	out[OP_UNMAP1] = (t[3] - t[2]) / pages;
	out[OP_MAP512] = (t[5] - t[4]) / pages;
	out[OP_UNMAP512] = (t[6] - t[5]) / pages;
}

static int by_value(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;
	return (x > y) - (x < y);
}

#define MAX_RUNS 101

int main(int argc, char **argv)
{
	int runs = argc > 1 ? atoi(argv[1]) : 5;
	if (runs < 1 || runs > MAX_RUNS) {
		fprintf(stderr, "lpae_ref: runs must be 1..%d\n", MAX_RUNS);
		return 1;
	}
	const char *clk = getenv("LPAE_REF_CLOCK");
	if (clk && strcmp(clk, "wall") == 0)
		clock_id = CLOCK_MONOTONIC;
	pool = aligned_alloc(4096, POOL_BYTES);
	if (!pool)
		return 2;
	static const char *const wl_name[3] = { "lpae4k", "lpae2m", "v7s4k" };
	static double res[3][NOPS][MAX_RUNS];
	for (int r = 0; r < runs; r++) {
		double o[NOPS];
		for (int w = 0; w < 3; w++) {
			if (w == 0)
				run_lpae(3, 1u << 18, o);
			else if (w == 1)
				run_lpae(2, 1u << 15, o);
			else
				run_v7s(o);
			for (int k = 0; k < NOPS; k++)
				res[w][k][r] = o[k];
		}
	}
	printf("{\"runs\":%d", runs);
	for (int w = 0; w < 3; w++) {
		printf(",\"%s\":{", wl_name[w]);
		for (int k = 0; k < NOPS; k++) {
			qsort(res[w][k], runs, sizeof(double), by_value);
			printf("%s\"%s\":%.4f", k ? "," : "", op_name[k], res[w][k][runs / 2]);
		}
		printf("}");
	}
	printf("}\n");
	return sink == 1 ? 4 : 0;
}
