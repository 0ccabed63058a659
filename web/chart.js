// A time-series chart: uPlot (served from node_modules, no build), sized to its container. Each
// series has its own dash pattern and a legend label, so colour is never the only signal.
import uPlot from './uplot.mjs';
import { useLayoutEffect, useRef } from './hooks.mjs';
import { html } from './ui.js';

const HEIGHT = 220;

/**
 * `x` is seconds since the epoch; each series is `{ label, color, dash, values }` (null leaves a
 * gap). `summary` is read by screen readers in place of the canvas.
 */
export function TimeChart({ title, testid, x, series, unit, summary }) {
  const box = useRef();
  const plot = useRef();
  // the data the plot draws now: a plot is created with its data, so it is not given it twice
  const shown = useRef();
  // Layout effects: the plot is drawn before the page is first painted with its data, not a frame
  // after (the browser would show an empty box first and lay the page out twice).
  useLayoutEffect(() => {
    // the element, kept: the ref is cleared before this effect's cleanup runs
    const element = box.current;
    const options = {
      width: Math.max(element.clientWidth, 200),
      height: HEIGHT,
      legend: { live: true },
      cursor: { drag: { x: false, y: false } },
      scales: { y: { range: (_u, min, max) => [0, Math.max(max ?? 0, unit === 'ms' ? 10 : 1) * 1.1] } },
      axes: [{}, { label: unit, size: 50 }],
      series: [
        { label: 'time' },
        ...series.map((s) => ({
          label: s.label,
          stroke: s.color,
          dash: s.dash,
          width: 2,
          spanGaps: false,
          value: (_u, v) => (v == null ? '—' : `${v}${unit === 'ms' ? ' ms' : ''}`),
        })),
      ],
    };
    plot.current = new uPlot(options, [x, ...series.map((s) => s.values)], element);
    shown.current = { x, series };
    // it reports the size once when observing starts too: the plot already has that one
    const resize = new ResizeObserver(() => {
      const width = Math.max(element.clientWidth, 200);
      if (plot.current && plot.current.width !== width) plot.current.setSize({ width, height: HEIGHT });
    });
    resize.observe(element);
    return () => {
      resize.disconnect();
      plot.current.destroy();
      plot.current = undefined;
    };
    // the series' look is fixed per chart; only the data changes
  }, [series.length]);
  useLayoutEffect(() => {
    if (shown.current?.x === x && shown.current.series === series) return;
    shown.current = { x, series };
    plot.current?.setData([x, ...series.map((s) => s.values)]);
  }, [x, series]);
  return html`
    <figure class="card chart" data-testid=${testid}>
      <figcaption><h3 class="card-title">${title}</h3></figcaption>
      <p class="sr-only">${summary}</p>
      <div class="chart-box" ref=${box} aria-hidden="true"></div>
    </figure>`;
}
