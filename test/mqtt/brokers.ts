/**
 * The brokers MQTT tests run against: a real mosquitto and the embedded aedes, each
 * on a free port and restartable on that port.
 */
import { startEmbeddedBroker, type EmbeddedBroker } from '../../drivers/mqtt/embedded-broker.js';
import { Mosquitto } from '../support/mosquitto.js';

export interface TestBroker {
  readonly name: string;
  readonly url: string;
  /** Stops and starts it on the same port (clients see the connection drop). */
  restart(): Promise<void>;
  stop(): Promise<void>;
  start(): Promise<void>;
  close(): Promise<void>;
}

export async function startMosquitto(): Promise<TestBroker> {
  const broker = await Mosquitto.start();
  return {
    name: 'mosquitto',
    url: broker.url,
    restart: () => broker.restart(),
    stop: () => broker.stop(),
    start: () => broker.restart(),
    close: () => broker.close(),
  };
}

export async function startAedes(): Promise<TestBroker> {
  let broker: EmbeddedBroker | undefined = await startEmbeddedBroker({ port: 0 });
  const port = broker.port;
  const url = broker.url;
  const stop = async () => {
    await broker?.close();
    broker = undefined;
  };
  const start = async () => {
    if (!broker) broker = await startEmbeddedBroker({ port });
  };
  return {
    name: 'aedes',
    url,
    restart: async () => {
      await stop();
      await start();
    },
    stop,
    start,
    close: stop,
  };
}

export const BROKERS: readonly [string, () => Promise<TestBroker>][] = [
  ['mosquitto', startMosquitto],
  ['aedes', startAedes],
];
