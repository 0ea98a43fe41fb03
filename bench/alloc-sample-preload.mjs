// Preload (`node --import`): samples every allocation the process makes between
// ALLOC_SAMPLE_AT_MS (default 8500) and that plus ALLOC_SAMPLE_FOR_MS (7000) after start,
// including objects collected meanwhile (V8's sampling heap profiler with the
// includeObjectsCollectedBy{Major,Minor}GC flags), and writes the profile to
// ALLOC_SAMPLE_DIR/alloc-PID.heapprofile. `bench/alloc-sample.mjs` sums it by function.
// Where garbage comes from, not what is live: for diagnosis only.
import { Session } from 'node:inspector';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.env.ALLOC_SAMPLE_DIR;
if (dir) {
  const session = new Session();
  session.connect();
  const post = (method, params) =>
    new Promise((resolve, reject) =>
      session.post(method, params, (err, r) => (err ? reject(err) : resolve(r))),
    );
  setTimeout(
    async () => {
      await post('HeapProfiler.enable');
      await post('HeapProfiler.startSampling', {
        samplingInterval: 16384,
        includeObjectsCollectedByMajorGC: true,
        includeObjectsCollectedByMinorGC: true,
      });
      setTimeout(
        async () => {
          const { profile } = await post('HeapProfiler.stopSampling');
          writeFileSync(join(dir, `alloc-${process.pid}.heapprofile`), JSON.stringify(profile));
        },
        Number(process.env.ALLOC_SAMPLE_FOR_MS ?? 7000),
      ).unref();
    },
    Number(process.env.ALLOC_SAMPLE_AT_MS ?? 8500),
  ).unref();
}
