import type { LatencySeries } from './support.js';

/**
 * The latency distributions of a bench run as one SVG: latency (log scale) against percentile on a "nines"
 * axis (p50, p90, p99, p99.9, max), one line per series, so tails are as visible as medians. No dependencies:
 * the file is plain SVG that a browser, GitHub or an image viewer shows.
 */
export function latencyChart(series: LatencySeries[], at: string): string {
  const plot = { left: 70, top: 50, width: 620, height: 420 };
  const legendX = plot.left + plot.width + 30;
  const width = legendX + 470;
  const height = Math.max(plot.top + plot.height + 60, plot.top + 20 + series.length * 20);

  const lines = series.map((s) => ({ ...s, points: s.points.filter(([, ms]) => Number.isFinite(ms) && ms >= 0) }));
  const values = lines.flatMap((s) => s.points.map(([, ms]) => Math.max(ms, MIN_MS)));
  const low = Math.floor(Math.log10(Math.min(...values, 1)));
  const high = Math.ceil(Math.log10(Math.max(...values, 10)));
  const x = (percentile: number) => plot.left + (nines(percentile) / MAX_NINES) * plot.width;
  const y = (ms: number) => plot.top + plot.height - ((Math.log10(Math.max(ms, MIN_MS)) - low) / (high - low)) * plot.height;

  const out: string[] = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" viewBox="0 0 ${width} ${height}" font-family="system-ui, sans-serif" font-size="12">`,
    `<rect width="100%" height="100%" fill="white"/>`,
    `<text x="${plot.left}" y="24" font-size="16" font-weight="600">Latency distributions (npm run bench)</text>`,
    `<text x="${plot.left}" y="40" fill="#555">${escape(at)} · lower is better · log scale</text>`,
  ];
  for (let power = low; power <= high; power++) {
    const ms = 10 ** power;
    out.push(`<line x1="${plot.left}" x2="${plot.left + plot.width}" y1="${y(ms)}" y2="${y(ms)}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${plot.left - 8}" y="${y(ms) + 4}" text-anchor="end">${ms >= 1 ? ms : ms.toFixed(-power)} ms</text>`);
  }
  for (const [label, percentile] of TICKS) {
    out.push(`<line x1="${x(percentile)}" x2="${x(percentile)}" y1="${plot.top}" y2="${plot.top + plot.height}" stroke="#e5e5e5"/>`);
    out.push(`<text x="${x(percentile)}" y="${plot.top + plot.height + 18}" text-anchor="middle">${label}</text>`);
  }
  out.push(
    `<text x="${plot.left + plot.width / 2}" y="${plot.top + plot.height + 40}" text-anchor="middle" fill="#555">percentile of requests / events</text>`,
  );
  out.push(`<rect x="${plot.left}" y="${plot.top}" width="${plot.width}" height="${plot.height}" fill="none" stroke="#999"/>`);

  const benches = [...new Set(lines.map((s) => s.bench))];
  lines.forEach((s, i) => {
    const color = COLORS[i % COLORS.length]!;
    const dash = DASHES[benches.indexOf(s.bench) % DASHES.length]!;
    const path = s.points.map(([p, ms]) => `${x(p).toFixed(1)},${y(ms).toFixed(1)}`).join(' ');
    out.push(`<polyline points="${path}" fill="none" stroke="${color}" stroke-width="2" stroke-dasharray="${dash}"/>`);
    const legendY = plot.top + 10 + i * 20;
    out.push(
      `<line x1="${legendX}" x2="${legendX + 28}" y1="${legendY - 4}" y2="${legendY - 4}" stroke="${color}" stroke-width="2" stroke-dasharray="${dash}"/>`,
    );
    const p99 = s.points.find(([p]) => p === 99)?.[1];
    const label = `${s.bench}: ${s.name}${p99 === undefined ? '' : ` (p99 ${p99 < 10 ? p99.toFixed(1) : Math.round(p99)} ms)`}`;
    out.push(`<text x="${legendX + 36}" y="${legendY}">${escape(label)}</text>`);
  });
  out.push('</svg>');
  return `${out.join('\n')}\n`;
}

const MIN_MS = 0.01;
/** The max is drawn at 3.5 nines, just right of p99.9. */
const MAX_NINES = 3.5;
const TICKS: Array<[string, number]> = [
  ['p0', 0],
  ['p50', 50],
  ['p90', 90],
  ['p99', 99],
  ['p99.9', 99.9],
  ['max', 100],
];
const COLORS = ['#1f77b4', '#d62728', '#2ca02c', '#ff7f0e', '#9467bd', '#8c564b', '#e377c2', '#17becf', '#7f7f7f', '#bcbd22'];
const DASHES = ['none', '6 3', '2 2', '8 3 2 3'];

/** How many nines a percentile has: p90 → 1, p99 → 2, p99.9 → 3; the max is placed at MAX_NINES. */
function nines(percentile: number): number {
  return percentile >= 100 ? MAX_NINES : Math.min(MAX_NINES, -Math.log10(1 - percentile / 100));
}

function escape(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
}
