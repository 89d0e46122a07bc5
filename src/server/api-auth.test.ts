import { describe, expect, it } from 'vitest';
import { ApiKeys } from './api-auth.js';

describe('ApiKeys', () => {
  const a = 'key-one-0123456789abcdefghij';
  const b = 'key-two-0123456789abcdefghij';
  const keys = new ApiKeys([a, b]);

  it('accepts each configured key as a bearer token, and names it by an id, not its value', () => {
    const idA = keys.match(`Bearer ${a}`);
    const idB = keys.match(`bearer ${b}`);
    expect(idA).toMatch(/^key-[0-9a-f]{8}$/);
    expect(idB).toMatch(/^key-[0-9a-f]{8}$/);
    expect(idA).not.toBe(idB);
    expect(idA).not.toContain(a);
  });

  it('refuses anything else', () => {
    for (const h of [
      undefined,
      '',
      a,
      `Basic ${a}`,
      `Bearer ${a}x`,
      `Bearer ${a.slice(0, -1)}`,
      'Bearer ',
    ])
      expect(keys.match(h)).toBeUndefined();
  });
});
