// The pure parts of health checking, table-driven: rise/fall hysteresis, quorum over the
// instances' views, probe spec merging and ownership of `active`, and probe schedules.
import { describe, it } from 'node:test';
import assert from 'node:assert/strict';
import { finishConfig } from '../../src/config/load.js';
import type { ProbeSpec } from '../../src/config/schema.js';
import { NodeInput, type HealthView, type NodeProbe } from '../../src/model/domain.js';
import { validate } from '../../src/config/validate.js';
import {
  initialHysteresis,
  stepHysteresis,
  type HealthState,
} from '../../src/health/hysteresis.js';
import { decideQuorum, quorumSize, type Quorum } from '../../src/health/quorum.js';
import {
  effectiveProbe,
  probeAddress,
  probePort,
  probesOwnActive,
} from '../../src/health/probe-spec.js';
import { scheduleFor, tickDue } from '../../src/health/schedule.js';
import { healthInstanceId } from '../../src/health/checker.js';

const LETTER = { unknown: '?', up: 'U', down: 'D' } as const;

/** Probe results as a string (`+` success, `-` failure) → the state after each: ?, U or D. */
function run(from: HealthState, results: string, rise = 2, fall = 3): string {
  let h = initialHysteresis(from);
  const states: string[] = [];
  for (const r of results) {
    h = stepHysteresis(h, r === '+', rise, fall);
    states.push(LETTER[h.state]);
  }
  return states.join('');
}

describe('rise/fall hysteresis', () => {
  const cases: Array<
    [from: HealthState, results: string, rise: number, fall: number, want: string]
  > = [
    ['unknown', '++', 2, 3, '?U'], // up after rise = 2
    ['unknown', '---', 2, 3, '??D'], // down after fall = 3
    ['unknown', '+-+-+-', 2, 3, '??????'], // flapping never settles
    ['up', '--+---', 2, 3, 'UUUUUD'], // a success resets the fall count
    ['up', '-', 2, 1, 'D'], // fall = 1: one failure is enough
    ['down', '+', 2, 3, 'D'], // warm start down: one success is not enough
    ['down', '++', 2, 3, 'DU'],
    ['down', '+-++', 2, 3, 'DDDU'],
    ['up', '+++', 2, 3, 'UUU'], // warm start up stays up: no flapping at restart
    ['up', '--', 2, 3, 'UU'], // nor does it go down before fall failures
    ['down', '---', 2, 3, 'DDD'],
    ['unknown', '+', 1, 1, 'U'],
    ['unknown', '-', 1, 1, 'D'],
  ];
  for (const [from, results, rise, fall, want] of cases) {
    it(`${from} then ${results} (rise ${rise}, fall ${fall}) → ${want}`, () => {
      assert.equal(run(from, results, rise, fall), want);
    });
  }

  it('distinguishes unknown from up, and keeps exactly one streak', () => {
    let h = initialHysteresis();
    assert.deepEqual(h, { state: 'unknown', okStreak: 0, failStreak: 0 });
    h = stepHysteresis(h, true, 2, 3);
    assert.deepEqual(h, { state: 'unknown', okStreak: 1, failStreak: 0 });
    h = stepHysteresis(h, true, 2, 3);
    assert.deepEqual(h, { state: 'up', okStreak: 2, failStreak: 0 });
    h = stepHysteresis(h, false, 2, 3);
    assert.deepEqual(h, { state: 'up', okStreak: 0, failStreak: 1 });
  });
});

const v = (
  instance: string,
  state: HealthState,
  lastCheck = '2024-03-01T00:00:00.000Z',
): HealthView => ({
  instance,
  state,
  okStreak: state === 'up' ? 2 : 0,
  failStreak: state === 'down' ? 3 : 0,
  lastError: state === 'down' ? 'timeout' : null,
  lastCheck,
  latencyMs: 1,
});

