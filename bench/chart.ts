import type { LatencySeries } from './support.js';

/** Placeholder until the chart is drawn. */
export function latencyChart(series: LatencySeries[], at: string): string {
  return `<svg xmlns="http://www.w3.org/2000/svg"><!-- ${series.length} series at ${at} --></svg>\n`;
}
