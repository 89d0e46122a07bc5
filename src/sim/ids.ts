import { randomBytes } from 'node:crypto';

/** A Twilio-shaped SID: two-letter prefix + 32 lowercase hex digits (`CA…`, `AC…`, `MZ…`). */
export function twilioSid(prefix: 'CA' | 'AC' | 'MZ'): string {
  return prefix + randomBytes(16).toString('hex');
}
