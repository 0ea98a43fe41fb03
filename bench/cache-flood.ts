// A random-subdomain flood against the answer cache (issue 14, part 4): FLOOD names asked
// once each, interleaved with a hot set of 1,000 names (one hot query in every EVERY,
// uniformly over the set), each miss followed by a set as the query path does. Run
// against the snapshot's AnswerCache (since it is built on AdmissionCache, the row shows
// the wrapper's cost; the figures in bench/README.md were taken when it cleared itself
// when full) and the AdmissionCache
// (admission by use, negative answers apart), at the production size (200,000 entries)
// and at a tenth of it, once with the flood answered NXDOMAIN (the usual case) and once
// positively (a wildcard zone). Reports the hot hit ratio over the whole run and over
// its second half, the hot names resident at the end, entries held at the end, the peak
// heap the cache held (after forced gcs), the CPU time per query with an answer allocated
// per miss, and the CPU time of the cache operations alone (one shared answer object).
// `node --expose-gc --import tsx bench/cache-flood.ts [FLOOD] [EVERY] [--json]`.
import { AnswerCache, type CachedAnswer } from '../src/snapshot/answer-cache.js';
import { AdmissionCache } from '../src/lib/admission-cache.js';

const args = process.argv.slice(2).filter((a) => !a.startsWith('--'));
const FLOOD = Number(args[0] ?? 200_000);
const EVERY = Number(args[1] ?? 20);
const HOT = 1000;
const asJson = process.argv.includes('--json');

const exposedGc = (globalThis as { gc?: () => void }).gc;
if (!exposedGc) throw new Error('run with node --expose-gc');
const gc: () => void = exposedGc;

/** The two caches behind one face: what the query path needs of either. */
interface Cache {
  get(key: number): CachedAnswer | undefined;
  set(key: number, answer: CachedAnswer, negative: boolean): void;
  readonly size: number;
}

const counter = { inc() {} };

/** An answer shaped like the fast path's: a ~40-byte key and a ~100-byte response. */
function answer(key: number, negative: boolean): CachedAnswer {
  const keyBytes = Buffer.alloc(40);
  keyBytes.writeUInt32BE(key >>> 0, 0);
  return {
    key: keyBytes,
    transport: 'udp',
    address: '198.51.100.7',
    questionEnd: 40,
    cookieStart: 0,
    cookieEnd: 0,
    cookie: false,
    counter,
    wire: Buffer.alloc(negative ? 90 : 110),
    truncated: false,
    decisions: [],
    validUntil: Infinity,
    ttlOffsets: [],
    ttlFloor: 0,
  };
}

