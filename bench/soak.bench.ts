import type { BenchResult } from './support.js';

export async function run(): Promise<BenchResult> {
  throw new Error('soak bench: not written yet');
}
