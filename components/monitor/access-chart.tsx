import { scaleLinear, scaleUtc } from 'd3-scale';
import { area, curveStepAfter, line } from 'd3-shape';

export interface AccessChartPoint {
  /** Start of the hour (ISO, UTC). */
  hour: string;
  accesses: number;
  denials: number;
}

const WIDTH = 720;
const HEIGHT = 220;
const MARGIN = { top: 12, right: 40, bottom: 28, left: 40 };
const HOUR_MS = 3_600_000;

const tickLabel = new Intl.DateTimeFormat('en-GB', { timeZone: 'UTC', day: '2-digit', month: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });

/**
 * Hourly accesses (and refusals) as a step chart, with the baseline and the threshold they are
 * judged against. Rendered on the server as plain SVG from counts and timestamps only (d3-scale
 * for the axes, d3-shape for the paths): no PHI, no client script.
 */
export function AccessChart({
  points,
  baseline,
  threshold,
  highlightHour,
  title,
}: {
  points: AccessChartPoint[];
  baseline?: number;
  threshold?: number;
  highlightHour?: string;
  title: string;
}) {
  if (points.length === 0) return null;
  const start = new Date(points[0]!.hour);
  const end = new Date(new Date(points.at(-1)!.hour).getTime() + HOUR_MS);
  const peak = Math.max(1, ...points.map((p) => p.accesses), threshold ?? 0, baseline ?? 0);
  const x = scaleUtc().domain([start, end]).range([MARGIN.left, WIDTH - MARGIN.right]);
  const y = scaleLinear().domain([0, peak * 1.1]).nice().range([HEIGHT - MARGIN.bottom, MARGIN.top]);
  // Step-after paths need the end of the last hour as a final point.
  const stepped = [...points.map((p) => ({ t: new Date(p.hour), ...p })), { t: end, ...points.at(-1)! }];
  const accessesArea = area<(typeof stepped)[number]>()
    .x((d) => x(d.t))
    .y0(y(0))
    .y1((d) => y(d.accesses))
    .curve(curveStepAfter)(stepped);
  const denialsLine = line<(typeof stepped)[number]>()
    .x((d) => x(d.t))
    .y((d) => y(d.denials))
    .curve(curveStepAfter)(stepped);
  const busiest = points.reduce((a, b) => (b.accesses > a.accesses ? b : a));
  const summary =
    `Busiest hour ${tickLabel.format(new Date(busiest.hour))} UTC with ${busiest.accesses} accesses` +
    (baseline !== undefined ? `; baseline ${baseline}` : '') +
    (threshold !== undefined ? `; threshold ${threshold}` : '') +
    '.';
  const highlight = highlightHour ? new Date(highlightHour) : null;

  return (
    <figure className="space-y-2">
      <svg viewBox={`0 0 ${WIDTH} ${HEIGHT}`} role="img" aria-label={title} className="w-full rounded border border-slate-200 bg-white" data-testid="access-chart">
        <title>{title}</title>
        <desc>{summary}</desc>
        {highlight && (
          <rect x={x(highlight)} y={MARGIN.top} width={Math.max(2, x(new Date(highlight.getTime() + HOUR_MS)) - x(highlight))} height={HEIGHT - MARGIN.top - MARGIN.bottom} className="fill-amber-100" />
        )}
        {y.ticks(5).map((tick) => (
          <g key={`y${tick}`}>
            <line x1={MARGIN.left} x2={WIDTH - MARGIN.right} y1={y(tick)} y2={y(tick)} className="stroke-slate-100" />
            <text x={MARGIN.left - 6} y={y(tick)} dy="0.32em" textAnchor="end" className="fill-slate-500 text-[10px]">{tick}</text>
          </g>
        ))}
        {x.ticks(6).map((tick) => (
          <text key={`x${tick.getTime()}`} x={x(tick)} y={HEIGHT - 8} textAnchor="middle" className="fill-slate-500 text-[10px]">
            {tickLabel.format(tick)}
          </text>
        ))}
        <path d={accessesArea ?? undefined} className="fill-calm/30 stroke-calm" strokeWidth={1.5} data-series="accesses" />
        <path d={denialsLine ?? undefined} className="fill-none stroke-red-600" strokeWidth={1.5} data-series="denials" />
        {baseline !== undefined && (
          <line x1={MARGIN.left} x2={WIDTH - MARGIN.right} y1={y(baseline)} y2={y(baseline)} className="stroke-slate-500" strokeDasharray="4 3" data-series="baseline" />
        )}
        {threshold !== undefined && (
          <line x1={MARGIN.left} x2={WIDTH - MARGIN.right} y1={y(threshold)} y2={y(threshold)} className="stroke-red-700" strokeDasharray="6 3" data-series="threshold" />
        )}
        <line x1={MARGIN.left} x2={WIDTH - MARGIN.right} y1={y(0)} y2={y(0)} className="stroke-slate-300" />
      </svg>
      <figcaption className="flex flex-wrap gap-4 text-xs text-slate-600">
        <span><span className="mr-1 inline-block h-2 w-4 bg-calm/40 align-middle" />Accesses per hour</span>
        <span><span className="mr-1 inline-block h-0.5 w-4 bg-red-600 align-middle" />Refused requests</span>
        {baseline !== undefined && <span><span className="mr-1 inline-block w-4 border-t-2 border-dashed border-slate-500 align-middle" />Baseline ({baseline})</span>}
        {threshold !== undefined && <span><span className="mr-1 inline-block w-4 border-t-2 border-dashed border-red-700 align-middle" />Threshold ({threshold})</span>}
        <span className="text-slate-500">Times in UTC. {summary}</span>
      </figcaption>
    </figure>
  );
}
