// Probe schedules as node-cron expressions (six fields: second first). An interval that
// divides a minute or an hour maps onto a plain step expression; any other interval ticks
// every second (or minute) and a filter keeps the ticks whose epoch time is a multiple of
// the interval, so rounds stay evenly spaced and aligned across instances.

export interface ProbeSchedule {
  /** node-cron expression, seconds first. */
  expression: string;
  /** When set, a tick runs only if floor(epoch seconds) is a multiple of this. */
  everySec: number | null;
}

export function scheduleFor(intervalSec: number): ProbeSchedule {
  if (!Number.isInteger(intervalSec) || intervalSec < 1)
    throw new RangeError(
      `probe interval must be a whole number of seconds ≥ 1, not ${intervalSec}`,
    );
  if (intervalSec === 1) return { expression: '* * * * * *', everySec: null };
  if (intervalSec < 60) {
    return 60 % intervalSec === 0
      ? { expression: `*/${intervalSec} * * * * *`, everySec: null }
      : { expression: '* * * * * *', everySec: intervalSec };
  }
  if (intervalSec % 60 === 0) {
    const minutes = intervalSec / 60;
    if (minutes === 60) return { expression: '0 0 * * * *', everySec: null };
    if (60 % minutes === 0)
      return {
        expression: minutes === 1 ? '0 * * * * *' : `0 */${minutes} * * * *`,
        everySec: null,
      };
    return { expression: '0 * * * * *', everySec: intervalSec };
  }
  return { expression: '* * * * * *', everySec: intervalSec };
}

/** Whether a tick at `date` belongs to the schedule. */
export function tickDue(schedule: ProbeSchedule, date: Date): boolean {
  if (schedule.everySec === null) return true;
  return Math.floor(date.getTime() / 1000) % schedule.everySec === 0;
}