describe('quorum', () => {
  it('quorumSize: a majority of the views present, or a fixed count', () => {
    const cases: Array<[Quorum, number, number]> = [
      ['majority', 0, 1],
      ['majority', 1, 1],
      ['majority', 2, 2],
      ['majority', 3, 2],
      ['majority', 4, 3],
      ['majority', 5, 3],
      [2, 1, 2],
      [2, 5, 2],
      [1, 3, 1],
    ];
    for (const [q, n, want] of cases) assert.equal(quorumSize(q, n), want, `${q} of ${n}`);
  });

  const cases: Array<[name: string, views: HealthView[], q: Quorum, want: HealthState]> = [
    ['no views', [], 'majority', 'unknown'],
    ['one instance, down', [v('a', 'down')], 'majority', 'down'],
    ['one instance, up', [v('a', 'up')], 'majority', 'up'],
    ['one instance, unknown', [v('a', 'unknown')], 'majority', 'unknown'],
    ['2 of 3 down', [v('a', 'down'), v('b', 'down'), v('c', 'up')], 'majority', 'down'],
    ['1 of 3 down', [v('a', 'down'), v('b', 'up'), v('c', 'up')], 'majority', 'up'],
    ['1 of 2 down: no majority', [v('a', 'down'), v('b', 'up')], 'majority', 'up'],
    ['2 of 2 down', [v('a', 'down'), v('b', 'down')], 'majority', 'down'],
    [
      '1 down, 2 unknown',
      [v('a', 'down'), v('b', 'unknown'), v('c', 'unknown')],
      'majority',
      'unknown',
    ],
    ['fixed 1: any down view', [v('a', 'down'), v('b', 'up'), v('c', 'up')], 1, 'down'],
    ['fixed 2, one down', [v('a', 'down'), v('b', 'up')], 2, 'up'],
    ['fixed 2, a lone instance cannot take a node down', [v('a', 'down')], 2, 'unknown'],
    [
      'fixed 2, two down of four',
      [v('a', 'down'), v('b', 'down'), v('c', 'up'), v('d', 'up')],
      2,
      'down',
    ],
  ];
  for (const [name, views, q, want] of cases) {
    it(`${name} (quorum ${q}) → ${want}`, () => {
      assert.equal(decideQuorum(views, q).state, want);
    });
  }

  it('counts the views and names the freshest', () => {
    const d = decideQuorum(
      [
        v('a', 'up', '2024-03-01T00:00:01.000Z'),
        v('b', 'down', '2024-03-01T00:00:03.000Z'),
        v('c', 'unknown', '2024-03-01T00:00:02.000Z'),
      ],
      'majority',
    );
    assert.deepEqual(
      {
        up: d.up,
        down: d.down,
        unknown: d.unknown,
        needed: d.needed,
        freshest: d.freshest?.instance,
      },
      { up: 1, down: 1, unknown: 1, needed: 2, freshest: 'b' },
    );
  });
});

