// Two small SVG charts drawn by hand: temperature/pulse over time and
// fluid intake/output per observation.
import { h, s } from '../dom.js';
import { fmtShort } from '../format.js';
import { columnLabel } from './obs-table.js';

const W = 640;
const H = 260;
const M = { top: 24, right: 48, bottom: 34, left: 48 };
const TEMP = '#c62828';
const PULSE = '#1565c0';
const INTAKE = '#1f77b4';
const OUTPUT = '#d46a00';
const BALANCE = '#2e7d32';

function scale(d0, d1, r0, r1) {
  const span = d1 - d0 || 1;
  return (v) => r0 + ((v - d0) / span) * (r1 - r0);
}

function extent(values, lo, hi) {
  return [Math.min(lo, ...values), Math.max(hi, ...values)];
}

function frame(label, children) {
  return s('svg', { viewBox: `0 0 ${W} ${H}`, role: 'img', 'aria-label': label }, s('title', {}, label), children);
}

function legend(items) {
  return h('div', { class: 'legend' }, items.map(([text, colour]) => h('span', { style: { '--c': colour } }, text)));
}

function line(points, colour, dash = null) {
  if (points.length < 2) return null;
  const d = points.map(([x, y], i) => `${i ? 'L' : 'M'}${x.toFixed(1)},${y.toFixed(1)}`).join('');
  return s('path', { d, fill: 'none', stroke: colour, 'stroke-width': 2, 'stroke-dasharray': dash });
}

export function tempPulseChart(reports) {
  const withTemp = reports.filter((r) => r.fever != null);
  const withPulse = reports.filter((r) => r.pulse != null);
  const title = 'Temperature and pulse over time';
  if (!withTemp.length && !withPulse.length) {
    return h('figure', { class: 'chart' }, h('figcaption', {}, h('h3', {}, title)), h('p', { class: 'empty' }, 'No temperature or pulse recorded yet.'));
  }
  const times = reports.map((r) => new Date(r.time).getTime());
  let [t0, t1] = [Math.min(...times), Math.max(...times)];
  if (t1 - t0 < 3600e3) { t0 -= 1800e3; t1 += 1800e3; }
  const temps = withTemp.map((r) => Number(r.fever));
  const [c0, c1] = extent([...temps.map(Math.floor), ...temps.map(Math.ceil)], 35, 42);
  const pulses = withPulse.map((r) => r.pulse);
  const [p0, p1] = extent([...pulses.map((p) => Math.floor(p / 20) * 20), ...pulses.map((p) => Math.ceil(p / 20) * 20)], 40, 180);
  const x = scale(t0, t1, M.left + 10, W - M.right - 10);
  const yT = scale(c0, c1, H - M.bottom, M.top);
  const yP = scale(p0, p1, H - M.bottom, M.top);

  const grid = [];
  for (let c = c0; c <= c1; c += 1) {
    const y = yT(c);
    grid.push(s('line', { x1: M.left, x2: W - M.right, y1: y, y2: y, stroke: c === 38 ? '#e0a0a0' : '#e3e7eb', 'stroke-dasharray': c === 38 ? '4 3' : null }));
    grid.push(s('text', { x: M.left - 6, y: y + 4, 'text-anchor': 'end', class: 'tick' }, `${c}°`));
    const pulse = Math.round(p0 + ((c - c0) / (c1 - c0)) * (p1 - p0));
    grid.push(s('text', { x: W - M.right + 6, y: y + 4, class: 'tick' }, String(pulse)));
  }
  const ticks = [];
  const n = Math.min(5, reports.length);
  for (let i = 0; i < n; i += 1) {
    const t = n === 1 ? (t0 + t1) / 2 : t0 + ((t1 - t0) * i) / (n - 1);
    ticks.push(s('text', { x: x(t), y: H - M.bottom + 16, 'text-anchor': 'middle', class: 'tick' }, fmtShort(new Date(t).toISOString())));
  }
  const tempPts = withTemp.map((r) => [x(new Date(r.time).getTime()), yT(Number(r.fever)), r]);
  const pulsePts = withPulse.map((r) => [x(new Date(r.time).getTime()), yP(r.pulse), r]);
  const svg = frame(title, [
    s('g', { class: 'axis' }, grid, ticks,
      s('text', { x: M.left - 6, y: M.top - 12, 'text-anchor': 'end', class: 'tick' }, '°C'),
      s('text', { x: W - M.right + 6, y: M.top - 12, class: 'tick' }, '/min')),
    s('rect', { x: M.left, y: M.top, width: W - M.left - M.right, height: H - M.top - M.bottom, fill: 'none', stroke: '#c5ccd3' }),
    line(pulsePts, PULSE, '6 3'),
    line(tempPts, TEMP),
    pulsePts.map(([px, py, r]) => s('rect', { x: px - 4, y: py - 4, width: 8, height: 8, fill: PULSE },
      s('title', {}, `Pulse ${r.pulse}/min, ${fmtShort(r.time)}`))),
    tempPts.map(([px, py, r]) => s('circle', { cx: px, cy: py, r: 4.5, fill: TEMP },
      s('title', {}, `Fever ${r.fever} °C, ${fmtShort(r.time)}`))),
  ]);
  return h('figure', { class: 'chart', dataset: { chart: 'temp-pulse' } },
    h('figcaption', {}, h('h3', {}, title), legend([['Temperature (°C, left)', TEMP], ['Pulse (/min, right)', PULSE]])),
    svg);
}

