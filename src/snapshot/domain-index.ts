// The snapshot's customer domain → plan index, built from the base-name index on first
// use: only the API and logs read it (queries go by base name), so a snapshot does not
// pay a second hash table of every domain up front, nor a swap two of them.
import type { DomainPlan } from '../gslb/plan.js';

export class DomainIndex implements ReadonlyMap<string, DomainPlan> {
  private map: Map<string, DomainPlan> | undefined;

  /** `plans` must hold one plan per domain (base names and domains are both unique). */
  constructor(private readonly plans: ReadonlyMap<string, DomainPlan>) {}

  private index(): Map<string, DomainPlan> {
    if (!this.map) {
      const map = new Map<string, DomainPlan>();
      for (const plan of this.plans.values()) map.set(plan.domain, plan);
      this.map = map;
    }
    return this.map;
  }

  get size(): number {
    return this.plans.size;
  }
  get(domain: string): DomainPlan | undefined {
    return this.index().get(domain);
  }
  has(domain: string): boolean {
    return this.index().has(domain);
  }
  forEach(
    fn: (plan: DomainPlan, domain: string, map: ReadonlyMap<string, DomainPlan>) => void,
    thisArg?: unknown,
  ): void {
    for (const [domain, plan] of this.index()) fn.call(thisArg, plan, domain, this);
  }
  entries(): MapIterator<[string, DomainPlan]> {
    return this.index().entries();
  }
  keys(): MapIterator<string> {
    return this.index().keys();
  }
  values(): MapIterator<DomainPlan> {
    return this.index().values();
  }
  [Symbol.iterator](): MapIterator<[string, DomainPlan]> {
    return this.index().entries();
  }
}
