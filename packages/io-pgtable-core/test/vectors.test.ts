import { fileURLToPath } from 'node:url';
import { copyFileSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { EEXIST, EINVAL, ENOENT } from '@gki/kernel';
import {
  IOMMU_NOEXEC,
  IOMMU_READ,
  IOMMU_WRITE,
  IO_PGTABLE_QUIRK_ARM_NS,
  IO_PGTABLE_QUIRK_NO_WARN,
  type IoPgtableCfg,
  type IoPgtableFmt,
  type IoPgtableLeaf,
  type IoPgtableOps,
} from '@gki/io-pgtable-core';
import {
  cfgFromCase,
  formatMismatch,
  gatherModeOf,
  checkVectorManifest,
  parseVectorFile,
  readVectorFile,
  readVectorManifest,
  replayCase,
  type ReplayEnv,
  type VectorCase,
} from '@gki/io-pgtable-core/vectors';

const REPO_VECTORS = fileURLToPath(new URL('../../../vectors/', import.meta.url));
const VECTORS_DIR = process.env.GKI_VECTORS_DIR ?? REPO_VECTORS;

/**
 * A toy 4 KiB-page "format" for exercising the replay engine: a Map from page to (pa, prot),
 * LPAE-like return values (-ENOENT for a hole, -EEXIST over a mapping), add_page per removed page
 * with a real, non-queued gather, and v7s-style register outputs.
 */
function toyEnv(opts: { leakOnFail?: boolean; failAlloc?: boolean } = {}): ReplayEnv & { pages: number } {
  const owners = new WeakMap<IoPgtableOps, { cfg: IoPgtableCfg; cookie: unknown }>();
  const env = {
    pages: 0,
    pagesInUse: () => env.pages,
    alloc(_fmt: IoPgtableFmt, cfg: IoPgtableCfg, cookie: unknown): IoPgtableOps | number {
      env.pages++;
      if (opts.failAlloc || cfg.ias > 32) {
        if (!opts.leakOnFail) env.pages--;
        return -EINVAL;
      }
      cfg.armV7sCfg = { ttbr: 0x4000_0059, tcr: 0, nmrr: 0x40e040e0, prrr: 0xff0a81a8 };
      const map = new Map<number, { pa: number; prot: number }>();
      const ops: IoPgtableOps = {
        mapPages(iova, paddr, pgsize, pgcount, prot, mapped) {
          if (pgsize !== 0x1000 || (prot & (IOMMU_READ | IOMMU_WRITE)) === 0) return -EINVAL;
          for (let i = 0; i < pgcount; i++) {
            const p = iova / 0x1000 + i;
            if (map.has(p)) return -EEXIST;
            map.set(p, { pa: paddr + i * 0x1000, prot });
            mapped.mapped += 0x1000;
          }
          return 0;
        },
        unmapPages(iova, pgsize, pgcount, gather) {
          if (!map.has(iova / 0x1000)) return -ENOENT;
          let n = 0;
          for (let i = 0; i < pgcount && map.delete(iova / 0x1000 + i); i++) {
            if (gather && !gather.queued) cfg.tlb?.tlbAddPage?.(gather, iova + i * pgsize, pgsize, cookie);
            n += pgsize;
          }
          return n;
        },
        iovaToPhys(iova) {
          const v = Number(iova);
          const e = map.get(Math.floor(v / 0x1000));
          return e ? e.pa + (v % 0x1000) : 0;
        },
        walkLeaves(visit: (l: IoPgtableLeaf) => void) {
          for (const p of [...map.keys()].sort((a, b) => a - b)) {
            const e = map.get(p)!;
            const xn = e.prot & IOMMU_NOEXEC ? 1n << 54n : 0n;
            visit({ level: 2, iova: p * 0x1000, size: 0x1000, pte: BigInt(e.pa) | 2n | xn });
          }
        },
      };
      owners.set(ops, { cfg, cookie });
      return ops;
    },
    // like free_io_pgtable_ops: flush everything for the cookie, then free
    free(ops: IoPgtableOps) {
      const o = owners.get(ops);
      o?.cfg.tlb?.tlbFlushAll?.(o.cookie);
      env.pages--;
    },
  };
  return env;
}

const TOY = [
  {
    name: 'toy_basic',
    format: 'ARM_V7S',
    cfg: { ias: 32, oas: 32, pgsize_bitmap: '0x1000', quirks: ['ARM_NS'], coherent_walk: true },
    regs: { pgsize_bitmap: '0x1000', ias: '0x20', oas: '0x20', ttbr: '0x59', tcr: '0x0', nmrr: '0x40e040e0', prrr: '0xff0a81a8' },
    ops: [
      { op: 'map', iova: '0x1000', paddr: '0x80000000', pgsize: '0x1000', pgcount: 2, prot: ['read', 'write', 'noexec'], ret: 0, mapped: '0x2000' },
      { op: 'map', iova: '0x2000', paddr: '0x90000000', pgsize: '0x1000', pgcount: 1, prot: ['read'], ret: -17, mapped: '0x0' },
      { op: 'iova_to_phys', iova: '0x1010', ret: '0x80000010' },
      { op: 'unmap', iova: '0x5000', pgsize: '0x1000', pgcount: 1, ret: '0xfffffffffffffffe' },
      { op: 'unmap', iova: '0x1000', pgsize: '0x1000', pgcount: 1, ret: '0x1000' },
      { op: 'map', iova: '0x8000', paddr: '0x80000000', pgsize: '0x1000', pgcount: 1, prot: [], ret: -22, mapped: '0x0' },
    ],
    leaves: [{ level: 2, iova: '0x2000', size: '0x1000', pte: '0x40000080001002' }],
    tlb: [
      { after_op: 4, fn: 'tlb_add_page', iova: '0x1000', size: '0x1000', granule: '0x1000' },
      { after_op: 6, fn: 'tlb_flush_all' },
    ],
  },
  {
    name: 'toy_unmap_gather_null',
    format: 'ARM_V7S',
    cfg: { ias: 32, oas: 32, pgsize_bitmap: '0x1000', quirks: [], coherent_walk: true },
    regs: { pgsize_bitmap: '0x1000', ias: '0x20', oas: '0x20', ttbr: '0x59', tcr: '0x0', nmrr: '0x40e040e0', prrr: '0xff0a81a8' },
    ops: [
      { op: 'map', iova: '0x3000', paddr: '0x1000', pgsize: '0x1000', pgcount: 1, prot: ['write'], ret: 0, mapped: '0x1000' },
      { op: 'unmap', iova: '0x3000', pgsize: '0x1000', pgcount: 1, ret: '0x1000' },
    ],
    leaves: [],
    tlb: [{ after_op: 2, fn: 'tlb_flush_all' }],
  },
  {
    name: 'toy_rejected',
    format: 'ARM_V7S',
    cfg: { ias: 40, oas: 32, pgsize_bitmap: '0x1000', quirks: [], coherent_walk: true },
    regs: null,
    ops: [],
    leaves: [],
    tlb: [],
  },
];
const TOY_JSONL = TOY.map((c) => JSON.stringify(c)).join('\n') + '\n';

function toyCase(name: string): VectorCase {
  return parseVectorFile(TOY_JSONL).find((c) => c.name === name)!;
}

describe('parsing', () => {
  it('reads every vector file of the folder with the case counts its manifest gives', () => {
    const manifest = readVectorManifest(VECTORS_DIR);
    const files = readdirSync(VECTORS_DIR).filter((f) => f.endsWith('.jsonl')).sort();
    expect(files.length).toBeGreaterThan(0);
    const counts: Record<string, number> = {};
    for (const f of files) counts[f] = readVectorFile(join(VECTORS_DIR, f)).length;
    if (manifest) {
      expect(Object.keys(counts)).toEqual(manifest.files.map((e) => e.file).sort());
      for (const e of manifest.files) expect(counts[e.file], e.file).toBe(e.cases);
      expect(Object.values(counts).reduce((a, b) => a + b, 0)).toBe(manifest.totalCases);
    }
  });

  it("the repository's vector folder matches its manifest, and a changed file is caught", () => {
    expect(checkVectorManifest(REPO_VECTORS)).toEqual([]);
    const tmp = mkdtempSync(join(tmpdir(), 'gki-vectors-'));
    try {
      for (const f of readdirSync(REPO_VECTORS)) copyFileSync(join(REPO_VECTORS, f), join(tmp, f));
      const text = readFileSync(join(tmp, 'blocks.jsonl'), 'utf8').split('\n');
      writeFileSync(join(tmp, 'blocks.jsonl'), text.slice(1).join('\n'));
      const problems = checkVectorManifest(tmp);
      expect(problems.some((p) => p.startsWith('blocks.jsonl: sha256'))).toBe(true);
      expect(problems.some((p) => /^blocks\.jsonl: \d+ cases, manifest says \d+$/.test(p))).toBe(true);
      rmSync(join(tmp, 'unmap.jsonl'));
      expect(checkVectorManifest(tmp)).toContain('unmap.jsonl: in the manifest but missing');
    } finally {
      rmSync(tmp, { recursive: true, force: true });
    }
  });

  it('builds the driver cfg from a case: quirk names to bits, hex to numbers', () => {
    const c = toyCase('toy_basic');
    const cfg = cfgFromCase(c);
    expect(cfg).toEqual({ quirks: IO_PGTABLE_QUIRK_ARM_NS, pgsizeBitmap: 0x1000, ias: 32, oas: 32, coherentWalk: true });
    const big = parseVectorFile(TOY_JSONL.replace('"0x1000","quirks":["ARM_NS"]', '"0x40000000201000","quirks":["ARM_NS","NO_WARN"]'))[0]!;
    expect(cfgFromCase(big).pgsizeBitmap).toBe(2 ** 54 + 0x201000);
    expect(cfgFromCase(big).quirks).toBe(IO_PGTABLE_QUIRK_ARM_NS | IO_PGTABLE_QUIRK_NO_WARN);
    expect(gatherModeOf('unmap_s1_gather_queued')).toBe('queued');
    expect(gatherModeOf('toy_unmap_gather_null')).toBe('null');
    expect(gatherModeOf('unmap_s1_4k')).toBe('real');
  });

  it('rejects malformed lines with the file and line number', () => {
    expect(() => parseVectorFile('\n{"name": "x"', 'f.jsonl')).toThrow(/f\.jsonl:2: bad JSON/);
    const badFmt = TOY_JSONL.split('\n')[0]!.replace('ARM_V7S', 'AMD_IOMMU_V1');
    expect(() => parseVectorFile(badFmt, 'f.jsonl')).toThrow(/f\.jsonl:1 \(toy_basic\): unknown format/);
    const badHex = TOY_JSONL.split('\n')[0]!.replace('"0x80000010"', '12');
    expect(() => parseVectorFile(badHex, 'g')).toThrow(/op 2: field 'ret' must be a hex string/);
    const badOp = TOY_JSONL.split('\n')[0]!.replace('"iova_to_phys"', '"walk"');
    expect(() => parseVectorFile(badOp)).toThrow(/unknown op "walk"/);
  });
});

describe('replayCase', () => {
  it('passes a correct implementation and notes the -ENOENT / (size_t)-ENOENT equivalence', () => {
    const env = toyEnv();
    const r = replayCase(toyCase('toy_basic'), env);
    expect(r.mismatches).toEqual([]);
    expect(r.opsRun).toBe(6);
    expect(r.notes).toEqual([expect.stringContaining('1 unmap return(s) of a negative errno')]);
    expect(env.pages).toBe(0);
  });

  it('passes a NULL gather for _gather_null cases (no add_page expected)', () => {
    expect(replayCase(toyCase('toy_unmap_gather_null'), toyEnv()).mismatches).toEqual([]);
    // the same ops with a real gather produce an add_page the case does not expect
    const real = { ...toyCase('toy_unmap_gather_null'), name: 'toy_unmap' };
    const r = replayCase(real, toyEnv());
    expect(r.mismatches.map((m) => m.op)).toEqual(['tlb', 'tlb']);
    expect(r.mismatches[0]!.got).toBe('tlb_add_page(iova 0x3000, size 0x1000, granule 0x1000) after op 1');
  });

  it('reports each kind of difference with where, expected and got', () => {
    const c = toyCase('toy_basic');
    const bad: VectorCase = JSON.parse(JSON.stringify(c));
    (bad.ops[1] as { ret: number }).ret = -12;
    (bad.ops[2] as { ret: string }).ret = '0x80000011';
    (bad.ops[3] as { ret: string }).ret = '0x0';
    (bad.ops[0] as { mapped: string }).mapped = '0x1000';
    bad.regs!.ttbr = '0x19';
    bad.leaves[0]!.pte = '0x80001002';
    bad.tlb[0]!.after_op = 3;
    const r = replayCase(bad, toyEnv());
    expect(r.mismatches.map(formatMismatch)).toEqual([
      'toy_basic regs: expected ttbr=0x19, got ttbr=0x59',
      'toy_basic op 0: expected mapped 0x1000, got mapped 0x2000',
      'toy_basic op 1: expected map ret -12 (ENOMEM), got map ret -17 (EEXIST)',
      'toy_basic op 2: expected iova_to_phys 0x80000011, got iova_to_phys 0x80000010',
      'toy_basic op 3: expected unmap ret 0x0, got unmap ret -2 (ENOENT)',
      'toy_basic leaves: expected [0] level 2 iova 0x2000 size 0x1000 pte 0x80001002, got level 2 iova 0x2000 size 0x1000 pte 0x40000080001002',
      'toy_basic tlb: expected [0] tlb_add_page(iova 0x1000, size 0x1000, granule 0x1000) after op 3, got tlb_add_page(iova 0x1000, size 0x1000, granule 0x1000) after op 4',
    ]);
  });

  it('runs the independent checker before the table is freed', () => {
    const env = toyEnv();
    const seen: number[] = [];
    const r = replayCase(toyCase('toy_basic'), {
      ...env,
      alloc: env.alloc,
      free: env.free,
      check: (ops, cfg, fmt) => {
        seen.push(ops.iovaToPhys(0x2004));
        return fmt === 'ARM_V7S' && cfg.armV7sCfg ? ['walker disagrees at 0x2000'] : [];
      },
    });
    expect(seen).toEqual([0x80001004]);
    expect(r.mismatches).toEqual([{ case: 'toy_basic', op: 'check', expected: 'agreement', got: 'walker disagrees at 0x2000' }]);
  });

  it('expects alloc to fail for regs null, and catches a leak on that path', () => {
    expect(replayCase(toyCase('toy_rejected'), toyEnv()).mismatches).toEqual([]);
    const leaky = replayCase(toyCase('toy_rejected'), toyEnv({ leakOnFail: true }));
    expect(leaky.mismatches.map((m) => m.op)).toEqual(['leak']);
    // an implementation that accepts the config is a mismatch, and its table is freed
    const env = toyEnv();
    const accepting = { ...toyCase('toy_rejected'), cfg: { ...toyCase('toy_rejected').cfg, ias: 32 } };
    expect(replayCase(accepting, env).mismatches.map((m) => m.op)).toEqual(['alloc']);
    expect(env.pages).toBe(0);
    // and one that refuses a valid config is one too
    expect(replayCase(toyCase('toy_basic'), toyEnv({ failAlloc: true })).mismatches).toEqual([
      { case: 'toy_basic', op: 'alloc', expected: 'ops', got: '-22 (EINVAL)' },
    ]);
  });

  it('stops after untilOp and hands the live table to inspect', () => {
    const env = toyEnv();
    const leaves: number[] = [];
    const r = replayCase(toyCase('toy_basic'), env, {
      untilOp: 0,
      inspect: (ops) => ops.walkLeaves!((l) => leaves.push(l.iova)),
    });
    expect(r.opsRun).toBe(1);
    expect(r.mismatches).toEqual([]);
    expect(leaves).toEqual([0x1000, 0x2000]);
    expect(env.pages).toBe(0);
  });

  it('turns a throwing op into a mismatch and still frees the table', () => {
    const env = toyEnv();
    const throwing: ReplayEnv = {
      ...env,
      alloc: (fmt, cfg, cookie) => {
        const ops = env.alloc(fmt, cfg, cookie) as IoPgtableOps;
        ops.iovaToPhys = () => {
          throw new RangeError('boom');
        };
        return ops;
      },
      free: env.free,
    };
    const r = replayCase(toyCase('toy_basic'), throwing);
    expect(r.mismatches).toEqual([{ case: 'toy_basic', op: 2, expected: 'iova_to_phys', got: 'threw RangeError: boom' }]);
    expect(env.pages).toBe(0);
  });
});
