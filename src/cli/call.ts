/** `phonebridge call`: not built yet. */
export async function run(_argv: string[]): Promise<number> {
  console.error('phonebridge call is not available yet in this version.');
  return 2;
}