export function fluidChart(reports) {
  const title = 'Fluid intake and output per observation';
  const rows = reports.filter((r) => r.intake_total || r.output_total);
  if (!rows.length) {
    return h('figure', { class: 'chart' }, h('figcaption', {}, h('h3', {}, title)), h('p', { class: 'empty' }, 'No fluid intake or output recorded yet.'));
  }
  const values = rows.flatMap((r) => [r.intake_total, r.output_total, r.fluid_balance]);
  let [v0, v1] = extent(values, 0, 100);
  const step = 10 ** Math.floor(Math.log10(Math.max(v1 - v0, 1))) / 2;
  v0 = Math.floor(v0 / step) * step;
  v1 = Math.ceil(v1 / step) * step;
  const y = scale(v0, v1, H - M.bottom, M.top);
  const band = (W - M.left - M.right) / rows.length;
  const bar = Math.min(28, band / 3);
  const cx = (i) => M.left + band * i + band / 2;

  const grid = [];
  const ticksN = 5;
  for (let i = 0; i <= ticksN; i += 1) {
    const v = v0 + ((v1 - v0) * i) / ticksN;
    grid.push(s('line', { x1: M.left, x2: W - M.right, y1: y(v), y2: y(v), stroke: v === 0 ? '#8a939e' : '#e3e7eb' }));
    grid.push(s('text', { x: M.left - 6, y: y(v) + 4, 'text-anchor': 'end', class: 'tick' }, String(Math.round(v))));
  }
  const every = Math.ceil(rows.length / 12); // keep labels readable
  const bars = rows.map((r, i) => [
    s('rect', { x: cx(i) - bar, y: y(r.intake_total), width: bar, height: Math.max(0, y(0) - y(r.intake_total)), fill: INTAKE },
      s('title', {}, `Intake ${r.intake_total} ml, ${fmtShort(r.time)}`)),
    s('rect', { x: cx(i), y: y(r.output_total), width: bar, height: Math.max(0, y(0) - y(r.output_total)), fill: OUTPUT },
      s('title', {}, `Output ${r.output_total} ml, ${fmtShort(r.time)}`)),
    i % every === 0 ? s('text', { x: cx(i), y: H - M.bottom + 16, 'text-anchor': 'middle', class: 'tick' }, columnLabel(r)) : null,
  ]);
  const balancePts = rows.map((r, i) => [cx(i), y(r.fluid_balance), r]);
  const svg = frame(title, [
    s('g', { class: 'axis' }, grid, s('text', { x: M.left - 6, y: M.top - 12, 'text-anchor': 'end', class: 'tick' }, 'ml')),
    bars,
    line(balancePts, BALANCE),
    balancePts.map(([px, py, r]) => s('circle', { cx: px, cy: py, r: 4, fill: BALANCE },
      s('title', {}, `Balance ${r.fluid_balance} ml, ${fmtShort(r.time)}`))),
  ]);
  return h('figure', { class: 'chart', dataset: { chart: 'fluids' } },
    h('figcaption', {}, h('h3', {}, title), legend([['Intake', INTAKE], ['Output', OUTPUT], ['Balance', BALANCE]])),
    svg);
}
