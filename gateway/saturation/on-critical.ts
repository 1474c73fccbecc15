/**
 * `saturation.onCritical`: runs a shell command when the level becomes critical (for
 * example one that starts another instance), at most once per cooldown, with the
 * report in its environment. Its output and its exit are logged; a command that
 * starts something long-running should detach it (`systemctl start`, or
 * `setsid ... >log 2>&1 &`), since the gateway does not wait for it and does not stop it.
 */
import { spawn } from 'node:child_process';
import type { Logger } from '../jstp/logger.js';
import type { SaturationReport } from './report.js';

export interface OnCriticalOptions {
  run: string;
  cooldownS: number;
  logger: Logger;
  /** The folder the command runs in. */
  cwd?: string;
}

/** Output lines logged per run; a chatty command cannot flood the log. */
const MAX_LOGGED_LINES = 40;
const MAX_LINE_LENGTH = 500;

export class OnCritical {
  private lastRunAt = Number.NEGATIVE_INFINITY;
  private runs = 0;

  constructor(private readonly options: OnCriticalOptions) {}

  /** The level became critical: runs the command unless it ran within the cooldown. Returns whether it ran. */
  trigger(report: SaturationReport, now = Date.now()): boolean {
    const { run, cooldownS, logger } = this.options;
    const sinceMs = now - this.lastRunAt;
    if (sinceMs < cooldownS * 1000) {
      logger.info({ command: run, cooldownS, nextInS: Math.ceil((cooldownS * 1000 - sinceMs) / 1000) }, 'saturation critical: onCritical is cooling down');
      return false;
    }
    this.lastRunAt = now;
    this.runs++;
    const startedAt = Date.now();
    const env = {
      ...process.env,
      PASARELA_SATURATION: JSON.stringify(report),
      PASARELA_SATURATION_LEVEL: report.level,
      PASARELA_SATURATION_UTILIZATION: String(report.utilization),
      PASARELA_SATURATION_LIMITING: report.limiting ?? '',
    };
    logger.warn({ command: run, utilization: report.utilization, limiting: report.limiting, run: this.runs }, 'saturation critical: running onCritical');
    let child;
    try {
      child = spawn('/bin/sh', ['-c', run], { cwd: this.options.cwd, env, stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (error) {
      logger.error({ command: run, err: error }, 'onCritical could not start');
      return true;
    }
    let logged = 0;
    let dropped = 0;
    for (const [stream, readable] of [['stdout', child.stdout], ['stderr', child.stderr]] as const) {
      let rest = '';
      readable.setEncoding('utf8');
      readable.on('data', (chunk: string) => {
        const lines = (rest + chunk).split('\n');
        rest = lines.pop()!;
        for (const line of lines) {
          if (logged >= MAX_LOGGED_LINES) dropped++;
          else {
            logged++;
            logger.info({ command: run, stream, line: line.slice(0, MAX_LINE_LENGTH) }, 'onCritical output');
          }
        }
      });
      readable.on('end', () => {
        if (rest !== '' && logged < MAX_LOGGED_LINES) logger.info({ command: run, stream, line: rest.slice(0, MAX_LINE_LENGTH) }, 'onCritical output');
      });
      // A background process that keeps the pipe must not keep the gateway alive.
      (readable as unknown as { unref?: () => void }).unref?.();
    }
    child.on('error', (error) => logger.error({ command: run, err: error }, 'onCritical could not start'));
    child.on('exit', (code, signal) => {
      const fields = { command: run, code, signal, durationMs: Date.now() - startedAt, droppedLines: dropped };
      if (code === 0) logger.info(fields, 'onCritical exited');
      else logger.warn(fields, 'onCritical failed');
    });
    child.unref();
    return true;
  }
}
