// The local chat page: one private chat with the bot, drawn like Telegram.
// Messages are built as DOM nodes from text + entities (never innerHTML), as a Telegram client does.
"use strict";

const $ = (id) => document.getElementById(id);
const log = $("log");
const input = $("text");
const list = $("suggestions");
let commands = [];
let socket = null;
let backoff = 500;
let typingTimer = 0;
let toastTimer = 0;
let loading = false;
let queued = [];

// ------------------------------------------------------------------ rendering messages

function linkOrText(url, label) {
  if (!/^(https?:|tg:)/i.test(url)) return document.createTextNode(label);
  const a = document.createElement("a");
  a.href = url;
  a.target = "_blank";
  a.rel = "noopener noreferrer";
  return a;
}

function elementFor(entity, slice) {
  switch (entity.type) {
    case "bold": return document.createElement("strong");
    case "italic": return document.createElement("em");
    case "underline": return document.createElement("u");
    case "strikethrough": return document.createElement("s");
    case "code": return document.createElement("code");
    case "blockquote":
    case "expandable_blockquote": return document.createElement("blockquote");
    case "pre": {
      const pre = document.createElement("pre");
      const code = document.createElement("code");
      if (entity.language) code.dataset.language = entity.language;
      pre.append(code);
      return { outer: pre, inner: code };
    }
    case "spoiler": {
      const span = document.createElement("span");
      span.className = "spoiler";
      span.tabIndex = 0;
      span.setAttribute("role", "button");
      span.setAttribute("aria-label", "hidden text, press to show");
      const reveal = () => { span.classList.add("shown"); span.removeAttribute("aria-label"); };
      span.addEventListener("click", reveal);
      span.addEventListener("keydown", (e) => { if (e.key === "Enter" || e.key === " ") reveal(); });
      return span;
    }
    case "text_link": return linkOrText(entity.url || "", slice);
    case "url": return linkOrText(slice, slice);
    case "bot_command": {
      const b = document.createElement("button");
      b.type = "button";
      b.className = "cmd";
      b.title = "Send " + slice;
      b.addEventListener("click", () => sendText(slice));
      return b;
    }
    default: return document.createElement("span");
  }
}

function build(parent, text, entities, start, end) {
  let pos = start;
  let i = 0;
  while (i < entities.length) {
    const e = entities[i];
    const s = Math.max(e.offset, start);
    const t = Math.min(e.offset + e.length, end);
    if (s < pos || t <= s) { i++; continue; }
    if (s > pos) parent.append(text.slice(pos, s));
    const inside = [];
    let j = i + 1;
    while (j < entities.length && entities[j].offset < t) inside.push(entities[j++]);
    const made = elementFor(e, text.slice(s, t));
    const outer = made.outer || made;
    const inner = made.inner || made;
    if (outer.nodeType === Node.TEXT_NODE) parent.append(text.slice(s, t));
    else { build(inner, text, inside, s, t); parent.append(outer); }
    pos = t;
    i = j;
  }
  if (pos < end) parent.append(text.slice(pos, end));
}

function formatted(text, entities) {
  const frag = document.createDocumentFragment();
  const sorted = (entities || []).slice().sort((a, b) => a.offset - b.offset || b.length - a.length);
  build(frag, text, sorted, 0, text.length);
  return frag;
}

function clock(seconds) {
  return new Date(seconds * 1000).toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
}

function keyboardFor(m) {
  const rows = (m.reply_markup && m.reply_markup.inline_keyboard) || [];
  if (!rows.length) return null;
  const box = document.createElement("div");
  box.className = "keyboard";
  box.setAttribute("role", "group");
  box.setAttribute("aria-label", "Buttons");
  for (const row of rows) {
    const line = document.createElement("div");
    line.className = "row";
    for (const b of row) {
      let el;
      if (b.url) {
        el = linkOrText(b.url, b.text);
        if (el.nodeType === Node.TEXT_NODE) continue;
        el.textContent = b.text + " ↗";
      } else {
        el = document.createElement("button");
        el.type = "button";
        el.textContent = b.text;
        if (b.callback_data !== undefined) {
          el.addEventListener("click", () => tap(m.message_id, b.callback_data, el));
        } else el.disabled = true;
      }
      line.append(el);
    }
    box.append(line);
  }
  return box;
}

