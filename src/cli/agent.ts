/** `phonebridge agent`: not built yet. */
export async function run(_argv: string[]): Promise<number> {
  console.error('phonebridge agent is not available yet in this version.');
  return 2;
}
