/**
 * Single GATT requests on noble's objects, each as a promise that settles on the
 * event noble emits for its answer and drops its listener when the signal aborts.
 * noble's callback forms are not used: a callback whose answer never comes (noble
 * reports no ATT errors) stays registered and would take a later request's answer.
 * Run these through a GattQueue only.
 */
import type { EventEmitter } from 'node:events';
import type { NobleCharacteristic, NoblePeripheral, NobleService } from './noble-types.js';

/**
 * Listens for `event` (those whose arguments `accept` takes), then calls `send`.
 * Resolves with the event's arguments; a `send` that throws rejects.
 */
function answer<A extends unknown[]>(
  emitter: EventEmitter,
  event: string,
  send: () => void,
  signal: AbortSignal,
  accept: (...args: A) => boolean = () => true,
): Promise<A> {
  return new Promise<A>((resolve, reject) => {
    const cleanup = (): void => {
      emitter.off(event, listener);
      signal.removeEventListener('abort', onAbort);
    };
    const listener = (...args: unknown[]): void => {
      if (!accept(...(args as A))) return;
      cleanup();
      resolve(args as A);
    };
    const onAbort = (): void => {
      cleanup();
      reject(signal.reason);
    };
    if (signal.aborted) {
      reject(signal.reason);
      return;
    }
    emitter.on(event, listener);
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      send();
    } catch (error) {
      cleanup();
      reject(error);
    }
  });
}

export async function discoverServices(peripheral: NoblePeripheral, signal: AbortSignal): Promise<NobleService[]> {
  const [services] = await answer<[NobleService[]]>(peripheral, 'servicesDiscover', () => peripheral.discoverServices([]), signal);
  return services;
}

export async function discoverCharacteristics(service: NobleService, signal: AbortSignal): Promise<NobleCharacteristic[]> {
  const [characteristics] = await answer<[NobleCharacteristic[]]>(service, 'characteristicsDiscover', () => service.discoverCharacteristics([]), signal);
  return characteristics;
}

/** A read's answer, never a notification that arrives meanwhile. */
export async function read(characteristic: NobleCharacteristic, signal: AbortSignal): Promise<Buffer> {
  const [data] = await answer<[Buffer, boolean]>(characteristic, 'data', () => characteristic.read(), signal, (_data, isNotification) => !isNotification);
  return data;
}

export async function write(characteristic: NobleCharacteristic, data: Uint8Array, withoutResponse: boolean, signal: AbortSignal): Promise<void> {
  await answer(characteristic, 'write', () => characteristic.write(Buffer.from(data), withoutResponse), signal);
}

export async function subscribe(characteristic: NobleCharacteristic, signal: AbortSignal): Promise<void> {
  await answer<[boolean]>(characteristic, 'notify', () => characteristic.subscribe(), signal, (state) => state === true);
}

export async function updateRssi(peripheral: NoblePeripheral, signal: AbortSignal): Promise<number> {
  const [rssi] = await answer<[number]>(peripheral, 'rssiUpdate', () => peripheral.updateRssi(), signal);
  return rssi;
}

/** Connects; on abort (timeout) it cancels the pending connection. */
export async function connect(peripheral: NoblePeripheral, signal: AbortSignal): Promise<void> {
  const pending = answer<[unknown]>(peripheral, 'connect', () => peripheral.connect(), signal);
  // Added after `answer`'s own listener, so the abort's reason wins over noble's "connection canceled!".
  const onAbort = (): void => {
    if (peripheral.state === 'connecting') peripheral.cancelConnect();
  };
  signal.addEventListener('abort', onAbort, { once: true });
  try {
    const [error] = await pending;
    if (error) throw error instanceof Error ? error : new Error(String(error));
  } finally {
    signal.removeEventListener('abort', onAbort);
  }
}
