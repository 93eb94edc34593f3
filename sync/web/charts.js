// Line charts in SVG from the server's downsampled buckets (min, max and last per bucket):
// the line goes through each bucket's last value, a band spans its min..max so spikes stay
// visible however many steps were logged. Labels are set with textContent only.

import { num } from "./api.js";

const SVG = "http://www.w3.org/2000/svg";
export const COLORS = ["#0b62c4", "#d1242f", "#1a7f37", "#8250df", "#bf8700", "#0598bc",
  "#cf222e", "#57606a"];
const W = 400, H = 200, L = 48, R = 8, T = 8, B = 22;

function el(name, attrs) {
  const e = document.createElementNS(SVG, name);
  for (const [k, v] of Object.entries(attrs || {})) e.setAttribute(k, String(v));
  return e;
}

function short(v) {
  if (!isFinite(v)) return String(v);
  const a = Math.abs(v);
  if (a !== 0 && (a >= 1e5 || a < 1e-3)) return v.toExponential(2);
  return String(Number(v.toPrecision(4)));
}

/** series: [{label, color, buckets: [{x_min, x_max, vmin, vmax, vlast}]}] -> <svg>. */
export function drawChart(series) {
  const svg = el("svg", { viewBox: `0 0 ${W} ${H}`, class: "plot", preserveAspectRatio: "none" });
  const pts = series.map((s) =>
    s.buckets
      .map((b) => ({ x: (num(b.x_min) + num(b.x_max)) / 2, lo: num(b.vmin), hi: num(b.vmax),
        y: num(b.vlast) }))
      .filter((p) => isFinite(p.x)),
  );
  const xs = pts.flat().map((p) => p.x);
  const ys = pts.flat().flatMap((p) => [p.lo, p.hi, p.y]).filter((v) => isFinite(v));
  let drawn = 0;
  if (!xs.length || !ys.length) {
    const t = el("text", { x: W / 2, y: H / 2, "text-anchor": "middle" });
    t.textContent = "no numeric values";
    svg.append(t);
    svg.dataset.points = "0";
    return svg;
  }
  let [x0, x1] = [Math.min(...xs), Math.max(...xs)];
  let [y0, y1] = [Math.min(...ys), Math.max(...ys)];
  if (x1 === x0) { x0 -= 1; x1 += 1; }
  if (y1 === y0) { y0 -= Math.abs(y0) * 0.1 || 1; y1 += Math.abs(y1) * 0.1 || 1; }
  const sx = (x) => L + ((x - x0) / (x1 - x0)) * (W - L - R);
  const sy = (y) => T + (1 - (y - y0) / (y1 - y0)) * (H - T - B);
  svg.append(el("line", { x1: L, y1: H - B, x2: W - R, y2: H - B, class: "axis" }));
  svg.append(el("line", { x1: L, y1: T, x2: L, y2: H - B, class: "axis" }));
  const label = (x, y, text, anchor) => {
    const t = el("text", { x, y, "text-anchor": anchor });
    t.textContent = text;
    svg.append(t);
  };
  label(L - 4, T + 8, short(y1), "end");
  label(L - 4, H - B, short(y0), "end");
  label(L, H - 6, short(x0), "start");
  label(W - R, H - 6, short(x1), "end");
  pts.forEach((points, i) => {
    const color = series[i].color;
    const band = points.filter((p) => isFinite(p.lo) && isFinite(p.hi));
    if (band.length > 1) {
      const upper = band.map((p) => `${sx(p.x).toFixed(1)},${sy(p.hi).toFixed(1)}`);
      const lower = band.reverse().map((p) => `${sx(p.x).toFixed(1)},${sy(p.lo).toFixed(1)}`);
      svg.append(el("polygon", { points: upper.concat(lower).join(" "), class: "band",
        fill: color }));
    }
    // a gap (NaN) splits the line into runs of finite points
    let run = [];
    const flush = () => {
      if (run.length === 1) {
        const [cx, cy] = run[0].split(",");
        svg.append(el("circle", { cx, cy, r: 2, fill: color, class: "point" }));
      } else if (run.length > 1) {
        svg.append(el("polyline", { points: run.join(" "), class: "line", stroke: color }));
      }
      drawn += run.length;
      run = [];
    };
    for (const p of points) {
      if (isFinite(p.y)) run.push(`${sx(p.x).toFixed(1)},${sy(p.y).toFixed(1)}`);
      else flush();
    }
    flush();
  });
  svg.dataset.points = String(drawn);
  svg.dataset.xMax = String(x1);
  return svg;
}

/** A <figure> with a caption, a legend for several series, and the chart. */
export function chartFigure(title, series) {
  const fig = document.createElement("figure");
  fig.className = "chart";
  const cap = document.createElement("figcaption");
  cap.textContent = title;
  cap.title = title;
  fig.append(cap);
  if (series.length > 1) fig.append(legend(series));
  fig.append(drawChart(series));
  return fig;
}

export function legend(series) {
  const box = document.createElement("div");
  box.className = "legend";
  for (const s of series) {
    const item = document.createElement("span");
    const sw = document.createElement("span");
    sw.className = "swatch";
    sw.style.background = s.color;
    item.append(sw, document.createTextNode(s.label));
    box.append(item);
  }
  return box;
}
