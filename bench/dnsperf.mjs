// Reading dnsperf 2.x output: the end-of-run statistics block, and the per-query lines
// `-v` prints (`> NOERROR name A 0.000160`: rcode, name, type, latency in seconds; a lost
// query prints `> T name A` with no latency). dnsperf 2.10 has no latency histogram, so
// percentiles come from these lines.

function num(text, re) {
  const m = re.exec(text);
  return m ? Number(m[1]) : undefined;
}

/** The statistics block dnsperf prints when it stops. */
export function parseSummary(text) {
  const codes = {};
  const rc = /Response codes:\s+(.*)/.exec(text);
  if (rc) for (const m of rc[1].matchAll(/([A-Z]+) (\d+) \(/g)) codes[m[1]] = Number(m[2]);
  const lat = /Average Latency \(s\):\s+([\d.]+) \(min ([\d.]+), max ([\d.]+)\)/.exec(text);
  return {
    sent: num(text, /Queries sent:\s+(\d+)/),
    completed: num(text, /Queries completed:\s+(\d+)/),
    lost: num(text, /Queries lost:\s+(\d+)/),
    interrupted: num(text, /Queries interrupted:\s+(\d+)/) ?? 0,
    rcodes: codes,
    runSeconds: num(text, /Run time \(s\):\s+([\d.]+)/),
    qps: num(text, /Queries per second:\s+([\d.]+)/),
    avgLatencyMs: lat ? Number(lat[1]) * 1000 : undefined,
    minLatencyMs: lat ? Number(lat[2]) * 1000 : undefined,
    maxLatencyMs: lat ? Number(lat[3]) * 1000 : undefined,
  };
}

/** Latencies (ms) of the answered queries in `-v` output, sorted ascending. */
export function verboseLatencies(text) {
  const out = [];
  const re = /^> [A-Z]+ \S+ \S+ ([\d.]+)$/gm;
  for (const m of text.matchAll(re)) out.push(Number(m[1]) * 1000);
  return Float64Array.from(out).sort();
}

/** Nearest-rank percentile of an ascending array; q in (0, 1]. */
export function percentile(sorted, q) {
  if (sorted.length === 0) return undefined;
  const i = Math.min(sorted.length - 1, Math.max(0, Math.ceil(q * sorted.length) - 1));
  return sorted[i];
}
