// processtwin live dashboard: one WebSocket, Plotly trends, proposals, audit, data quality.
"use strict";
const WINDOW_S = 600;          // at most this many seconds of trend are shown
const FLUSH_MS = 500;          // redraw at 2 Hz
const QUALITY_MS = 3000;       // the data-quality panel polls GET /api/v1/quality
const QCATS = ["good", "uncertain", "bad", "imputed"];
// non-good telemetry on the trends: one marker trace per series and category
// (not in the legends: the footer explains the symbols, the hover text names the quality)
const MARKS = { uncertain: { symbol: "triangle-up-open", color: "#b7791f" },
  bad: { symbol: "x-thin-open", color: "#742a2a" } };
const state = { twin: null, buffers: {}, proposals: new Map(), lastUpdate: null, first: null,
  twinOf: {}, earliest: {}, backfilled: false };

const TRACES = {
  "chart-temp": { title: "Temperatures (°C)", series: [
    ["telemetry", "T_R", "T_R (TT101)"], ["telemetry", "T_R_B", "T_R (TT102)"],
    ["telemetry", "T_K", "T_K (TT201)"]] },
  "chart-conc": { title: "Concentrations (mol/l): estimates ±2σ and analyser", series: [
    ["estimates", "C_b", "C_b estimate"], ["estimates", "C_a", "C_a estimate"],
    ["telemetry", "C_b_lab", "C_b analyser (AT101)"]] },
  "chart-inputs": { title: "Inputs: feed F (1/h) and jacket duty Q̇ (kJ/h)", series: [
    ["telemetry", "F", "F (FT101)"], ["telemetry", "Q", "Q̇ (JQ101)"]] },
};

