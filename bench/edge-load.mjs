// A bounded loopback load client for an edge: N keep-alive connections, T seconds, one URL
// with a Host header; prints requests per second and latency percentiles. It is a Node client,
// so on a small machine it measures its own limit before the edge's.
//   node bench/edge-load.mjs PORT HOST PATH [CONNECTIONS=16] [SECONDS=5]
import http from 'node:http';

const [port, host, path] = [Number(process.argv[2]), process.argv[3], process.argv[4]];
const conns = Number(process.argv[5] ?? 16);
const secs = Math.min(Number(process.argv[6] ?? 5), 60);
if (!port || !host || !path) {
  console.error('usage: node bench/edge-load.mjs PORT HOST PATH [CONNECTIONS] [SECONDS]');
  process.exit(2);
}
const agent = new http.Agent({ keepAlive: true, maxSockets: conns });
const latencies = [];
const statuses = new Map();
const end = Date.now() + secs * 1000;

function once() {
  const t0 = process.hrtime.bigint();
  return new Promise((resolve, reject) => {
    http
      .get({ host: '127.0.0.1', port, path, headers: { host }, agent }, (res) => {
        res.resume();
        res.on('end', () => {
          latencies.push(Number(process.hrtime.bigint() - t0) / 1e6);
          const key = `${res.statusCode} ${res.headers['x-cache-status'] ?? '-'}`;
          statuses.set(key, (statuses.get(key) ?? 0) + 1);
          resolve();
        });
      })
      .on('error', reject);
  });
}

await Promise.all(
  Array.from({ length: conns }, async () => {
    while (Date.now() < end) await once();
  }),
);
agent.destroy();
latencies.sort((a, b) => a - b);
const pct = (p) => latencies[Math.min(latencies.length - 1, Math.floor(latencies.length * p))];
console.log(
  `${latencies.length} requests in ${secs} s: ${(latencies.length / secs).toFixed(0)} req/s, ` +
    `p50 ${pct(0.5).toFixed(2)} ms, p99 ${pct(0.99).toFixed(2)} ms; ` +
    [...statuses].map(([k, v]) => `${k}: ${v}`).join(', '),
);
