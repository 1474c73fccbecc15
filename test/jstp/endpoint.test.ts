import { describe, expect, it } from 'vitest';
import { compilePattern, normalizePattern, type CompiledPattern } from '../../gateway/jstp/endpoint.js';
import type { ResourceElement } from '../../gateway/jstp/dispatch.js';
import { ErrorCode, PasarelaError } from '../../gateway/jstp/errors.js';

function strict(input: unknown): string[] {
  const result = normalizePattern(input, 'strict');
  if (!result.ok) throw new Error(`unexpectedly rejected: ${result.reason}`);
  expect(result.repaired).toBe(false);
  return result.pattern;
}

function compile(input: unknown): CompiledPattern {
  return compilePattern(strict(input));
}

function matches(pattern: unknown, resource: ResourceElement[]): ReturnType<CompiledPattern['match']> {
  return compile(pattern).match(resource);
}

describe('JSTP.md "Endpoint patterns" examples', () => {
  it('["*"] matches ["user"]', () => {
    expect(matches(['*'], ['user'])).toEqual({});
  });

  it('["article", ":title"] captures the title', () => {
    expect(matches(['article', ':title'], ['article', 'Great new series'])).toEqual({ title: 'Great new series' });
  });

  it('["..."] matches any resource of any length', () => {
    const pattern = compile(['...']);
    for (const resource of [[], ['a'], ['a', 'b'], [1, 'x', 2, 'y', 3], ['...'], ['*']] as ResourceElement[][]) {
      expect(pattern.match(resource)).toEqual({});
    }
  });

  it('["path", "...", "text", "...", ":extension"] matches a deep path (extension = txt)', () => {
    expect(matches(['path', '...', 'text', '...', ':extension'], ['path', 'folder', 'internal', 'text', 'value', 'txt']))
      .toEqual({ extension: 'txt' });
  });

  it('["path", "...", "text", "...", ":extension"] matches ["path", "text", "md"] (extension = md)', () => {
    expect(matches(['path', '...', 'text', '...', ':extension'], ['path', 'text', 'md'])).toEqual({ extension: 'md' });
  });

  it('\\* matches "*", \\... matches "...", \\:id matches ":id", \\\\x matches "\\x"', () => {
    expect(matches(['\\*'], ['*'])).toEqual({});
    expect(matches(['\\*'], ['anything'])).toBeNull();
    expect(matches(['\\...'], ['...'])).toEqual({});
    expect(matches(['\\...'], [])).toBeNull();
    expect(matches(['\\...'], ['a'])).toBeNull();
    expect(matches(['\\:id'], [':id'])).toEqual({});
    expect(matches(['\\:id'], ['42'])).toBeNull();
    expect(matches(['\\\\x'], ['\\x'])).toEqual({});
    expect(matches(['\\\\x'], ['x'])).toBeNull();
  });

  it('illegal forms are rejected in strict mode and repaired in quirks mode', () => {
    expect(normalizePattern(['...', '...'], 'strict').ok).toBe(false);
    expect(normalizePattern(['...', '...'], 'quirks')).toEqual({ ok: true, pattern: ['...'], repaired: true });
    expect(normalizePattern(['...', '*'], 'strict').ok).toBe(false);
    expect(normalizePattern(['...', '*'], 'quirks')).toEqual({ ok: true, pattern: ['...'], repaired: true });
    expect(normalizePattern([':'], 'strict').ok).toBe(false);
    expect(normalizePattern([':'], 'quirks')).toEqual({ ok: true, pattern: ['*'], repaired: true });
  });
});

describe('literals', () => {
  it('match exactly the same element and nothing else', () => {
    const pattern = compile(['devices', 'lamp']);
    expect(pattern.match(['devices', 'lamp'])).toEqual({});
    expect(pattern.match(['devices', 'Lamp'])).toBeNull();
    expect(pattern.match(['devices'])).toBeNull();
    expect(pattern.match(['devices', 'lamp', 'x'])).toBeNull();
  });

  it('compare numbers by their string form', () => {
    expect(matches(['status', 200], ['status', 200])).toEqual({});
    expect(matches(['status', 200], ['status', '200'])).toEqual({});
    expect(matches(['status', '200'], ['status', 200])).toEqual({});
    expect(matches(['status', '200'], ['status', 201])).toBeNull();
    expect(matches(['1.5'], [1.5])).toEqual({});
    expect(matches(['0'], [-0])).toEqual({});
  });

  it('a non-canonical number string never equals a number', () => {
    expect(matches(['01'], [1])).toBeNull();
    expect(matches(['01'], ['01'])).toEqual({});
    expect(matches(['-0'], [0])).toBeNull();
    expect(matches(['1e3'], [1000])).toBeNull();
    expect(matches(['1000'], [1e3])).toEqual({});
  });

  it('"NaN" matches NaN, whose String() it is', () => {
    expect(matches(['NaN'], [Number.NaN])).toEqual({});
    expect(matches(['NaN'], [0])).toBeNull();
  });

  it('the empty string is a literal', () => {
    expect(matches([''], [''])).toEqual({});
    expect(matches([''], ['a'])).toBeNull();
  });
});

