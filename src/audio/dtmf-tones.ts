/** DTMF's row and column frequencies (ITU-T Q.23), Hz. */
const ROWS = [697, 770, 852, 941];
const COLUMNS = [1209, 1336, 1477, 1633];
const KEYPAD = ['123A', '456B', '789C', '*0#D'];

/** The two frequencies of a DTMF digit, or undefined for anything else. */
export function dtmfFrequencies(digit: string): [number, number] | undefined {
  for (let r = 0; r < KEYPAD.length; r++) {
    const c = KEYPAD[r]!.indexOf(digit);
    if (digit.length === 1 && c >= 0) return [ROWS[r]!, COLUMNS[c]!];
  }
  return undefined;
}

/**
 * One digit as in-band audio at 8 kHz: `toneMs` of its two tones, each at -10 dBFS (well
 * inside Q.24's acceptance levels), then `gapMs` of silence so repeated digits stay apart.
 */
export function dtmfTone(digit: string, toneMs = 100, gapMs = 60): Int16Array {
  const f = dtmfFrequencies(digit);
  if (!f) throw new RangeError(`not a DTMF digit: ${digit}`);
  const rate = 8000;
  const out = new Int16Array(((toneMs + gapMs) * rate) / 1000);
  const amp = 32767 * Math.pow(10, -10 / 20);
  const n = (toneMs * rate) / 1000;
  for (let i = 0; i < n; i++) {
    const t = i / rate;
    out[i] = Math.round(
      amp * (Math.sin(2 * Math.PI * f[0] * t) + Math.sin(2 * Math.PI * f[1] * t)) * 0.5,
    );
  }
  return out;
}
