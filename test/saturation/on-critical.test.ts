/**
 * The onCritical runner: a real shell command, at most once per cooldown, with the
 * report in its environment, its output and exit logged (a failing or missing
 * command is logged, never thrown).
 */
import { describe, expect, it } from 'vitest';
import { OnCritical } from '../../gateway/saturation/on-critical.js';
import type { SaturationReport } from '../../gateway/saturation/report.js';
import { until } from '../support/until.js';

function memoryLogger() {
  const lines: { level: string; fields: Record<string, unknown>; msg: string }[] = [];
  const log = (level: string) => (fields: object | string, msg?: string) => {
    lines.push(typeof fields === 'string' ? { level, fields: {}, msg: fields } : { level, fields: fields as Record<string, unknown>, msg: msg ?? '' });
  };
  const logger = { fatal: log('fatal'), error: log('error'), warn: log('warn'), info: log('info'), debug: log('debug'), trace: log('trace'), child: () => logger };
  return { logger, lines };
}

const report = { seq: 7, level: 'critical', utilization: 0.97, limiting: 'disk' } as SaturationReport;

describe('onCritical', () => {
  it('runs at most once per cooldown, with the report in the environment', async () => {
    const { logger, lines } = memoryLogger();
    const runner = new OnCritical({ run: 'echo "$PASARELA_SATURATION_LIMITING $PASARELA_SATURATION_UTILIZATION"; echo "$PASARELA_SATURATION" >&2', cooldownS: 60, logger });
    expect(runner.trigger(report, 1_000)).toBe(true);
    expect(runner.trigger(report, 30_000)).toBe(false);
    await until(() => lines.some((line) => line.msg === 'onCritical exited'), 'the exit logged', 10_000);
    expect(lines.filter((line) => line.msg === 'onCritical output').map((line) => [line.fields.stream, line.fields.line])).toEqual(
      expect.arrayContaining([['stdout', 'disk 0.97'], ['stderr', JSON.stringify(report)]]),
    );
    expect(lines.find((line) => line.msg === 'onCritical exited')!.fields).toMatchObject({ code: 0 });
    expect(lines.some((line) => line.msg.includes('cooling down'))).toBe(true);
    expect(runner.trigger(report, 61_001)).toBe(true);
  });

  it('logs a command that fails, and one that does not exist', async () => {
    const { logger, lines } = memoryLogger();
    new OnCritical({ run: 'exit 4', cooldownS: 1, logger }).trigger(report);
    new OnCritical({ run: 'no-such-command-here', cooldownS: 1, logger }).trigger(report);
    await until(() => lines.filter((line) => line.msg === 'onCritical failed').length === 2, 'both failures logged', 10_000);
    expect(lines.filter((line) => line.msg === 'onCritical failed').map((line) => line.fields.code as number).sort((a, b) => a - b)).toEqual([4, 127]);
  });
});