describe('*', () => {
  it('matches exactly one element of any kind', () => {
    const pattern = compile(['devices', '*', 'properties', 'temperature']);
    expect(pattern.match(['devices', 'kitchen', 'properties', 'temperature'])).toEqual({});
    expect(pattern.match(['devices', 7, 'properties', 'temperature'])).toEqual({});
    expect(pattern.match(['devices', 'properties', 'temperature'])).toBeNull();
    expect(pattern.match(['devices', 'a', 'b', 'properties', 'temperature'])).toBeNull();
  });

  it('captures nothing', () => {
    expect(Object.keys(matches(['*', '*'], ['a', 'b'])!)).toEqual([]);
  });

  it('an ANSWER subscription [*, transactionId, *] takes any status', () => {
    const pattern = compile(['*', 'tx-1', '*']);
    expect(pattern.match([200, 'tx-1', 'tr-1'])).toEqual({});
    expect(pattern.match([404, 'tx-2', 'tr-1'])).toBeNull();
  });
});

describe('...', () => {
  it('matches zero elements', () => {
    expect(matches(['a', '...', 'b'], ['a', 'b'])).toEqual({});
    expect(matches(['a', '...'], ['a'])).toEqual({});
    expect(matches(['...', 'a'], ['a'])).toEqual({});
  });

  it('matches several elements', () => {
    expect(matches(['a', '...', 'b'], ['a', 1, 2, 3, 'b'])).toEqual({});
    expect(matches(['a', '...'], ['a', 1, 2])).toEqual({});
  });

  it('still needs the elements around it', () => {
    expect(matches(['a', '...', 'b'], ['a', 1, 2])).toBeNull();
    expect(matches(['a', '...', 'b'], ['x', 'b'])).toBeNull();
    expect(matches(['a', '...', 'b'], ['a', 'b', 'c'])).toBeNull();
    expect(matches(['...', 'a'], [])).toBeNull();
  });

  it('is lazy: it swallows as few elements as possible', () => {
    expect(matches(['...', ':x', '...'], ['a', 'b', 'c'])).toEqual({ x: 'a' });
    expect(matches(['a', '...', ':x', '...', 'end'], ['a', 'b', 'c', 'end'])).toEqual({ x: 'b' });
  });

  it('backtracks when the lazy choice fails later on', () => {
    expect(matches(['...', 'b', ':x'], ['b', 'b', 'c'])).toEqual({ x: 'c' });
    expect(matches(['...', 'b', ':x'], ['b', 'c', 'b', 'd'])).toEqual({ x: 'd' });
    expect(matches(['...', 'b', ':x'], ['b'])).toBeNull();
    expect(matches(['...', 'a', '...', 'b', ':x'], ['a', 'b', 'a', 'b', 'z'])).toEqual({ x: 'z' });
    expect(matches(['...', ':x', 'b', '...'], ['a', 'c', 'b', 'b'])).toEqual({ x: 'c' });
  });

  it('a capture after it takes the last element the ellipsis would otherwise swallow', () => {
    expect(matches(['...', ':last'], ['a', 'b', 'c'])).toEqual({ last: 'c' });
    expect(matches(['...', ':last', 'end'], ['a', 'b', 'end'])).toEqual({ last: 'b' });
    expect(matches(['...', ':last', '*'], ['a', 'b', 'c'])).toEqual({ last: 'b' });
    expect(matches(['...', ':last'], [])).toBeNull();
  });

  it('stays polynomial with many ellipses and no match', () => {
    const pattern = compile(['...', 'a', '...', 'a', '...', 'a', '...', 'a', '...', 'a', '...', 'b']);
    const resource: ResourceElement[] = Array.from({ length: 2000 }, () => 'a');
    // Exponential backtracking would not finish within the test timeout.
    expect(pattern.match(resource)).toBeNull();
  });
});

