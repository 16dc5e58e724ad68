import { useEffect, useRef } from 'preact/hooks';
import uPlot from 'uplot';
import 'uplot/dist/uPlot.min.css';

export interface ChartSeries {
  label: string;
  color: string;
  values: number[];
  dash?: number[];
}

/** A uPlot time-series chart; the data is replaced in place as it changes (one plot per mount, no leak). */
export function TimeChart({ title, times, series }: { title: string; times: number[]; series: ChartSeries[] }) {
  const container = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlot | null>(null);
  const shape = series.map((s) => s.label).join('|');

  useEffect(() => {
    const element = container.current;
    if (!element) return;
    const options: uPlot.Options = {
      width: Math.max(320, element.clientWidth),
      height: 260,
      series: [{}, ...series.map((s) => ({ label: s.label, stroke: s.color, width: 2, ...(s.dash ? { dash: s.dash } : {}) }))],
      axes: [{}, { label: 'Emails' }],
      scales: { x: { time: true } },
    };
    plot.current = new uPlot(options, [times, ...series.map((s) => s.values)], element);
    const resize = () => plot.current?.setSize({ width: Math.max(320, element.clientWidth), height: 260 });
    window.addEventListener('resize', resize);
    return () => {
      window.removeEventListener('resize', resize);
      plot.current?.destroy();
      plot.current = null;
    };
  }, [shape]);

  useEffect(() => {
    plot.current?.setData([times, ...series.map((s) => s.values)]);
  }, [times, series]);

  return (
    <figure class="chart">
      <figcaption>{title}</figcaption>
      <div ref={container} role="img" aria-label={`${title}: a chart of ${series.map((s) => s.label).join(', ')}; the table holds the same numbers`} />
    </figure>
  );
}
