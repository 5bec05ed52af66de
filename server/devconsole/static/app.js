// The dev console's page: one chat per contact, fed by server-sent events from /dev/events.
// Everything the page sends goes through /dev/api/..., which posts it to the server's real
// webhook route as a signed WhatsApp webhook.
"use strict";

const convs = new Map(); // user -> {el, view, received}
let flows = [];

function h(tag, attrs, ...kids) {
  const el = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") el.className = v;
    else if (k.startsWith("on")) el.addEventListener(k.slice(2), v);
    else el.setAttribute(k, v);
  }
  for (const k of kids.flat()) {
    if (k === null || k === undefined || k === false) continue;
    el.append(k instanceof Node ? k : String(k));
  }
  return el;
}

async function api(path, body) {
  const res = await fetch("api/" + path, {method: "POST", headers: {"Content-Type": "application/json"}, body: JSON.stringify(body)});
  if (!res.ok) {
    let text = res.statusText;
    try { text = (await res.json()).error; } catch (e) { /* not JSON */ }
    alert(path + ": " + text);
  }
}

function duration(ms) {
  const m = Math.max(0, Math.floor(ms / 60000));
  const d = Math.floor(m / 1440), hh = Math.floor((m % 1440) / 60), mm = m % 60;
  return (d ? d + " d " : "") + hh + " h " + mm + " m";
}

function clockText(ms) {
  return new Date(ms).toISOString().replace("T", " ").slice(0, 16) + " UTC";
}

// windowText is the window badge: "window closes in 23 h 12 m" or "window closed".
function updateWindow(c) {
  const w = c.view.window, el = c.el.querySelector(".window");
  const now = c.view.now + (Date.now() - c.received);
  c.el.querySelector(".clock").textContent = clockText(now) + (c.view.offset ? " (" + c.view.offset + ")" : "");
  el.classList.toggle("closed", false);
  if (!w.closes_at) { el.textContent = "no message yet"; return; }
  if (w.open && now < w.closes_at) { el.textContent = "window closes in " + duration(w.closes_at - now); return; }
  el.classList.add("closed");
  el.textContent = w.refused ? "window closed (WhatsApp refused)" : "window closed";
}

function addConv(user) {
  const el = document.getElementById("conv-tpl").content.firstElementChild.cloneNode(true);
  el.dataset.user = user;
  el.querySelector(".save").href = "api/case?user=" + encodeURIComponent(user);
  el.querySelector(".composer").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const input = el.querySelector(".text");
    const text = input.value.trim();
    if (!text) return;
    input.value = "";
    api("send", {user, text});
  });
  el.querySelector(".pin").addEventListener("click", () => {
    const v = prompt("latitude, longitude, name", "52.5219, 13.4132, Alexanderplatz");
    if (!v) return;
    const [lat, lng, ...name] = v.split(",");
    api("send", {user, location: {Latitude: parseFloat(lat), Longitude: parseFloat(lng), Name: name.join(",").trim()}});
  });
  for (const b of el.querySelectorAll("[data-advance]")) {
    b.addEventListener("click", () => api("advance", {user, by: b.dataset.advance}));
  }
  el.querySelector(".advance-go").addEventListener("click", () => {
    const by = el.querySelector(".advance-by").value.trim();
    if (by) api("advance", {user, by});
  });
  el.querySelector(".start").addEventListener("click", () => {
    const vars = {};
    for (const pair of el.querySelector(".vars").value.split(",")) {
      const i = pair.indexOf("=");
      if (i > 0) vars[pair.slice(0, i).trim()] = pair.slice(i + 1).trim();
    }
    api("start", {user, flow: el.querySelector(".flow").value, vars});
  });
  fillFlows(el);
  document.getElementById("convs").append(el);
  const c = {el, view: null, received: Date.now()};
  convs.set(user, c);
  return c;
}

function fillFlows(el) {
  const sel = el.querySelector(".flow"), was = sel.value;
  sel.replaceChildren(...flows.map((f) => h("option", {value: f}, f)));
  if (flows.includes(was)) sel.value = was;
}

// bubble renders one outbound message from its Graph API request body (WhatsApp's shapes).
function bubble(user, o) {
  const r = o.request || {};
  const out = [];
  const b = h("div", {class: "msg bot" + (o.error ? " failed" : "")});
  out.push(b);
  const t = r.type;
  if (t === "text") {
    b.append(r.text.body);
  } else if (t === "interactive") {
    const i = r.interactive;
    if (i.header && i.header.text) b.append(h("div", {class: "head"}, i.header.text));
    if (i.header && i.header.type && i.header.type !== "text") b.append(h("div", {class: "media"}, i.header.type + " header"));
    if (i.body) b.append(h("div", {}, i.body.text));
    if (i.footer) b.append(h("div", {class: "foot"}, i.footer.text));
    if (i.type === "button") {
      out.push(h("div", {class: "buttons"}, (i.action.buttons || []).map((x) =>
        h("button", {type: "button", "data-id": x.reply.id, onclick: () => api("send", {user, button: {ID: x.reply.id, Title: x.reply.title}})}, x.reply.title))));
    } else if (i.type === "list") {
      out.push(h("div", {class: "buttons"}, h("button", {type: "button", class: "open-list", onclick: () => openList(user, i)}, "☰ " + i.action.button)));
    }
  } else if (t === "template") {
    const tp = r.template;
    b.append(h("div", {class: "kind"}, "template"), h("div", {class: "head"}, tp.name + " (" + ((tp.language || {}).code || "") + ")"));
    const quick = [];
    for (const comp of tp.components || []) {
      const ps = (comp.parameters || []).map((p) => p.text || p.payload || (p[p.type] && (p[p.type].link || p[p.type].id || p[p.type].name)) || p.type);
      if (comp.type === "header" && comp.parameters && comp.parameters[0] && comp.parameters[0].type !== "text") {
        b.append(h("div", {class: "media"}, comp.parameters[0].type + " header: " + ps[0]));
        continue;
      }
      if (comp.type === "button" && comp.sub_type === "quick_reply") {
        quick.push(...(comp.parameters || []).map((p) => p.payload));
        continue;
      }
      if (ps.length) b.append(h("div", {class: "foot"}, comp.type + (comp.sub_type ? " " + comp.sub_type : "") + ":"), h("ol", {class: "params"}, ps.map((p) => h("li", {}, p))));
    }
    if (quick.length) {
      out.push(h("div", {class: "buttons"}, quick.map((p) =>
        h("button", {type: "button", "data-id": p, onclick: () => api("send", {user, button: {ID: p, Title: p}})}, p))));
    }
  } else if (t === "location") {
    const l = r.location;
    b.append(h("div", {class: "media"}, "location pin: " + l.latitude + ", " + l.longitude), l.name ? h("div", {class: "head"}, l.name) : null, l.address ? h("div", {class: "foot"}, l.address) : null);
  } else if (t && r[t]) {
    const m = r[t];
    b.append(h("div", {class: "media"}, t + (m.filename ? ": " + m.filename : "") + "\n" + (m.link || m.id || "")));
    if (m.caption) b.append(m.caption);
  } else {
    b.append(h("div", {class: "kind"}, t || "message"), JSON.stringify(r));
  }
  if (o.error) b.append(h("div", {class: "foot"}, "not sent: " + o.error));
  return out;
}

