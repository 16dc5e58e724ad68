import type { BenchResult } from './support.js';

export async function run(): Promise<BenchResult> {
  throw new Error('intake bench: not written yet');
}
