"use strict";
// The dashboard page: reads Telegram's initData (the URL fragment's tgWebAppData, or
// Telegram.WebApp when its script is present), sends it with every API call, and draws the
// JSON the bot formats. No outside request, no library.

// hash, tg, initData and theme() come from telegram.js, loaded first.
let me = null;
let pending = null;

class Denied extends Error {}

async function api(path, body) {
  const options = { headers: { Authorization: "tma " + initData } };
  if (body !== undefined) {
    options.method = "POST";
    options.headers["Content-Type"] = "application/json";
    options.body = JSON.stringify(body);
  }
  const response = await fetch(path, options);
  const data = await response.json().catch(() => ({ error: response.statusText }));
  if (response.status === 401 || response.status === 403) throw new Denied(data.error || "refused");
  if (!response.ok) {
    const failure = new Error(data.error || response.statusText);
    failure.status = response.status;
    throw failure;
  }
  return data;
}

function el(tag, attrs, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (k === "class") node.className = v; else node.setAttribute(k, v);
  }
  for (const c of children) node.append(c);
  return node;
}

function sign(text) {
  return text.startsWith("-") ? "loss" : text.startsWith("+") ? "gain" : "";
}

function facts(pairs) {
  const dl = el("dl");
  for (const [label, value] of pairs) {
    dl.append(el("dt", {}, label), el("dd", { class: sign(value) }, value));
  }
  return dl;
}

function showError(text) {
  const box = document.getElementById("error");
  box.textContent = text;
  box.hidden = !text;
}

function deny(text) {
  document.getElementById("tabs").hidden = true;
  for (const s of document.querySelectorAll("main > section")) s.hidden = s.id !== "denied";
  document.getElementById("denied-text").textContent = text;
  document.title = "Not signed in · dashboard";
}

const pages = {
  async positions() {
    const data = await api("/api/positions");
    const list = document.getElementById("positions");
    list.replaceChildren();
    if (!data.positions.length) list.append(el("p", { class: "muted" }, "No open positions."));
    for (const note of data.notes || []) list.append(el("p", { class: "muted" }, note));
    for (const p of data.positions) {
      const card = el("article", { class: "card", "data-symbol": p.symbol },
        el("div", { class: "title" }, el("span", {}, p.symbol), el("span", { class: p.side === "LONG" ? "gain" : "loss" }, `${p.side} ${p.size}`)),
        facts([["Venue", p.venue], ["Entry", p.entry], ["Mark", p.mark], ["uPnL", p.upnl],
          ["Funding", p.funding], ["Liquidation", p.liquidation], ["Liq. distance", p.liq_distance],
          ["Notional", p.notional], ["SL", p.sl], ["TP", p.tp]]));
      if (me && me.may_trade && p.closable) {
        const button = el("button", { type: "button" }, `Close ${p.symbol}`);
        button.addEventListener("click", () => closePosition(p.symbol));
        card.append(button);
      }
      list.append(card);
    }
  },
  async pnl(period) {
    const data = await api("/api/pnl?period=" + encodeURIComponent(period || currentPeriod));
    document.getElementById("pnl-title").textContent = "PnL, " + data.title;
    const t = data.total;
    document.getElementById("pnl-total").replaceChildren(facts([["Realised", t.realized],
      ["Unrealised", t.unrealized], ["Funding", t.funding], ["Fees", t.fees], ["Net", t.net]]));
    const svg = new DOMParser().parseFromString(data.curve, "image/svg+xml").documentElement;
    document.getElementById("pnl-curve").replaceChildren(document.importNode(svg, true));
    const rows = document.getElementById("pnl-rows");
    rows.replaceChildren();
    if (!data.rows.length) rows.append(el("p", { class: "muted" }, "No fills or funding payments yet."));
    for (const r of data.rows) {
      rows.append(el("article", { class: "card", "data-symbol": r.symbol },
        el("div", { class: "title" }, el("span", {}, r.symbol), el("span", { class: sign(r.net) }, r.net)),
        facts([["Realised", r.realized], ["Unrealised", r.unrealized], ["Funding", r.funding], ["Fees", r.fees]])));
    }
  },
  async funding() {
    const data = await api("/api/funding?period=all");
    const body = document.querySelector("#funding tbody");
    body.replaceChildren();
    if (!data.rows.length) body.append(el("tr", {}, el("td", { colspan: "3", class: "muted" }, "No funding payments yet.")));
    for (const r of data.rows) {
      body.append(el("tr", {}, el("td", {}, r.asset), el("td", {}, r.venue), el("td", { class: "num " + sign(r.funding) }, r.funding)));
    }
  },
  async trades() {
    const data = await api("/api/trades");
    const list = document.getElementById("trades");
    list.replaceChildren();
    if (!data.trades.length) list.append(el("p", { class: "muted" }, "No strategy trades yet."));
    for (const t of data.trades) {
      list.append(el("article", { class: "card" },
        el("div", { class: "title" }, el("span", {}, t.what), el("span", { class: "muted" }, t.at)),
        facts([["Size", t.size], ["Price", t.price]]),
        el("div", { class: "why" }, "Why: " + t.why + (t.problems ? " · ⚠️ " + t.problems : ""))));
    }
  },
  async alerts() {
    const data = await api("/api/alerts");
    document.getElementById("alert-help").textContent = "e.g. " + data.examples.slice(0, 3).map((e) => e.replace(/^\/alert /, "")).join(" · ");
    const list = document.getElementById("alerts");
    list.replaceChildren();
    if (!data.alerts.length) list.append(el("p", { class: "muted" }, "No alerts yet."));
    for (const a of data.alerts) {
      const remove = el("button", { type: "button", class: "remove" }, `Remove #${a.id}`);
      remove.addEventListener("click", () => run(async () => {
        await api("/api/alerts/remove", { id: a.id });
        await pages.alerts();
      }));
      list.append(el("article", { class: "card", "data-alert": String(a.id) },
        el("div", { class: "title" }, el("span", {}, `#${a.id} ${a.symbol}`)),
        el("div", {}, a.condition), remove));
    }
  },
  async strategy() {
    const data = await api("/api/strategy");
    const owner = me && me.may_configure;
    document.getElementById("strategy-mode").textContent =
      `${data.mode}${data.paused ? ", paused (no new entries)" : ""} (${data.trading_mode})`;
    const modes = document.getElementById("strategy-modes");
    modes.replaceChildren();
    modes.hidden = !owner;
    for (const m of data.modes) {
      const b = el("button", { type: "button", "aria-pressed": String(m === data.mode) }, m);
      b.addEventListener("click", () => run(async () => {
        await api("/api/strategy/mode", { mode: m });
        await pages.strategy();
      }));
      modes.append(b);
    }
    document.getElementById("strategy-note").textContent = owner
      ? "Owners change the mode and settings here or with /strategy in the chat."
      : `Your role (${me ? me.role : "?"}) may read the strategy, not change it.`;
    const body = document.querySelector("#strategy-config tbody");
    body.replaceChildren();
    for (const [key, value] of Object.entries(data.config)) {
      const cell = el("td", { class: "num" });
      if (owner && key !== "symbols") {
        const input = el("input", { "aria-label": key, value });
        input.addEventListener("change", () => run(async () => {
          await api("/api/strategy/set", { key, value: input.value });
          await pages.strategy();
        }));
        cell.append(input);
      } else cell.append(value);
      body.append(el("tr", {}, el("th", {}, key), cell));
    }
    document.getElementById("strategy-status").textContent = data.status;
  },
  async arb() {
    const data = await api("/api/arb");
    document.getElementById("arb").textContent = data.text;
    const box = document.getElementById("arb-history");
    box.replaceChildren();
    for (const h of data.history || []) {
      const svg = new DOMParser().parseFromString(h.svg, "image/svg+xml").documentElement;
      box.append(el("h3", {}, `${h.base}: the spread, last 72 h`), el("div", { class: "chart" }, document.importNode(svg, true)));
    }
  },
};
let currentPage = "positions";
let currentPeriod = "all";

