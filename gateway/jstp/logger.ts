import { pino, type Logger } from 'pino';

export type { Logger };

/** The logger used when none is injected: library code never writes to the console. */
export function silentLogger(): Logger {
  return pino({ level: 'silent' });
}