describe('probe spec', () => {
  const config = finishConfig({}, 'test config');
  const defaults = config.health.probe;

  it('has the documented defaults', () => {
    assert.deepEqual(defaults, {
      type: 'http',
      port: null,
      path: '/healthz',
      host: null,
      expect: [200],
      body: null,
      timeoutMs: 2000,
      intervalSec: 5,
      rise: 2,
      fall: 3,
      tlsVerify: false,
      method: 'GET',
      headers: {},
      bodyRegex: null,
      json: null,
      certExpiryDays: null,
      certExpiry: 'down',
    });
  });

  const cases: Array<[name: string, override: NodeProbe | undefined, want: Partial<ProbeSpec>]> = [
    ['no override', undefined, {}],
    ['empty override', {}, {}],
    ['type and port', { type: 'tcp', port: 8080 }, { type: 'tcp', port: 8080 }],
    ['expect replaces the list', { expect: [200, 204, 301] }, { expect: [200, 204, 301] }],
    [
      'host and TLS',
      { type: 'https', host: 'edge.example.net', tlsVerify: true },
      { type: 'https', host: 'edge.example.net', tlsVerify: true },
    ],
    ['an explicit null keeps its meaning', { body: null, port: null }, {}],
    [
      'timing',
      { intervalSec: 1, rise: 1, fall: 5, timeoutMs: 300 },
      { intervalSec: 1, rise: 1, fall: 5, timeoutMs: 300 },
    ],
    ['none', { type: 'none' }, { type: 'none' }],
  ];
  for (const [name, override, want] of cases) {
    it(`effectiveProbe: ${name}`, () => {
      assert.deepEqual(effectiveProbe(defaults, override), { ...defaults, ...want });
    });
  }

  it('regression: validating a node body filled the probe defaults into its overrides', () => {
    // The overrides then shadowed every health.probe setting of the config.
    const body = validate(
      NodeInput,
      { id: 'n1', ipv4: '192.0.2.1', probe: { type: 'tcp' } },
      'body',
    );
    assert.deepEqual(body.probe, { type: 'tcp' });
    const none = validate(NodeInput, { id: 'n2', ipv4: '192.0.2.2' }, 'body');
    assert.equal(none.probe, undefined);
  });

  it('effectiveProbe does not share the defaults’ list', () => {
    const spec = effectiveProbe(defaults, undefined);
    spec.expect.push(500);
    assert.deepEqual(defaults.expect, [200]);
  });

  it('probePort: the spec’s, else by type', () => {
    const cases: Array<[Partial<ProbeSpec>, number]> = [
      [{ type: 'http' }, 80],
      [{ type: 'https' }, 443],
      [{ type: 'tcp' }, 80],
      [{ type: 'https', port: 8443 }, 8443],
      [{ type: 'tcp', port: 22 }, 22],
    ];
    for (const [o, want] of cases) assert.equal(probePort({ ...defaults, ...o }), want);
  });

  it('probeAddress: IPv4 first, else IPv6', () => {
    assert.equal(probeAddress({ ipv4: '192.0.2.1', ipv6: '2001:db8::1' }), '192.0.2.1');
    assert.equal(probeAddress({ ipv6: '2001:db8::1' }), '2001:db8::1');
    assert.equal(probeAddress({}), undefined);
  });

  it('probesOwnActive: health on and a probe type other than none', () => {
    const off = finishConfig({ health: { enabled: false } }, 'test config');
    const noneByDefault = finishConfig({ health: { probe: { type: 'none' } } }, 'test config');
    const cases: Array<
      [name: string, c: typeof config, probe: NodeProbe | undefined, want: boolean]
    > = [
      ['defaults', config, undefined, true],
      ['node says none', config, { type: 'none' }, false],
      ['health off', off, undefined, false],
      ['health off, node says tcp', off, { type: 'tcp' }, false],
      ['config says none', noneByDefault, undefined, false],
      ['config says none, node says https', noneByDefault, { type: 'https' }, true],
    ];
    for (const [name, c, probe, want] of cases)
      assert.equal(probesOwnActive(c, probe ? { probe } : {}), want, name);
  });
});

describe('probe schedules', () => {
  const cases: Array<[sec: number, expression: string, everySec: number | null]> = [
    [1, '* * * * * *', null],
    [5, '*/5 * * * * *', null],
    [30, '*/30 * * * * *', null],
    [7, '* * * * * *', 7],
    [45, '* * * * * *', 45],
    [60, '0 * * * * *', null],
    [90, '* * * * * *', 90],
    [300, '0 */5 * * * *', null],
    [420, '0 * * * * *', 420],
    [3600, '0 0 * * * *', null],
  ];
  for (const [sec, expression, everySec] of cases) {
    it(`${sec} s → "${expression}"${everySec ? ` filtered to every ${everySec} s` : ''}`, () => {
      assert.deepEqual(scheduleFor(sec), { expression, everySec });
    });
  }

  it('the filter keeps ticks on multiples of the interval in epoch seconds', () => {
    const s = scheduleFor(7);
    const due = [0, 1, 6, 7, 13, 14, 700].filter((t) => tickDue(s, new Date(t * 1000 + 3)));
    assert.deepEqual(due, [0, 7, 14, 700]);
    assert.equal(tickDue(scheduleFor(5), new Date(1234)), true);
  });

  it('refuses an interval that is not a whole number of seconds', () => {
    assert.throws(() => scheduleFor(0), RangeError);
    assert.throws(() => scheduleFor(1.5), RangeError);
  });
});

describe('instance id', () => {
  it('is health.instanceId, else host name and pid, fit for the config pattern', () => {
    assert.equal(
      healthInstanceId(finishConfig({ health: { instanceId: 'gslb-a' } }, 't')),
      'gslb-a',
    );
    const id = healthInstanceId(finishConfig({}, 't'));
    assert.match(id, /^[A-Za-z0-9_.:-]{1,64}$/);
    assert.ok(id.endsWith(`:${process.pid}`), id);
  });
});
