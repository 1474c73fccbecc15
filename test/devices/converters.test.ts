import { describe, expect, it } from 'vitest';
import {
  compose,
  converterSpecSchema,
  createConverter,
  flags,
  int16le,
  jsonPath,
  numberFromString,
  onOff,
  uint16le,
  uint8,
  utf8,
} from '../../drivers/converters.js';
import { ErrorCode } from '../../gateway/jstp/errors.js';

const bytes = (...values: number[]) => Uint8Array.from(values);

describe('byte converters', () => {
  it('uint8 and uint16le read at an offset and round-trip', () => {
    expect(uint8().decode(bytes(200))).toBe(200);
    expect(uint8({ offset: 1 }).decode(bytes(0, 7))).toBe(7);
    expect(uint16le().decode(bytes(0x34, 0x12))).toBe(0x1234);
    expect(uint16le().decode(uint16le().encode!(65535))).toBe(65535);
  });

  it('int16le scaled by 0.01 gives exact decimals and encodes back', () => {
    const temperature = int16le({ scale: 0.01 });
    expect(temperature.name).toBe('int16le×0.01');
    expect(temperature.decode(bytes(0x66, 0x08))).toBe(21.5);
    expect(temperature.decode(bytes(0x0c, 0xfe))).toBe(-5);
    expect(Array.from(temperature.encode!(21.5))).toEqual([0x66, 0x08]);
    expect(temperature.decode(temperature.encode!(-12.34))).toBe(-12.34);
  });

  it('rejects short input as a device error (502) and out-of-range values as bad values (400)', () => {
    expect(() => uint16le().decode(bytes(1))).toThrow(expect.objectContaining({ code: ErrorCode.Convert, status: 502 }));
    expect(() => uint8().encode!(256)).toThrow(expect.objectContaining({ code: ErrorCode.BadValue, status: 400 }));
    expect(() => int16le({ scale: 0.01 }).encode!(400)).toThrow(expect.objectContaining({ status: 400 }));
    expect(() => uint8().encode!(Number.NaN)).toThrow(expect.objectContaining({ status: 400 }));
  });

  it('utf8 drops trailing NULs and refuses invalid text', () => {
    expect(utf8().decode(new TextEncoder().encode('Cafetera\0\0'))).toBe('Cafetera');
    expect(() => utf8().decode(bytes(0xff, 0xfe))).toThrow(expect.objectContaining({ status: 502 }));
    expect(new TextDecoder().decode(utf8().encode!('olá'))).toBe('olá');
  });

  it('flags name bits across bytes and round-trip', () => {
    const names = ['heating', 'brewing', '', 'error', '', '', '', '', 'water-low'];
    const converter = flags(names);
    const decoded = converter.decode(bytes(0b0000_1001, 0b1));
    expect(decoded).toEqual({ heating: true, brewing: false, error: true, 'water-low': true });
    expect(Array.from(converter.encode!(decoded))).toEqual([0b0000_1001, 0b1]);
  });
});

describe('value converters', () => {
  it('jsonPath finds nested values, yields undefined when absent, and builds documents', () => {
    const power = jsonPath('ENERGY.Power');
    expect(power.decode({ ENERGY: { Power: 42 } })).toBe(42);
    expect(power.decode({ POWER: 'ON' })).toBeUndefined();
    expect(power.decode('text')).toBeUndefined();
    expect(power.encode!(5)).toEqual({ ENERGY: { Power: 5 } });
    expect(jsonPath('a[1].b').decode({ a: [{}, { b: 'x' }] })).toBe('x');
  });

  it('numberFromString parses text and refuses what is not a number', () => {
    expect(numberFromString().decode(' 21.5 ')).toBe(21.5);
    expect(numberFromString().decode(7)).toBe(7);
    expect(numberFromString().decode(new TextEncoder().encode('3'))).toBe(3);
    expect(() => numberFromString().decode('')).toThrow(expect.objectContaining({ status: 502 }));
    expect(() => numberFromString().decode('warm')).toThrow(expect.objectContaining({ status: 502 }));
    expect(numberFromString().encode!(2.5)).toBe('2.5');
  });

  it('onOff reads any case and common spellings, and writes the device words', () => {
    const power = onOff();
    expect(['ON', 'on', 'true', '1', true].map((raw) => power.decode(raw))).toEqual([true, true, true, true, true]);
    expect(['OFF', 'off', 'false', '0', false].map((raw) => power.decode(raw))).toEqual([false, false, false, false, false]);
    expect(() => power.decode('MAYBE')).toThrow(expect.objectContaining({ status: 502 }));
    expect(onOff({ on: 'open', off: 'closed' }).encode!(true)).toBe('open');
    expect(() => power.encode!('ON' as unknown as boolean)).toThrow(expect.objectContaining({ status: 400 }));
  });

  it('compose chains decoders and reverses encoders', () => {
    const converter = compose(jsonPath('state'), onOff());
    expect(converter.decode({ state: 'ON' })).toBe(true);
    expect(converter.encode!(false)).toEqual({ state: 'OFF' });
  });
});

describe('converters as data', () => {
  it('builds a converter from a bare name or an object spec', () => {
    expect(createConverter('uint8').decode(bytes(9))).toBe(9);
    expect(createConverter({ type: 'int16le', scale: 0.01 }).decode(bytes(0x66, 0x08))).toBe(21.5);
    expect(createConverter({ type: 'json-path', path: 'a.b' }).decode({ a: { b: 1 } })).toBe(1);
    expect(createConverter({ type: 'on-off', on: 'open', off: 'closed' }).decode('closed')).toBe(false);
    expect(createConverter({ type: 'flags', names: ['a', 'b'] }).decode(bytes(2))).toEqual({ a: false, b: true });
  });

  it('rejects specs that name no converter or carry unknown options', () => {
    expect(converterSpecSchema.safeParse('int24').success).toBe(false);
    expect(converterSpecSchema.safeParse({ type: 'uint8', sacle: 2 }).success).toBe(false);
    expect(converterSpecSchema.safeParse({ type: 'json-path' }).success).toBe(false);
  });
});
