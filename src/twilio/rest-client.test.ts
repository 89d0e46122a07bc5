import { describe, expect, it } from 'vitest';
import { rebaseTwilioUrl } from './rest-client.js';

describe('rebaseTwilioUrl', () => {
  const uri = 'https://api.twilio.com/2010-04-01/Accounts/AC1/Calls/CA1.json?x=1';

  it('sends every request to TWILIO_API_BASE_URL, whatever host, region or edge the client chose', () => {
    expect(rebaseTwilioUrl(uri, 'http://127.0.0.1:4010')).toBe(
      'http://127.0.0.1:4010/2010-04-01/Accounts/AC1/Calls/CA1.json?x=1',
    );
    expect(
      rebaseTwilioUrl(
        'https://api.dublin.ie1.twilio.com/2010-04-01/Accounts/AC1/Calls.json',
        'http://emu.test/twilio/',
      ),
    ).toBe('http://emu.test/twilio/2010-04-01/Accounts/AC1/Calls.json');
  });

  it("leaves Twilio's own URLs alone by default, so TWILIO_REGION and TWILIO_EDGE still apply", () => {
    expect(rebaseTwilioUrl(uri, 'https://api.twilio.com')).toBe(uri);
    const regional = 'https://api.sydney.au1.twilio.com/2010-04-01/Accounts/AC1/Calls.json';
    expect(rebaseTwilioUrl(regional, 'https://api.twilio.com/')).toBe(regional);
  });
});
