import twilio from 'twilio';
import { describe, expect, it } from 'vitest';
import { isPbError } from '../errors.js';
import { describeVerb, parseTwiml } from './twiml.js';

describe('parseTwiml', () => {
  it('reads <Connect><Stream> with its <Parameter>s', () => {
    const vr = new twilio.twiml.VoiceResponse();
    const stream = vr.connect().stream({ url: 'wss://pb.example.com/media-stream' });
    stream.parameter({ name: 'callSid', value: 'CA123' });
    stream.parameter({ name: 'streamToken', value: 'a&b<c>"d' });
    vr.say('Goodbye.');
    const verbs = parseTwiml(vr.toString());
    expect(verbs).toEqual([
      {
        verb: 'Connect',
        nouns: ['Stream'],
        stream: {
          url: 'wss://pb.example.com/media-stream',
          parameters: { callSid: 'CA123', streamToken: 'a&b<c>"d' },
        },
      },
      { verb: 'Say', text: 'Goodbye.' },
    ]);
    expect(describeVerb(verbs[0]!)).toBe('Connect>Stream(wss://pb.example.com/media-stream)');
  });

  it('reads <Reject reason="busy"/> and defaults the reason to rejected', () => {
    expect(parseTwiml('<Response><Reject reason="busy"/></Response>')).toEqual([
      { verb: 'Reject', reason: 'busy' },
    ]);
    expect(parseTwiml('<Response><Reject/></Response>')).toEqual([
      { verb: 'Reject', reason: 'rejected' },
    ]);
  });

  it('reads <Say> then <Hangup/>', () => {
    const vr = new twilio.twiml.VoiceResponse();
    vr.say({ voice: 'alice' }, 'Sorry, we are busy.');
    vr.hangup();
    expect(parseTwiml(vr.toString())).toEqual([
      { verb: 'Say', text: 'Sorry, we are busy.', voice: 'alice' },
      { verb: 'Hangup' },
    ]);
  });

  it('reads <Dial><Sip>', () => {
    const vr = new twilio.twiml.VoiceResponse();
    vr.dial().sip('sip:room-1@sip.example.com;transport=tcp');
    expect(parseTwiml(vr.toString())).toEqual([
      { verb: 'Dial', sip: ['sip:room-1@sip.example.com;transport=tcp'], numbers: [] },
    ]);
  });

  it('keeps unknown verbs as Other and rejects non-TwiML', () => {
    expect(parseTwiml('<Response><Gather/></Response>')).toEqual([
      { verb: 'Other', name: 'Gather' },
    ]);
    for (const bad of ['not xml <', '<Html></Html>', '<Response><Say></Response>']) {
      let caught: unknown;
      try {
        parseTwiml(bad);
      } catch (err) {
        caught = err;
      }
      expect(isPbError(caught, 'PB_ERR_SIM'), bad).toBe(true);
    }
  });
});