describe(':name', () => {
  it('captures one element, keeping its type', () => {
    expect(matches(['devices', ':id', 'properties', ':property'], ['devices', 7, 'properties', 'on']))
      .toEqual({ id: 7, property: 'on' });
    const captures = matches([':n'], [42])!;
    expect(typeof captures.n).toBe('number');
  });

  it('needs exactly one element', () => {
    expect(matches(['a', ':id'], ['a'])).toBeNull();
    expect(matches(['a', ':id'], ['a', 'b', 'c'])).toBeNull();
  });

  it('accepts letters, digits and underscores, not starting with a digit', () => {
    expect(matches([':_a1', ':B_2'], ['x', 'y'])).toEqual({ _a1: 'x', B_2: 'y' });
  });

  it('a capture named __proto__ is an ordinary key', () => {
    const captures = matches(['a', ':__proto__'], ['a', 'b'])!;
    expect(Object.keys(captures)).toEqual(['__proto__']);
    expect(Object.getOwnPropertyDescriptor(captures, '__proto__')?.value).toBe('b');
  });

  it('a match without captures shares one frozen empty object', () => {
    const pattern = compile(['a', '*']);
    const first = pattern.match(['a', 'b'])!;
    expect(Object.isFrozen(first)).toBe(true);
    expect(pattern.match(['a', 'c'])).toBe(first);
    expect(compile(['...']).match([])).toBe(first);
  });

  it('a match with captures gets a fresh object each time', () => {
    const pattern = compile([':a']);
    const first = pattern.match(['x']);
    const second = pattern.match(['y']);
    expect(first).not.toBe(second);
    expect(first).toEqual({ a: 'x' });
    expect(second).toEqual({ a: 'y' });
  });
});

describe('escapes', () => {
  it('a backslash before an ordinary text is dropped: \\x is the literal x', () => {
    expect(strict(['\\x'])).toEqual(['x']);
    expect(matches(['\\x'], ['x'])).toEqual({});
  });

  it('a lone backslash is the empty literal', () => {
    expect(strict(['\\'])).toEqual(['']);
    expect(matches(['\\'], [''])).toEqual({});
  });

  it('escapes stay where they are needed', () => {
    expect(strict(['\\*', '\\...', '\\:id', '\\\\x', '\\:'])).toEqual(['\\*', '\\...', '\\:id', '\\\\x', '\\:']);
  });

  it('an escaped capture is not a capture', () => {
    expect(matches(['\\:id'], [':id'])).toEqual({});
    expect(Object.keys(matches(['\\:id'], [':id'])!)).toEqual([]);
  });

  it('escaped * and ... right after ... are legal literals', () => {
    expect(strict(['...', '\\*'])).toEqual(['...', '\\*']);
    expect(strict(['...', '\\...'])).toEqual(['...', '\\...']);
    expect(matches(['...', '\\*'], ['a', '*'])).toEqual({});
    expect(matches(['...', '\\*'], ['a', 'b'])).toBeNull();
  });
});

describe('normalizePattern, strict mode', () => {
  const rejected: [string, unknown][] = [
    ['not an array (string)', 'devices'],
    ['not an array (object)', { 0: 'a' }],
    ['not an array (undefined)', undefined],
    ['empty', []],
    ['... after ...', ['a', '...', '...']],
    ['* after ...', ['...', '*', 'a']],
    ['bare :', ['a', ':']],
    ['invalid capture name (digit first)', [':1a']],
    ['invalid capture name (dash)', [':a-b']],
    ['invalid capture name (space)', [':a b']],
    ['element null', ['a', null]],
    ['element boolean', [true]],
    ['element object', [{ a: 1 }]],
    ['element array', [['a']]],
    ['element Infinity', [Number.POSITIVE_INFINITY]],
    ['element NaN', [Number.NaN]],
    ['duplicate capture names', [':id', 'x', ':id']],
  ];
  for (const [name, input] of rejected) {
    it(`rejects ${name}`, () => {
      const result = normalizePattern(input, 'strict');
      expect(result.ok).toBe(false);
      if (!result.ok) expect(result.reason.length).toBeGreaterThan(0);
    });
  }

  it('accepts every legal form unchanged, numbers as strings', () => {
    expect(normalizePattern(['devices', 7, '*', ':id', '...', 'x', '\\*'], 'strict'))
      .toEqual({ ok: true, pattern: ['devices', '7', '*', ':id', '...', 'x', '\\*'], repaired: false });
  });

  it('accepts a capture and a literal right after ...', () => {
    expect(strict(['...', ':x'])).toEqual(['...', ':x']);
    expect(strict(['...', 'x', '...'])).toEqual(['...', 'x', '...']);
  });

  it('does not modify its input', () => {
    const input = ['a', 1, '\\x'];
    normalizePattern(input, 'strict');
    expect(input).toEqual(['a', 1, '\\x']);
  });
});

