import { describe, expect, it, vi } from 'vitest';
import { loadConfig } from '../config/load.js';
import { isPbError } from '../errors.js';
import { parseCallMetadata } from './metadata.js';
import { toOpenAIError } from './openai/errors.js';
import { callInstructions } from './openai/instructions.js';
import { loadPrompt } from './prompts.js';
import { SilenceWatchdog } from './silence.js';
import { parseWav } from './wav.js';

describe('parseCallMetadata', () => {
  it('prefers dispatch metadata, then room metadata, then the room name', () => {
    expect(parseCallMetadata(['{"callSid":"CA1","from":"+1555"}'], 'call-CA9')).toEqual({
      callSid: 'CA1',
      from: '+1555',
    });
    expect(parseCallMetadata(['not json', '{"to":"+1666"}'], 'call-CA9')).toEqual({
      to: '+1666',
      callSid: 'CA9',
    });
    expect(parseCallMetadata([undefined], 'other').callSid).toBe('other');
  });
});

describe('toOpenAIError', () => {
  it('names each failure in one line with a stable code', () => {
    const auth = toOpenAIError({ status: 401, message: 'Unauthorized' });
    expect(isPbError(auth, 'PB_ERR_OPENAI_AUTH')).toBe(true);
    expect(auth.message).toBe('OpenAI rejected the API key (401)');
    // A Realtime `error` event wrapped by the plugin and the session.
    const wrapped = toOpenAIError({
      type: 'realtime_model_error',
      error: { message: 'Incorrect API key', body: { code: 'invalid_api_key' } },
    });
    expect(wrapped.code).toBe('PB_ERR_OPENAI_AUTH');
    expect(toOpenAIError({ body: { type: 'rate_limit_exceeded' }, message: 'x' }).message).toBe(
      'OpenAI rate limit reached (429)',
    );
    expect(toOpenAIError({ body: { code: 'insufficient_quota' }, message: 'x' }).message).toContain(
      'quota',
    );
    expect(toOpenAIError(new Error('socket hang up')).message).toBe(
      'OpenAI request failed: socket hang up',
    );
  });
});

describe('callInstructions', () => {
  it('fills call metadata into the template and adds the greeting rule', async () => {
    const config = loadConfig({ AGENT_INSTRUCTIONS: 'Caller {from} dialled {to}. {unknown}' });
    const text = await callInstructions(config, { callSid: 'CA1', from: '+1555', to: '+1666' });
    expect(text).toContain('Caller +1555 dialled +1666. {unknown}');
    expect(text).toContain('Hello! How can I help you today?');
  });
});

describe('SilenceWatchdog', () => {
  it('prompts after one period, gives up after two, and resets when the caller speaks', () => {
    vi.useFakeTimers();
    try {
      const prompt = vi.fn();
      const giveUp = vi.fn();
      const w = new SilenceWatchdog(1000, prompt, giveUp);
      w.start();
      vi.advanceTimersByTime(999);
      expect(prompt).not.toHaveBeenCalled();
      vi.advanceTimersByTime(1);
      expect(prompt).toHaveBeenCalledTimes(1);
      // The prompt is spoken: the agent's own speech does not count as silence.
      w.set('agent', true);
      vi.advanceTimersByTime(5000);
      w.set('agent', false);
      // The caller answers: the count starts over, a prompt is due again first.
      w.set('caller', true);
      w.set('caller', false);
      vi.advanceTimersByTime(1000);
      expect(prompt).toHaveBeenCalledTimes(2);
      expect(giveUp).not.toHaveBeenCalled();
      vi.advanceTimersByTime(1000);
      expect(giveUp).toHaveBeenCalledTimes(1);
      w.stop();
    } finally {
      vi.useRealTimers();
    }
  });
});

describe('prompts', () => {
  it('ships every prompt as mono PCM16 WAV', async () => {
    for (const name of ['greeting', 'apology', 'still-there', 'goodbye'] as const) {
      const p = await loadPrompt(name);
      expect(p.sampleRateHz).toBe(16000);
      expect(p.samples.length).toBeGreaterThan(8000);
    }
  });

  it('rejects WAVs that are not mono 16-bit PCM', () => {
    const buf = Buffer.alloc(44);
    buf.write('RIFF', 0, 'ascii');
    buf.write('WAVE', 8, 'ascii');
    buf.write('fmt ', 12, 'ascii');
    buf.writeUInt32LE(16, 16);
    buf.writeUInt16LE(1, 20);
    buf.writeUInt16LE(2, 22); // stereo
    buf.writeUInt32LE(8000, 24);
    buf.writeUInt16LE(16, 34);
    expect(() => parseWav(buf, 'x.wav')).toThrow(/mono 16-bit/);
  });
});
