import type { BenchResult } from './support.js';

export async function run(): Promise<BenchResult> {
  throw new Error('scale bench: not written yet');
}