describe('normalizePattern, quirks mode repairs', () => {
  const repairs: [string, unknown, string[]][] = [
    ['a string becomes a one-element pattern', 'devices', ['devices']],
    ['a number becomes a one-element pattern', 7, ['7']],
    ['an empty pattern becomes ["..."]', [], ['...']],
    ['... after ... collapses', ['a', '...', '...', 'b'], ['a', '...', 'b']],
    ['a run of ... collapses', ['...', '...', '...'], ['...']],
    ['* after ... is read as ...', ['a', '...', '*', 'b'], ['a', '...', 'b']],
    ['* * after ... all collapse', ['...', '*', '*'], ['...']],
    ['bare : becomes *', ['a', ':'], ['a', '*']],
    ['bare : after ... becomes * and then ...', ['...', ':', 'b'], ['...', 'b']],
    ['an invalid :name becomes a literal', [':1a', ':a-b'], ['\\:1a', '\\:a-b']],
    ['null becomes a literal', ['a', null], ['a', 'null']],
    ['a boolean becomes a literal', [true], ['true']],
    ['an object becomes its JSON', [{ a: 1 }], ['{"a":1}']],
    ['undefined becomes a literal', [undefined], ['undefined']],
    ['Infinity becomes a literal', [Number.POSITIVE_INFINITY], ['Infinity']],
    ['of duplicate captures the later one is kept', [':id', 'x', ':id'], ['*', 'x', ':id']],
    ['three duplicates keep the last', [':a', ':a', ':a'], ['*', '*', ':a']],
    ['a dropped duplicate right after ... folds into it', ['...', ':a', 'x', ':a'], ['...', 'x', ':a']],
  ];
  for (const [name, input, expected] of repairs) {
    it(name, () => {
      expect(normalizePattern(input, 'quirks')).toEqual({ ok: true, pattern: expected, repaired: true });
    });
  }

  it('repairs always give a strict-valid pattern', () => {
    for (const [, input] of repairs) {
      const repaired = normalizePattern(input, 'quirks');
      expect(repaired.ok).toBe(true);
      if (repaired.ok) expect(normalizePattern(repaired.pattern, 'strict')).toEqual({ ok: true, pattern: repaired.pattern, repaired: false });
    }
  });

  it('a legal pattern is not marked repaired', () => {
    expect(normalizePattern(['a', 1, '...', ':x'], 'quirks')).toEqual({ ok: true, pattern: ['a', '1', '...', ':x'], repaired: false });
  });

  it('a quirks literal :1a matches the element ":1a"', () => {
    const result = normalizePattern([':1a'], 'quirks');
    expect(result.ok).toBe(true);
    if (result.ok) expect(compilePattern(result.pattern).match([':1a'])).toEqual({});
  });

  it('still refuses what it cannot repair', () => {
    expect(normalizePattern({ resource: ['a'] }, 'quirks').ok).toBe(false);
    expect(normalizePattern(undefined, 'quirks').ok).toBe(false);
    expect(normalizePattern(null, 'quirks').ok).toBe(false);
    expect(normalizePattern(true, 'quirks').ok).toBe(false);
  });
});

describe('compilePattern', () => {
  it('keeps the normalized source, frozen', () => {
    const pattern = compilePattern(['a', ':b', '...']);
    expect(pattern.source).toEqual(['a', ':b', '...']);
    expect(Object.isFrozen(pattern.source)).toBe(true);
  });

  it('does not share the caller array', () => {
    const input = ['a', 'b'];
    const pattern = compilePattern(input);
    input[0] = 'z';
    expect(pattern.source).toEqual(['a', 'b']);
    expect(pattern.match(['a', 'b'])).toEqual({});
  });

  it('equal patterns have equal keys, different ones different keys', () => {
    expect(compilePattern(['a', '*']).key).toBe(compilePattern(['a', '*']).key);
    expect(compilePattern(['\\x']).key).toBe(compilePattern(['x']).key);
    expect(compile(['status', 200]).key).toBe(compile(['status', '200']).key);
    expect(compilePattern(['a', '*']).key).not.toBe(compilePattern(['a', ':x']).key);
    expect(compilePattern(['*']).key).not.toBe(compilePattern(['\\*']).key);
    expect(compilePattern(['a,b']).key).not.toBe(compilePattern(['a', 'b']).key);
  });

  it('refuses a pattern strict mode would reject, with a stable code', () => {
    for (const bad of [[], ['...', '...'], ['...', '*'], [':'], [':1'], [':a', ':a']]) {
      let thrown: unknown;
      try {
        compilePattern(bad);
      } catch (error) {
        thrown = error;
      }
      expect(thrown).toBeInstanceOf(PasarelaError);
      expect((thrown as PasarelaError).code).toBe(ErrorCode.BadPattern);
      expect((thrown as PasarelaError).status).toBe(400);
    }
  });
});
