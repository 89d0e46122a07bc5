import { Writable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createLogger, maskPhone } from './log.js';

describe('logger', () => {
  it('redacts secrets wherever they appear', () => {
    const lines: string[] = [];
    const sink = new Writable({
      write(chunk: Buffer, _enc, cb) {
        lines.push(chunk.toString());
        cb();
      },
    });
    const log = createLogger({ destination: sink });
    log.info(
      { config: { TWILIO_AUTH_TOKEN: 'tok-123', LIVEKIT_API_SECRET: 'sec-456' }, token: 'jwt-789' },
      'x',
    );
    const out = lines.join('');
    expect(out).not.toMatch(/tok-123|sec-456|jwt-789/);
    expect(out).toMatch(/\[redacted\]/);
  });

  it('masks phone numbers but keeps them distinguishable', () => {
    expect(maskPhone('+15551234567')).toBe('+1555***4567');
    expect(maskPhone('+15551234567')).not.toContain('123');
    expect(maskPhone(undefined)).toBe('unknown');
    expect(maskPhone('anonymous')).toBe('an***');
  });
});
