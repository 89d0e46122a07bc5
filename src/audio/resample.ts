/**
 * Band-limited resampling by a windowed sinc (Blackman window, 16 zero crossings each
 * side of the output rate's Nyquist). Written here rather than using rtc-node's native
 * AudioResampler because loading rtc-node's FFI keeps a CLI process alive after its work
 * is done, and sox would be one more program to install. Not on any real-time path:
 * sources are converted once before a call starts.
 */
export function resample(input: Float32Array, fromHz: number, toHz: number): Float32Array {
  if (fromHz === toHz) return input.slice();
  const step = fromHz / toHz; // input samples per output sample
  const ratio = Math.min(1, toHz / fromHz); // cutoff relative to the input rate's Nyquist
  const cutoff = ratio * 0.95; // a little guard band below the new Nyquist
  const zeroCrossings = 16;
  const halfWidth = Math.ceil(zeroCrossings / cutoff);
  const outLength = Math.floor((input.length * toHz) / fromHz);
  const out = new Float32Array(outLength);
  for (let j = 0; j < outLength; j++) {
    const t = j * step;
    const center = Math.floor(t);
    let acc = 0;
    for (let i = center - halfWidth + 1; i <= center + halfWidth; i++) {
      if (i < 0 || i >= input.length) continue;
      const x = t - i;
      const w = x / halfWidth; // -1..1 across the window
      if (w <= -1 || w >= 1) continue;
      const blackman = 0.42 + 0.5 * Math.cos(Math.PI * w) + 0.08 * Math.cos(2 * Math.PI * w);
      const arg = Math.PI * cutoff * x;
      const sinc = arg === 0 ? 1 : Math.sin(arg) / arg;
      acc += input[i]! * cutoff * sinc * blackman;
    }
    out[j] = acc;
  }
  return out;
}