function qmark(q) { return !q ? "" : q.startsWith("good") ? "○" : q.startsWith("uncertain") ? "△" : "✕"; }
function fmt(v, d = 3) { return v === null || v === undefined ? "–" : Number(v).toFixed(d); }
function tstr(ts) { return ts ? new Date(ts * 1000).toLocaleTimeString() : "–"; }
function esc(s) { return String(s).replace(/[&<>"']/g, c => `&#${c.charCodeAt(0)};`); }
function pct(x) { return x === null || x === undefined ? "–" : (100 * x).toFixed(1) + " %"; }
function ago(ts) {
  if (!ts) return "–";
  const s = Math.max(0, Date.now() / 1000 - ts);
  return s < 90 ? `${Math.round(s)} s ago` : s < 5400 ? `${Math.round(s / 60)} min ago` : `${(s / 3600).toFixed(1)} h ago`;
}

function initCharts() {
  for (const [id, spec] of Object.entries(TRACES)) {
    const traces = [];
    spec.series.forEach(([kind, name, label], i) => {
      const yaxis = id === "chart-inputs" && name === "Q" ? "y2" : "y";
      if (kind === "estimates") {
        traces.push({ x: [], y: [], text: [], name: label + " −2σ", mode: "lines", line: { width: 0 }, showlegend: false, hoverinfo: "skip", yaxis });
        traces.push({ x: [], y: [], text: [], name: label + " ±2σ", mode: "lines", line: { width: 0 }, fill: "tonexty", fillcolor: "rgba(49,130,206,0.18)", hoverinfo: "skip", yaxis });
        traces.push({ x: [], y: [], text: [], name: label, mode: "lines", yaxis });
      } else {
        const markers = name === "C_b_lab";
        traces.push({ x: [], y: [], text: [], name: label, mode: markers ? "markers" : "lines", yaxis });
        for (const [cat, m] of Object.entries(MARKS)) {
          traces.push({ x: [], y: [], text: [], name: cat, showlegend: false, mode: "markers", yaxis,
            marker: { symbol: m.symbol, color: m.color, size: 8, line: { width: 1.5, color: m.color } },
            hovertemplate: `${label} %{y} · %{text}<extra></extra>` });
        }
      }
    });
    const layout = { title: { text: spec.title, font: { size: 13 } }, margin: { l: 50, r: 50, t: 30, b: 30 },
      legend: { orientation: "h", y: -0.15 }, xaxis: { type: "date" } };
    if (id === "chart-inputs") layout.yaxis2 = { overlaying: "y", side: "right" };
    Plotly.newPlot(id, traces, layout, { displayModeBar: false, responsive: true });
  }
}

function emptyBuf() { return { x: [], y: [], lo: [], hi: [], text: [], uncertain: { x: [], y: [], text: [] }, bad: { x: [], y: [], text: [] } }; }
function buf(key) { return (state.buffers[key] ??= emptyBuf()); }

// a telemetry sample on its trend, and on the marker trace of its quality when not good
function pushSample(b, ms, value, quality) {
  b.x.push(new Date(ms)); b.y.push(value); b.text.push(quality ?? "");
  const cat = !quality || quality.startsWith("good") ? null : quality.startsWith("uncertain") ? "uncertain" : "bad";
  if (cat) { b[cat].x.push(new Date(ms)); b[cat].y.push(value); b[cat].text.push(quality); }
}

// the trends start with the stored history of the last WINDOW_S (raw, every quality),
// placed before the first live sample of each series
async function backfill() {
  const start = Date.now() / 1000 - WINDOW_S;
  for (const [id, spec] of Object.entries(TRACES)) {
    let ti = 0;
    for (const [kind, name] of spec.series) {
      const twin = state.twinOf[name];
      if (kind === "telemetry" && twin) {
        try {
          const r = await fetch(`/api/v1/twins/${encodeURIComponent(twin)}/history/${encodeURIComponent(name)}?start=${start}&max_quality=2`);
          if (r.ok) prependHistory(id, ti, "telemetry:" + name, (await r.json()).points);
        } catch (e) { /* no history: the trend starts live */ }
      }
      ti += 3;
    }
  }
}

function prependHistory(id, ti, key, points) {
  const before = state.earliest[key] ?? Infinity;
  const rows = points.filter(p => p[1] !== null && Date.parse(p[0]) < before);
  if (!rows.length) return;
  const b = emptyBuf(), every = Math.ceil(rows.length / 2000);  // thin the line, keep every mark
  rows.forEach(([iso, v, q], i) => {
    const ms = Date.parse(iso);
    if (i % every === 0 || (q && !q.startsWith("good"))) pushSample(b, ms, v, q);
  });
  state.first = Math.min(state.first ?? Infinity, b.x[0].getTime());
  Plotly.prependTraces(id, { x: [b.x, b.uncertain.x, b.bad.x], y: [b.y, b.uncertain.y, b.bad.y],
    text: [b.text, b.uncertain.text, b.bad.text] }, [ti, ti + 1, ti + 2]);
}

function onPoints(kind, points) {
  for (const [name, row] of Object.entries(points)) {
    const [ts, value, extra] = row;
    if (ts === null || value === null) continue;
    const b = buf(kind + ":" + name);
    state.earliest[kind + ":" + name] ??= ts * 1000;
    if (state.first === null || ts * 1000 < state.first) state.first = ts * 1000;
    if (kind === "estimates") {
      const s = extra ?? 0;
      b.x.push(new Date(ts * 1000)); b.y.push(value); b.lo.push(value - 2 * s); b.hi.push(value + 2 * s);
    } else pushSample(b, ts * 1000, value, extra);
    updateKpi(kind, name, value, extra);
  }
}

function updateKpi(kind, name, value, extra) {
  const id = "kpi-" + kind + "-" + name;
  let el = document.getElementById(id);
  if (!el) {
    el = document.createElement("div"); el.className = "kpi"; el.id = id;
    el.innerHTML = `<div class="muted">${kind === "estimates" ? "est. " : ""}${name}</div><div class="v"></div>`;
    document.getElementById("kpis").appendChild(el);
  }
  const v = el.querySelector(".v");
  if (kind === "estimates") v.textContent = `${fmt(value)} ± ${fmt(extra)}`;
  else {
    v.textContent = `${fmt(value, 2)} ${qmark(extra)}`;
    v.className = "v " + (extra && !extra.startsWith("good") ? "q-" + extra.split(":")[0] : "");
    v.title = extra || "";
  }
}

function flush() {
  const cutoff = Math.max(Date.now() - WINDOW_S * 1000, state.first ?? Date.now());
  for (const [id, spec] of Object.entries(TRACES)) {
    const xs = [], ys = [], texts = [], idx = [];
    let ti = 0;
    spec.series.forEach(([kind, name]) => {
      const b = state.buffers[kind + ":" + name];
      if (b && b.x.length) {  // three traces per series: band edges and mean, or values and marks
        if (kind === "estimates") {
          xs.push(b.x, b.x, b.x); ys.push(b.lo, b.hi, b.y); texts.push([], [], []);
        } else {
          xs.push(b.x, b.uncertain.x, b.bad.x); ys.push(b.y, b.uncertain.y, b.bad.y);
          texts.push(b.text, b.uncertain.text, b.bad.text);
        }
        idx.push(ti, ti + 1, ti + 2);
        state.buffers[kind + ":" + name] = emptyBuf();
      }
      ti += 3;
    });
    if (idx.length) Plotly.extendTraces(id, { x: xs, y: ys, text: texts }, idx, 4000);
    const gd = document.getElementById(id);
    if (gd && gd.layout) Plotly.relayout(id, { "xaxis.range": [new Date(cutoff), new Date()] });
  }
  document.getElementById("last-update").textContent = state.lastUpdate ? state.lastUpdate.toLocaleTimeString() : "never";
}

function renderProposals() {
  const tbody = document.querySelector("#proposals tbody");
  const rows = [...state.proposals.values()].sort((a, b) => b.created - a.created).slice(0, 12);
  tbody.innerHTML = "";
  for (const p of rows) {
    const tr = document.createElement("tr");
    tr.dataset.id = p.id;
    const reasons = (p.verdict?.reasons || []).join("; ");
    tr.innerHTML = `<td>${tstr(p.created)}</td><td>${p.origin}</td><td>${fmt(p.inputs.F, 2)}</td>
      <td>${fmt(p.inputs.Q, 0)}</td><td>${fmt(p.predicted?.C_b)}</td><td title="${reasons}">${p.status}</td><td></td>`;
    if (p.status === "pending") {
      const btn = document.createElement("button");
      btn.textContent = "approve"; btn.className = "approve";
      btn.onclick = () => approve(p.id);
      tr.lastElementChild.appendChild(btn);
    }
    tbody.appendChild(tr);
  }
}

function addAudit(e) {
  const ol = document.getElementById("audit");
  const li = document.createElement("li");
  const d = e.data || {};
  const what = e.kind === "verdict" && d.verdict ? `${d.verdict.outcome}: ${(d.verdict.reasons || []).join("; ") || "all checks passed"}`
    : e.kind === "applied" ? `applied ${JSON.stringify(d.inputs)}` : JSON.stringify(d).slice(0, 120);
  li.textContent = `${tstr(e.ts)} ${e.kind} ${what}`;
  ol.prepend(li);
  while (ol.children.length > 50) ol.lastElementChild.remove();
}

function renderHealth(h) {
  const tbody = document.querySelector("#health tbody");
  const m = h.model || {};
  const rows = [["sync latency", fmt(h.sync_latency_s, 3) + " s"], ["staleness", fmt(h.staleness_s, 2) + " s"],
    ["sensor coverage", h.sensor_coverage === null ? "–" : Math.round(h.sensor_coverage * 100) + " %"]];
  for (const [name, o] of Object.entries(m.outputs || {})) rows.push([`model RMSE ${name}`, `${fmt(o.rmse)} (R² ${fmt(o.r2)})`]);
  tbody.innerHTML = rows.map(([k, v]) => `<tr><td>${k}</td><td>${v}</td></tr>`).join("");
}

function renderQuality(body) {
  const rows = body.points || [];
  if (rows.length) document.getElementById("quality-window").textContent = `· shares over the last ${Math.round(rows[0].window_s / 60)} min`;
  document.querySelector("#quality tbody").innerHTML = rows.map(p => {
    const bar = QCATS.filter(c => p[c]).map(c => `<span class="q-${c}" title="${c} ${pct(p[c])}" style="width:${(100 * p[c]).toFixed(2)}%"></span>`).join("");
    const bias = p.drift_bias === null || p.drift_bias === undefined ? "" : ` ${p.drift_bias > 0 ? "+" : ""}${fmt(p.drift_bias, 2)}`;
    const drift = p.drift ? `<span class="badge bad">drift${bias}</span>` : `<span class="badge ok">ok</span>`;
    const problem = p.last_problem ? `<td class="q-${esc(p.last_problem.split(":")[0])}">${esc(p.last_problem)}</td>` : "<td>–</td>";
    return `<tr data-key="${esc(p.key)}" data-rows="${p.rows}"${p.rows ? "" : ' class="empty"'}><td>${esc(p.key)}</td>` +
      `<td class="num">${p.rows}</td><td><div class="qbar">${bar}</div></td>` +
      QCATS.map(c => `<td class="num share" data-cat="${c}">${pct(p[c])}</td>`).join("") +
      `${problem}<td>${p.last_problem ? ago(p.last_problem_ts) : "–"}</td><td>${drift}</td></tr>`;
  }).join("");
  document.getElementById("quality-updated").textContent = "· updated " + new Date().toLocaleTimeString();
}

async function refreshQuality() {
  try {
    const r = await fetch("/api/v1/quality");
    if (r.ok) renderQuality(await r.json());
  } catch (e) { /* the service is away; the next refresh tries again */ }
}

async function approve(id) {
  const r = await fetch(`/api/v1/proposals/${id}/approve`, { method: "POST", headers: { "X-User": "dashboard" } });
  const body = await r.json();
  if (body.id) { state.proposals.set(body.id, body); renderProposals(); }
  else alert(body.detail || "approve failed");
}

document.getElementById("mode").onchange = async (ev) => {
  await fetch("/api/v1/gate", { method: "PUT", headers: { "Content-Type": "application/json", "X-User": "dashboard" },
    body: JSON.stringify({ mode: ev.target.value }) });
};

function connect() {
  const ws = new WebSocket((location.protocol === "https:" ? "wss://" : "ws://") + location.host + "/api/v1/stream");
  const conn = document.getElementById("conn");
  ws.onopen = () => { conn.textContent = "live"; conn.className = "badge ok"; };
  ws.onclose = () => { conn.textContent = "disconnected"; conn.className = "badge bad"; setTimeout(connect, 2000); };
  ws.onmessage = (msg) => {
    const ev = JSON.parse(msg.data);
    state.lastUpdate = new Date();
    if (ev.type === "snapshot") {
      const t = ev.twins.find(t => Object.keys(t.estimates).length) || ev.twins[0];
      state.twin = t ? t.id : null;
      document.getElementById("twin-id").textContent = state.twin || "–";
      document.getElementById("mode").value = ev.mode;
      for (const tw of ev.twins) {
        if (tw.id === state.twin) document.getElementById("fidelity").textContent = tw.fidelity.level;
        const tele = {};
        for (const [n, v] of Object.entries(tw.telemetry)) { tele[n] = [v.ts, v.value, v.quality]; state.twinOf[n] ??= tw.id; }
        onPoints("telemetry", tele);
        const est = {}; for (const [n, v] of Object.entries(tw.estimates)) est[n] = [v.ts, v.value, v.std];
        onPoints("estimates", est);
      }
      ev.proposals.forEach(p => state.proposals.set(p.id, p)); renderProposals();
      ev.audit.slice().reverse().forEach(addAudit);
      if (!state.backfilled) { state.backfilled = true; backfill(); }
    } else if (ev.type === "telemetry" || ev.type === "estimates") onPoints(ev.type, ev.points);
    else if (ev.type === "proposal") { state.proposals.set(ev.proposal.id, ev.proposal); renderProposals(); }
    else if (ev.type === "audit") addAudit(ev.entry);
    else if (ev.type === "mode") document.getElementById("mode").value = ev.mode;
    else if (ev.type === "health") {
      const c = ev.counts;
      document.getElementById("counts").textContent = `ingested ${c.ingested} · rejected ${c.rejected} · flagged ${c.flagged} · proposals ${c.proposals} · applied ${c.commands_applied}`;
      if (state.twin && ev.twins[state.twin]) renderHealth(ev.twins[state.twin]);
    }
  };
}

initCharts();
setInterval(flush, FLUSH_MS);
refreshQuality(); setInterval(refreshQuality, QUALITY_MS);
connect();