function mulberry32(seed: number) {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Result {
  cache: string;
  capacity: number;
  flood: 'nxdomain' | 'positive';
  hotHitRatio: number;
  hotHitRatioSecondHalf: number;
  hotResident: number;
  entries: number;
  peakHeapMiB: number;
  nsPerQuery: number;
  cacheNsPerQuery: number;
}

/**
 * The same flood with one shared answer object (no allocation per miss): the CPU time of
 * the cache operations alone, in ns per query.
 */
function cacheCost(negativeFlood: boolean, make: () => Cache): number {
  const cache = make();
  const random = mulberry32(7);
  const shared = answer(0, negativeFlood);
  let queries = 0;
  const ask = (key: number, negative: boolean) => {
    queries++;
    if (!cache.get(key)) cache.set(key, shared, negative);
  };
  const cpu = process.cpuUsage();
  for (let i = 0; i < FLOOD; i++) {
    ask((0x80000000 + i) >>> 0, negativeFlood);
    if (i % EVERY === 0) ask(0x10000000 + Math.floor(random() * HOT), false);
  }
  const used = process.cpuUsage(cpu);
  return Math.round(((used.user + used.system) * 1000) / queries);
}

function run(name: string, capacity: number, negativeFlood: boolean, make: () => Cache): Result {
  gc();
  const heapBefore = process.memoryUsage().heapUsed;
  const cache = make();
  const random = mulberry32(7);
  let hits = 0;
  let asks = 0;
  let lateHits = 0;
  let lateAsks = 0;
  let queries = 0;
  const ask = (key: number, negative: boolean): boolean => {
    queries++;
    if (cache.get(key)) return true;
    cache.set(key, answer(key, negative), negative);
    return false;
  };
  // CPU time of the loop alone (the machine may be shared), and the heap after a forced
  // gc every 20,000 flood names, outside the timed part: its peak is what the cache holds
  // at its fullest (the AnswerCache just before it clears).
  let cpuMicros = 0;
  let peakHeap = 0;
  for (let from = 0; from < FLOOD; from += 20_000) {
    const cpu = process.cpuUsage();
    for (let i = from; i < Math.min(FLOOD, from + 20_000); i++) {
      ask((0x80000000 + i) >>> 0, negativeFlood);
      if (i % EVERY === 0) {
        const hit = ask(0x10000000 + Math.floor(random() * HOT), false);
        asks++;
        if (hit) hits++;
        if (i >= FLOOD / 2) {
          lateAsks++;
          if (hit) lateHits++;
        }
      }
    }
    const used = process.cpuUsage(cpu);
    cpuMicros += used.user + used.system;
    gc();
    peakHeap = Math.max(peakHeap, process.memoryUsage().heapUsed - heapBefore);
  }
  let resident = 0;
  for (let i = 0; i < HOT; i++) {
    const key = 0x10000000 + i;
    if (cache instanceof AdmissionAdapter ? cache.inner.peek(key) : cache.get(key)) resident++;
  }
  return {
    cache: name,
    capacity,
    flood: negativeFlood ? 'nxdomain' : 'positive',
    hotHitRatio: hits / asks,
    hotHitRatioSecondHalf: lateHits / lateAsks,
    hotResident: resident,
    entries: cache.size,
    peakHeapMiB: Math.round((peakHeap / 1048576) * 10) / 10,
    nsPerQuery: Math.round((cpuMicros * 1000) / queries),
    cacheNsPerQuery: cacheCost(negativeFlood, make),
  };
}

class AnswerAdapter implements Cache {
  readonly inner: AnswerCache;
  constructor(capacity: number) {
    this.inner = new AnswerCache(undefined, capacity);
  }
  get(key: number) {
    return this.inner.get(key);
  }
  set(key: number, answer: CachedAnswer) {
    this.inner.set(key, answer);
  }
  get size() {
    return this.inner.size;
  }
}

class AdmissionAdapter implements Cache {
  readonly inner: AdmissionCache<CachedAnswer>;
  constructor(capacity: number) {
    this.inner = new AdmissionCache<CachedAnswer>({ entries: capacity });
  }
  get(key: number) {
    return this.inner.get(key);
  }
  set(key: number, answer: CachedAnswer, negative: boolean) {
    this.inner.set(key, answer, answer.key.length + answer.wire.length, negative);
  }
  get size() {
    return this.inner.size;
  }
}

const results: Result[] = [];
for (const capacity of [200_000, 20_000])
  for (const negative of [true, false]) {
    results.push(run('AnswerCache', capacity, negative, () => new AnswerAdapter(capacity)));
    results.push(run('AdmissionCache', capacity, negative, () => new AdmissionAdapter(capacity)));
  }

if (asJson) console.log(JSON.stringify({ flood: FLOOD, every: EVERY, hot: HOT, results }, null, 2));
else {
  console.log(
    `${FLOOD} flood names, 1 hot query in ${EVERY} over ${HOT} hot names, node ${process.version}`,
  );
  console.table(
    results.map((r) => ({
      cache: r.cache,
      capacity: r.capacity,
      flood: r.flood,
      'hot hit %': (r.hotHitRatio * 100).toFixed(1),
      'hot hit % (2nd half)': (r.hotHitRatioSecondHalf * 100).toFixed(1),
      'hot resident': r.hotResident,
      entries: r.entries,
      'peak heap MiB': r.peakHeapMiB,
      'CPU ns/query': r.nsPerQuery,
      'cache ns/query': r.cacheNsPerQuery,
    })),
  );
}
