/** What the emulation knows about one call: the fields of Twilio's Calls resource. */
export interface CallResourceState {
  sid: string;
  accountSid: string;
  to: string;
  from: string;
  status: string;
  dateCreated: Date;
  dateUpdated: Date;
  startTime?: Date;
  endTime?: Date;
  durationSeconds?: number;
  answeredBy?: string;
}

const rfc2822 = (d: Date | undefined): string | null =>
  d ? d.toUTCString().replace('GMT', '+0000') : null;

/** `(415) 555-1212` for North American numbers, the number itself otherwise, as Twilio does. */
function formatted(n: string): string {
  const m = /^\+1(\d{3})(\d{3})(\d{4})$/.exec(n);
  return m ? `(${m[1]}) ${m[2]}-${m[3]}` : n;
}

/** The Calls resource as Twilio's REST API answers it (2010-04-01, JSON). */
export function callResourceJson(c: CallResourceState): Record<string, unknown> {
  const base = `/2010-04-01/Accounts/${c.accountSid}/Calls/${c.sid}`;
  return {
    account_sid: c.accountSid,
    annotation: null,
    answered_by: c.answeredBy ?? null,
    api_version: '2010-04-01',
    caller_name: null,
    date_created: rfc2822(c.dateCreated),
    date_updated: rfc2822(c.dateUpdated),
    direction: 'outbound-api',
    duration: c.durationSeconds === undefined ? null : String(c.durationSeconds),
    end_time: rfc2822(c.endTime),
    forwarded_from: null,
    from: c.from,
    from_formatted: formatted(c.from),
    group_sid: null,
    parent_call_sid: null,
    phone_number_sid: null,
    price: null,
    price_unit: 'USD',
    sid: c.sid,
    start_time: rfc2822(c.startTime),
    status: c.status,
    subresource_uris: {
      notifications: `${base}/Notifications.json`,
      recordings: `${base}/Recordings.json`,
      payments: `${base}/Payments.json`,
      events: `${base}/Events.json`,
      siprec: `${base}/Siprec.json`,
      streams: `${base}/Streams.json`,
    },
    to: c.to,
    to_formatted: formatted(c.to),
    trunk_sid: null,
    uri: `${base}.json`,
    queue_time: '0',
  };
}

/** Twilio's error body: `{code, message, more_info, status}`. */
export function twilioErrorJson(
  status: number,
  code: number,
  message: string,
): { status: number; body: Record<string, unknown> } {
  return {
    status,
    body: { code, message, more_info: `https://www.twilio.com/docs/errors/${code}`, status },
  };
}