function render(m) {
  const wrap = document.createElement("article");
  wrap.className = "msg " + (m.outgoing ? "out" : "in");
  wrap.id = "msg-" + m.message_id;
  wrap.dataset.id = m.message_id;
  wrap.setAttribute("aria-label", m.outgoing ? "You" : "Bot");
  const bubble = document.createElement("div");
  bubble.className = "bubble";
  const text = m.text !== undefined ? m.text : (m.caption || "");
  const entities = m.text !== undefined ? m.entities : m.caption_entities;
  if (m.photo && m.file_url) {
    const a = document.createElement("a");
    a.href = m.file_url;
    a.target = "_blank";
    a.rel = "noopener";
    const img = document.createElement("img");
    img.className = "photo";
    img.src = m.file_url;
    img.alt = text ? text.split("\n")[0] : "picture from the bot";
    const size = m.photo[m.photo.length - 1];
    if (size.width && size.height) { img.width = size.width; img.height = size.height; }
    img.addEventListener("load", () => stickToBottom(true));
    a.append(img);
    bubble.append(a);
  } else if (m.document && m.file_url) {
    const a = document.createElement("a");
    a.href = m.file_url;
    a.download = m.document.file_name || "file";
    a.textContent = "📄 " + (m.document.file_name || "file");
    bubble.append(a, document.createElement("br"));
  }
  bubble.append(formatted(text, entities));
  const meta = document.createElement("span");
  meta.className = "meta";
  meta.textContent = (m.edit_date ? "edited " : "") + clock(m.edit_date || m.date);
  bubble.append(meta);
  wrap.append(bubble);
  const kb = keyboardFor(m);
  if (kb) wrap.append(kb);
  return wrap;
}

function nearBottom() {
  return log.scrollHeight - log.scrollTop - log.clientHeight < 80;
}

function stickToBottom(force) {
  if (force) log.scrollTop = log.scrollHeight;
}

function upsert(m) {
  const old = document.getElementById("msg-" + m.message_id);
  const follow = nearBottom() || m.outgoing;
  const hadFocus = old && old.contains(document.activeElement);
  const el = render(m);
  if (old) old.replaceWith(el);
  else log.append(el);
  if (hadFocus) (el.querySelector(".keyboard button") || log).focus();
  stickToBottom(follow && !old);
}

function remove(m) {
  const old = document.getElementById("msg-" + m.message_id);
  if (old) old.remove();
}

// ------------------------------------------------------------------ talking to the server

async function post(path, body) {
  const r = await fetch(path, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body),
    credentials: "same-origin",
  });
  const data = await r.json().catch(() => ({}));
  if (!r.ok) throw new Error(data.error || r.statusText);
  return data;
}

async function sendText(text) {
  if (!text.trim()) return;
  try {
    const data = await post("/api/send", { text });
    upsert(data.message);
    stickToBottom(true);
  } catch (err) {
    toast("Not sent: " + err.message);
  }
}

async function tap(messageId, data, button) {
  button.setAttribute("aria-busy", "true");
  try {
    await post("/api/tap", { message_id: messageId, data });
  } catch (err) {
    button.removeAttribute("aria-busy");
    toast(err.message);
  }
}

function toast(text) {
  const t = $("toast");
  t.textContent = text;
  t.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => { t.hidden = true; }, 2600);
}

function status(text) {
  $("status").textContent = text;
}

function setBanner(b) {
  const el = $("banner");
  el.textContent = "";
  const strong = document.createElement("strong");
  if (b.mode === "live") {
    el.classList.add("live");
    strong.textContent = "LIVE — real orders on the exchange.";
  } else {
    strong.textContent = "Paper trading.";
  }
  el.append(strong, " Market data: " + b.market + (b.detail ? " (" + b.detail + ")" : "") + ".");
}

function handle(frame) {
  if (loading) { queued.push(frame); return; }
  switch (frame.type) {
    case "message":
    case "edit":
      upsert(frame.message);
      if (frame.type === "message" && !frame.message.outgoing) { clearTimeout(typingTimer); status("bot"); }
      break;
    case "delete": remove(frame.message); break;
    case "commands": commands = frame.commands; break;
    case "action":
      status(frame.action === "typing" ? "typing…" : frame.action.replace("_", " ") + "…");
      clearTimeout(typingTimer);
      typingTimer = setTimeout(() => status("bot"), 5000);
      break;
    case "answer":
      for (const b of log.querySelectorAll('[aria-busy="true"]')) b.removeAttribute("aria-busy");
      if (frame.text && frame.show_alert) {
        $("alert-text").textContent = frame.text;
        $("alert").showModal();
      } else if (frame.text) toast(frame.text);
      break;
  }
}

