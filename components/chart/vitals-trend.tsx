import { scaleLinear, scaleUtc } from 'd3-scale';
import { line } from 'd3-shape';

export interface VitalsPoint {
  takenAt: string;
  heartRate: number;
  systolic: number;
  diastolic: number;
  temperatureC: number;
  spo2: number;
}

const WIDTH = 640;
const PANEL = 92;
const MARGIN = { top: 8, right: 56, bottom: 22, left: 44 };

const when = new Intl.DateTimeFormat('en-GB', { timeZone: 'UTC', day: '2-digit', month: 'short', hour: '2-digit', minute: '2-digit', hourCycle: 'h23' });
const day = new Intl.DateTimeFormat('en-GB', { timeZone: 'UTC', day: '2-digit', month: 'short' });

interface Series {
  key: string;
  label: string;
  unit: string;
  lines: Array<{ name: string; value: (p: VitalsPoint) => number; className: string }>;
  /** The usual adult range, shaded, so a reading outside it stands out. */
  normal: [number, number];
  floor: [number, number];
}

const series: Series[] = [
  { key: 'hr', label: 'Heart rate', unit: 'bpm', lines: [{ name: 'heart rate', value: (p) => p.heartRate, className: 'stroke-rose-700' }], normal: [60, 100], floor: [40, 140] },
  {
    key: 'bp', label: 'Blood pressure', unit: 'mmHg', normal: [60, 140], floor: [40, 180],
    lines: [
      { name: 'systolic', value: (p) => p.systolic, className: 'stroke-indigo-700' },
      { name: 'diastolic', value: (p) => p.diastolic, className: 'stroke-indigo-400' },
    ],
  },
  { key: 'temp', label: 'Temperature', unit: '°C', lines: [{ name: 'temperature', value: (p) => p.temperatureC, className: 'stroke-amber-700' }], normal: [36.1, 37.8], floor: [35, 40] },
  { key: 'spo2', label: 'SpO₂', unit: '%', lines: [{ name: 'SpO₂', value: (p) => p.spo2, className: 'stroke-teal-700' }], normal: [95, 100], floor: [85, 100] },
];

/** One sentence per measure: the latest value, its range over the period, and which way it moved. */
function describe(points: VitalsPoint[]): string {
  const first = points[0]!;
  const last = points.at(-1)!;
  const part = (label: string, unit: string, value: (p: VitalsPoint) => number) => {
    const values = points.map(value);
    const delta = value(last) - value(first);
    const trend = Math.abs(delta) < 1e-9 ? 'unchanged' : delta > 0 ? 'up' : 'down';
    return `${label} ${value(last)} ${unit} (range ${Math.min(...values)}–${Math.max(...values)}, ${trend})`;
  };
  return (
    `${points.length} readings from ${when.format(new Date(first.takenAt))} to ${when.format(new Date(last.takenAt))} UTC. Latest: ` +
    [
      part('heart rate', 'bpm', (p) => p.heartRate),
      `blood pressure ${last.systolic}/${last.diastolic} mmHg`,
      part('temperature', '°C', (p) => p.temperatureC),
      part('SpO₂', '%', (p) => p.spo2),
    ].join('; ') +
    '.'
  );
}

/**
 * Vitals as a trend: heart rate, blood pressure, temperature and SpO₂ over time, one panel
 * each on a shared time axis. Rendered on the server as plain SVG (d3-scale for the axes,
 * d3-shape for the lines), with a text summary for screen readers; the table stays beside it.
 */
export function VitalsTrend({ points }: { points: VitalsPoint[] }) {
  const sorted = [...points].sort((a, b) => a.takenAt.localeCompare(b.takenAt));
  if (sorted.length < 2) return null;
  const height = series.length * PANEL + MARGIN.top + MARGIN.bottom;
  const x = scaleUtc()
    .domain([new Date(sorted[0]!.takenAt), new Date(sorted.at(-1)!.takenAt)])
    .range([MARGIN.left, WIDTH - MARGIN.right]);
  const summary = describe(sorted);
  return (
    <figure className="space-y-1" data-testid="vitals-trend">
      <svg viewBox={`0 0 ${WIDTH} ${height}`} role="img" aria-labelledby="vitals-trend-title vitals-trend-desc" className="w-full">
        <title id="vitals-trend-title">Vitals over time</title>
        <desc id="vitals-trend-desc">{summary}</desc>
        {series.map((s, i) => {
          const top = MARGIN.top + i * PANEL;
          const values = sorted.flatMap((p) => s.lines.map((l) => l.value(p)));
          const y = scaleLinear()
            .domain([Math.min(s.floor[0], ...values), Math.max(s.floor[1], ...values)])
            .nice()
            .range([top + PANEL - 14, top + 4]);
          return (
            <g key={s.key} data-series={s.key}>
              <rect x={MARGIN.left} width={WIDTH - MARGIN.left - MARGIN.right} y={y(s.normal[1])} height={Math.max(0, y(s.normal[0]) - y(s.normal[1]))} className="fill-emerald-50" />
              <text x={4} y={top + 14} className="fill-slate-700 text-[10px] font-semibold">{s.label}</text>
              <text x={4} y={top + 26} className="fill-slate-600 text-[9px]">{s.unit}</text>
              {y.ticks(3).map((tick) => (
                <text key={tick} x={WIDTH - MARGIN.right + 6} y={y(tick)} dy="0.32em" className="fill-slate-600 text-[9px]">{tick}</text>
              ))}
              {s.lines.map((l) => (
                <g key={l.name}>
                  <path d={line<VitalsPoint>().x((p) => x(new Date(p.takenAt))).y((p) => y(l.value(p)))(sorted) ?? undefined}
                    className={`fill-none ${l.className}`} strokeWidth={1.75} data-line={l.name} />
                  {sorted.map((p) => (
                    <circle key={p.takenAt} cx={x(new Date(p.takenAt))} cy={y(l.value(p))} r={2.5} className={`fill-white ${l.className}`} strokeWidth={1.5} />
                  ))}
                </g>
              ))}
            </g>
          );
        })}
        {x.ticks(5).map((tick) => (
          <text key={tick.getTime()} x={x(tick)} y={height - 6} textAnchor="middle" className="fill-slate-600 text-[9px]">{day.format(tick)}</text>
        ))}
      </svg>
      <figcaption className="text-xs text-slate-600">{summary}</figcaption>
    </figure>
  );
}
