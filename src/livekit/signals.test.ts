import { describe, expect, it } from 'vitest';
import {
  SIGNALS,
  SIGNALS_ATTRIBUTE,
  announcesListening,
  encodeAgentGone,
  goneParticipant,
} from './signals.js';

describe('agent signals', () => {
  it('what the agent advertises, the bridge reads as "sends listening"', () => {
    expect(announcesListening({ [SIGNALS_ATTRIBUTE]: SIGNALS })).toBe(true);
    expect(announcesListening({ [SIGNALS_ATTRIBUTE]: 'interrupted' })).toBe(false);
    expect(announcesListening(undefined)).toBe(false);
  });

  it('the worker’s agent-gone packet names the participant to the bridge; a bad one names none', () => {
    const payload = new TextDecoder().decode(encodeAgentGone('agent-AJ_1', 5));
    expect(goneParticipant(payload)).toBe('agent-AJ_1');
    expect(goneParticipant('{"participant":7}')).toBeUndefined();
    expect(goneParticipant('not json')).toBeUndefined();
  });
});