async function show(name) {
  currentPage = name;
  for (const b of document.querySelectorAll("#tabs button")) {
    if (b.dataset.page === name) {
      b.setAttribute("aria-current", "page");
      b.scrollIntoView({ inline: "nearest", block: "nearest" });
    } else b.removeAttribute("aria-current");
  }
  for (const s of document.querySelectorAll("main > section")) s.hidden = s.id !== "page-" + name;
  await run(() => pages[name]());
}

async function run(job) {
  try {
    await job();
    showError("");
  } catch (e) {
    if (e instanceof Denied) deny(e.message); else showError(e.message);
  }
}

function yesNo(text) {
  if (tg && tg.showConfirm) return new Promise((resolve) => tg.showConfirm(text, resolve));
  return Promise.resolve(window.confirm(text));
}

async function closePosition(symbol) {
  await run(async () => {
    const preview = await api("/api/close", { symbol });
    offer(preview.token, preview.text);
  });
}

function offer(token, text) {
  pending = token;
  document.getElementById("confirm-text").textContent = text;
  document.getElementById("confirm").hidden = false;
  document.getElementById("result").hidden = true;
}

async function answer(confirm) {
  const token = pending;
  if (!token) return;
  const box = document.getElementById("confirm");
  await run(async () => {
    const out = await api(confirm ? "/api/confirm" : "/api/cancel", { token });
    if (out.status === "requoted" && out.token) { offer(out.token, out.preview); return; }
    pending = null;
    box.hidden = true;
    const result = document.getElementById("result");
    result.textContent = out.text;
    result.hidden = false;
    await pages.positions();
  });
}

async function start() {
  theme();
  if (tg && tg.ready) tg.ready();
  for (const b of document.querySelectorAll("#tabs button")) b.addEventListener("click", () => show(b.dataset.page));
  for (const b of document.querySelectorAll(".periods button")) {
    b.addEventListener("click", () => {
      currentPeriod = b.dataset.period;
      for (const o of document.querySelectorAll(".periods button")) o.setAttribute("aria-pressed", String(o === b));
      run(() => pages.pnl(currentPeriod));
    });
  }
  document.getElementById("alert-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const input = document.getElementById("alert-text");
    run(async () => {
      try {
        await api("/api/alerts", { text: input.value });
      } catch (failure) {
        // Already true when set (a typo like "> 1.5k" for 150k would fire at once): ask first.
        if (failure.status !== 409 || !(await yesNo(failure.message))) throw failure;
        await api("/api/alerts", { text: input.value, anyway: true });
      }
      input.value = "";
      await pages.alerts();
    });
  });
  document.getElementById("confirm-ok").addEventListener("click", () => answer(true));
  document.getElementById("confirm-no").addEventListener("click", () => answer(false));
  await run(async () => {
    me = await api("/api/me");
    document.getElementById("who").textContent = `${me.name || "you"} · ${me.role} · ${me.mode}`;
    const wanted = hash.get("page");
    await show(wanted && pages[wanted] ? wanted : "positions");
  });
}

start();
