import { describe, expect, it } from 'vitest';
import { openingFor } from './answered-by.js';

describe('openingFor', () => {
  it("maps every AnsweredBy Twilio sends to the agent's opening", () => {
    const table = [
      'human',
      'unknown',
      'machine_start',
      'machine_end_beep',
      'machine_end_silence',
      'machine_end_other',
      'fax',
    ];
    expect(table.map((v) => openingFor(v, 'voicemail'))).toEqual([
      'talk',
      'talk',
      'wait',
      'voicemail',
      'voicemail',
      'voicemail',
      'hangup',
    ]);
    expect(table.map((v) => openingFor(v, 'hangup'))).toEqual([
      'talk',
      'talk',
      'wait',
      'hangup',
      'hangup',
      'hangup',
      'hangup',
    ]);
  });
});