function openList(user, i) {
  const sheet = convs.get(user).el.querySelector(".sheet");
  sheet.replaceChildren(h("h3", {}, i.action.button));
  for (const s of i.action.sections || []) {
    if (s.title) sheet.append(h("h3", {}, s.title));
    for (const row of s.rows) {
      sheet.append(h("button", {type: "button", class: "row", "data-id": row.id, onclick: () => {
        sheet.hidden = true;
        api("send", {user, list: {ID: row.id, Title: row.title, Description: row.description || ""}});
      }}, row.title, row.description ? h("small", {}, row.description) : null));
    }
  }
  sheet.hidden = false;
}

function traceLine(t, bad) {
  return h("li", {class: "line" + (bad ? " bad" : "")}, h("b", {}, t.kind), t.node ? " " + t.node : "", t.detail ? ": " + t.detail : "");
}

function what(e) {
  switch (e.kind) {
  case "send": return "you: " + e.label;
  case "advance": return "clock " + e.label;
  case "start": return "start " + e.label + " (as the API does)";
  default: return "timer";
  }
}

function render(view) {
  const c = convs.get(view.user) || addConv(view.user);
  c.view = view;
  c.received = Date.now();
  const el = c.el;
  el.querySelector(".name").textContent = view.name || view.user;
  el.querySelector(".number").textContent = " +" + view.user;
  updateWindow(c);
  const chat = el.querySelector(".chat");
  chat.replaceChildren();
  const runs = el.querySelector(".runs");
  runs.replaceChildren();
  for (const e of view.entries) {
    const time = new Date(e.at).toISOString().slice(11, 16);
    if (e.kind === "send") chat.append(h("div", {class: "msg me"}, e.label, h("span", {class: "time"}, time)));
    if (e.kind === "advance") chat.append(h("div", {class: "note"}, "» clock moved forward " + e.label));
    if (e.kind === "start") chat.append(h("div", {class: "note"}, "» " + e.label + " started"));
    for (const o of e.out) chat.append(...bubble(view.user, o));
    if (!e.waiting && e.out.length === 0 && e.kind !== "advance") {
      chat.append(h("div", {class: "note quiet"}, "nothing sent" + (e.quiet ? ": " + e.quiet : "")));
    }
    for (const err of e.errors || []) chat.append(h("div", {class: "note quiet"}, err));
    const run = h("li", {class: "run" + (!e.waiting && e.out.length === 0 ? " silent" : "")}, h("div", {class: "what"}, what(e), e.waiting ? " …" : ""));
    const lines = h("ol", {class: "runs"});
    for (const t of e.trace) lines.append(traceLine(t, ["error", "window_closed", "ignored", "suppressed", "loop"].includes(t.kind)));
    run.append(lines);
    if (!e.waiting && e.out.length === 0 && e.quiet) run.append(h("div", {class: "why"}, "why nothing was sent: " + e.quiet));
    runs.append(run);
  }
  chat.scrollTop = chat.scrollHeight;
  const trace = el.querySelector(".trace");
  trace.scrollTop = trace.scrollHeight;
}

function connect() {
  const status = document.getElementById("status");
  const es = new EventSource("events");
  es.onopen = () => { status.textContent = "live"; };
  es.onerror = () => { status.textContent = "reconnecting…"; };
  es.addEventListener("bundle", (ev) => {
    const b = JSON.parse(ev.data);
    flows = b.flows || [];
    for (const c of convs.values()) fillFlows(c.el);
    const p = document.getElementById("problem");
    p.hidden = !b.problem;
    p.textContent = b.problem ? "The flows on disk do not load; still running the last good ones:\n" + b.problem : "";
  });
  es.addEventListener("conversation", (ev) => render(JSON.parse(ev.data)));
}

document.getElementById("add-contact").addEventListener("submit", (ev) => {
  ev.preventDefault();
  const f = ev.target;
  api("contacts", {user: f.user.value.trim(), name: f.name.value.trim()});
  f.reset();
});
setInterval(() => { for (const c of convs.values()) if (c.view) updateWindow(c); }, 30000);
connect();