async function load() {
  loading = true;
  queued = [];
  const r = await fetch("/api/state", { credentials: "same-origin" });
  if (r.status === 401) {
    loading = false;
    $("login").hidden = false;
    log.hidden = true;
    $("password").focus();
    return false;
  }
  const state = await r.json();
  $("login").hidden = true;
  log.hidden = false;
  $("bot-name").textContent = state.bot.name;
  document.title = state.bot.name + " — local chat";
  setBanner(state.banner);
  commands = state.commands;
  log.textContent = "";
  for (const m of state.messages) log.append(render(m));
  stickToBottom(true);
  loading = false;
  for (const f of queued.splice(0)) handle(f);
  return true;
}

function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  socket = new WebSocket(scheme + "://" + location.host + "/ws");
  socket.addEventListener("open", async () => {
    backoff = 500;
    status("bot");
    await load();
    input.focus();
  });
  socket.addEventListener("message", (e) => handle(JSON.parse(e.data)));
  socket.addEventListener("close", () => {
    status("connecting…");
    setTimeout(start, backoff);
    backoff = Math.min(backoff * 2, 8000);
  });
}

async function start() {
  const r = await fetch("/api/state", { credentials: "same-origin" }).catch(() => null);
  if (r === null) { setTimeout(start, backoff); backoff = Math.min(backoff * 2, 8000); return; }
  if (r.status === 401) { await load(); return; }
  connect();
}

// ------------------------------------------------------------------ composer and command menu

let selected = -1;

function matches() {
  const v = input.value;
  if (!v.startsWith("/") || /\s/.test(v)) return [];
  const prefix = v.slice(1).toLowerCase();
  return commands.filter((c) => c.command.startsWith(prefix));
}

function showSuggestions(items) {
  list.textContent = "";
  selected = items.length ? 0 : -1;
  items.forEach((c, i) => {
    const li = document.createElement("li");
    li.id = "cmd-" + c.command;
    li.setAttribute("role", "option");
    li.setAttribute("aria-selected", String(i === selected));
    const name = document.createElement("span");
    name.className = "c";
    name.textContent = "/" + c.command;
    const d = document.createElement("span");
    d.className = "d";
    d.textContent = c.description;
    li.append(name, d);
    li.addEventListener("mousedown", (e) => { e.preventDefault(); pick(c); });
    list.append(li);
  });
  list.hidden = !items.length;
  $("menu").setAttribute("aria-expanded", String(!list.hidden));
  input.setAttribute("aria-expanded", String(!list.hidden));
  if (selected >= 0) input.setAttribute("aria-activedescendant", list.children[0].id);
  else input.removeAttribute("aria-activedescendant");
}

function move(step) {
  const items = list.children;
  if (!items.length) return;
  items[selected].setAttribute("aria-selected", "false");
  selected = (selected + step + items.length) % items.length;
  items[selected].setAttribute("aria-selected", "true");
  items[selected].scrollIntoView({ block: "nearest" });
  input.setAttribute("aria-activedescendant", items[selected].id);
}

function pick(c) {
  input.value = "/" + c.command + " ";
  showSuggestions([]);
  input.focus();
}

function grow() {
  input.style.height = "auto";
  input.style.height = Math.min(input.scrollHeight, window.innerHeight * 0.4) + "px";
}

input.addEventListener("input", () => { grow(); showSuggestions(matches()); });
input.addEventListener("keydown", (e) => {
  const open = !list.hidden;
  if (open && e.key === "ArrowDown") { e.preventDefault(); move(1); return; }
  if (open && e.key === "ArrowUp") { e.preventDefault(); move(-1); return; }
  if (open && e.key === "Escape") { e.preventDefault(); showSuggestions([]); return; }
  if (open && (e.key === "Tab" || e.key === "Enter") && selected >= 0) {
    const items = matches().length ? matches() : commands;
    const c = items[selected];
    // Enter on a command that is already complete sends it, as Telegram does.
    if (e.key === "Enter" && input.value.trim() === "/" + c.command) { showSuggestions([]); }
    else { e.preventDefault(); pick(c); return; }
  }
  if (e.key === "Enter" && !e.shiftKey && !e.isComposing) {
    e.preventDefault();
    $("compose").requestSubmit();
  }
});
$("compose").addEventListener("submit", (e) => {
  e.preventDefault();
  const text = input.value;
  input.value = "";
  grow();
  showSuggestions([]);
  sendText(text);
  input.focus();
});
$("menu").addEventListener("click", () => {
  if (list.hidden) showSuggestions(commands);
  else showSuggestions([]);
  input.focus();
});
$("login").addEventListener("submit", async (e) => {
  e.preventDefault();
  try {
    await post("/api/login", { password: $("password").value });
    $("login-error").textContent = "";
    connect();
  } catch (err) {
    $("login-error").textContent = err.message;
  }
});

start();
