// Counters for the query path. prom-client hashes and validates the label set on every
// inc(), even through a bound child (about a microsecond each, several per query). A tally
// is a plain number per label set, added to the prom-client counter when it is scraped
// (its collect hook), so counting costs one increment and the exposition is unchanged.
import { Counter, type Registry } from 'prom-client';

export interface Tally {
  inc(): void;
}

class PendingTally implements Tally {
  n = 0;
  constructor(readonly labels: Record<string, string>) {}
  inc(): void {
    this.n++;
  }
}

export interface TallyCounter<T extends string> {
  readonly counter: Counter<T>;
  /** The tally of one label set; keep it and call inc() on the hot path. */
  tally(labels: Record<T, string>): Tally;
}

export function tallyCounter<T extends string>(config: {
  name: string;
  help: string;
  labelNames: readonly T[];
  registers: Registry[];
}): TallyCounter<T> {
  const tallies: PendingTally[] = [];
  const counter: Counter<T> = new Counter<T>({
    ...config,
    collect() {
      for (const t of tallies) {
        if (t.n === 0) continue;
        counter.inc(t.labels as Partial<Record<T, string>>, t.n);
        t.n = 0;
      }
    },
  });
  return {
    counter,
    tally(labels) {
      const t = new PendingTally(labels);
      tallies.push(t);
      return t;
    },
  };
}
