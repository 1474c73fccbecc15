/**
 * A real PTY pair for serial tests: socat with `-d -d pty,raw,echo=0,link=<tmp>/a
 * pty,raw,echo=0,link=<tmp>/b`, in a fresh temporary folder. `stop()` pulls the cable
 * (socat exits, both device nodes vanish); `start()` plugs it back on the same paths.
 */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { SocatPair } from '../../firmware-sim/robot/socat-pair.js';

export interface PtyPair {
  /** The gateway's end. */
  readonly a: string;
  /** The device's end. */
  readonly b: string;
  readonly running: boolean;
  start(): Promise<void>;
  stop(): Promise<void>;
  /** Stops socat and removes the folder. */
  close(): Promise<void>;
}

export async function startPtyPair(): Promise<PtyPair> {
  const dir = await mkdtemp(path.join(tmpdir(), 'pasarela-pty-'));
  const pair = new SocatPair({ dir });
  await pair.start();
  return {
    a: pair.a,
    b: pair.b,
    get running() {
      return pair.running;
    },
    start: () => pair.start(),
    stop: () => pair.stop(),
    async close() {
      await pair.stop();
      await rm(dir, { recursive: true, force: true });
    },
  };
}
