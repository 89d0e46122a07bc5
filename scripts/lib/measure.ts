/** Small helpers the measuring scripts share. */

/** The p-th percentile of ascending `sorted` (nearest rank), or undefined when empty. */
export function pct(sorted: number[], p: number): number | undefined {
  if (sorted.length === 0) return undefined;
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)];
}

/** Polls `check` every 20 ms until it holds (true) or `timeoutMs` passes (false). */
export async function until(check: () => boolean, timeoutMs: number): Promise<boolean> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (check()) return true;
    await sleep(20);
  }
  return false;
}

export function sleep(ms: number): Promise<void> {
  return new Promise((r) => setTimeout(r, ms));
}

/** p50/p95/n of each numeric column of `rows` (undefined cells left out). */
export function summarise(
  rows: Record<string, number | undefined>[],
  keys: string[],
): Record<string, { p50?: number; p95?: number; n: number }> {
  const out: Record<string, { p50?: number; p95?: number; n: number }> = {};
  for (const key of keys) {
    const v = rows.map((r) => r[key]).filter((x): x is number => x !== undefined);
    v.sort((a, b) => a - b);
    out[key] = { p50: pct(v, 50), p95: pct(v, 95), n: v.length };
  }
  return out;
}
