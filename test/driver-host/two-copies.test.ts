/**
 * A driver developed in a folder of its own has its own copy of Pasarela: its
 * `errors.readOnly(...)` is another copy's PasarelaError. The gateway still takes its
 * status (403, not 500), and `instanceof` holds both ways.
 */
import { describe, expect, it } from 'vitest';
import { ContractGateway } from '../../testing/index.js';
import { ConfigError } from '../../gateway/config.js';
import { PasarelaError } from '../../gateway/jstp/errors.js';

// The same file under another URL: a second module instance, as a second installed copy is.
const ANOTHER_COPY: string = '../../gateway/jstp/errors.js?another-copy';
const other = (await import(ANOTHER_COPY)) as typeof import('../../gateway/jstp/errors.js');

describe('errors from another copy of the package', () => {
  it('are PasarelaErrors here, and their status picks the answer', async () => {
    const foreign = other.errors.readOnly('the lamp cannot be dimmed');
    expect(other.PasarelaError).not.toBe(PasarelaError);
    expect(foreign).toBeInstanceOf(PasarelaError);
    expect(other.errors.readOnly('x')).toBeInstanceOf(other.PasarelaError);
    expect(new Error('plain')).not.toBeInstanceOf(PasarelaError);
    // A subclass keeps the ordinary check.
    expect(foreign).not.toBeInstanceOf(ConfigError);

    const gateway = new ContractGateway(1_000);
    const context = gateway.registry.context('lamp');
    context.addDevice({ key: 'l', id: 'lamp', actions: { dim: {} } }, { invokeAction: async () => Promise.reject(foreign) }).setOnline(true);
    expect(await gateway.call('POST', ['devices', 'lamp', 'actions', 'dim'])).toEqual({ status: 403, body: { error: 'the lamp cannot be dimmed', code: 'PASARELA_READ_ONLY' } });
    gateway.close();
  });
});
