"use strict";
// The form that connects a desk's own keys. Telegram's initData (the URL fragment's
// tgWebAppData, or Telegram.WebApp) goes with every call; the fields go to the bot and nowhere
// else, and are cleared from the page once connected. No outside request, no library.

// hash, tg, initData and theme() come from telegram.js, loaded first.
const NAMES = { backpack: "Backpack", hyperliquid: "Hyperliquid" };
const venue = new URLSearchParams(location.search).get("venue") || "backpack";

async function call(path, body) {
  const response = await fetch(path, {
    method: "POST",
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify({ initData, ...body }),
  });
  const data = await response.json().catch(() => ({ error: response.statusText }));
  if (!response.ok) {
    const failure = new Error(data.error || response.statusText);
    failure.status = response.status;
    throw failure;
  }
  return data;
}

function showError(text) {
  const box = document.getElementById("error");
  box.textContent = text;
  box.hidden = !text;
}

function deny(text) {
  for (const f of document.querySelectorAll("form.keys")) f.hidden = true;
  document.getElementById("connected").hidden = true;
  document.getElementById("denied").hidden = false;
  document.getElementById("denied-text").textContent = text;
}

function showConnected(hint) {
  const card = document.getElementById("connected");
  card.hidden = !hint;
  document.getElementById("connected-hint").textContent = hint || "";
}

function result(text) {
  const box = document.getElementById("result");
  box.textContent = text;
  box.hidden = !text;
}

async function submit(form) {
  const button = form.querySelector("button[type=submit]");
  const fields = {};
  for (const input of form.querySelectorAll("input")) fields[input.name] = input.value;
  showError("");
  result("");
  button.disabled = true;
  button.textContent = "Checking with " + NAMES[venue] + "…";
  try {
    const done = await call("api/connect", { venue, fields });
    for (const input of form.querySelectorAll("input")) input.value = "";
    showConnected(done.hint);
    result(`Connected: ${NAMES[venue]} key ${done.hint}. You can close this page.`);
  } catch (failure) {
    if (failure.status === 401 || failure.status === 403 || failure.status === 503) {
      deny(failure.message);
    } else {
      showError(failure.message);
    }
  } finally {
    button.disabled = false;
    button.textContent = "Connect";
  }
}

async function disconnect() {
  if (!window.confirm(`Disconnect the ${NAMES[venue]} key? The bot forgets it at once.`)) return;
  showError("");
  try {
    await call("api/disconnect", { venue });
    showConnected("");
    result(`Disconnected: the bot no longer holds a ${NAMES[venue]} key for this desk.`);
  } catch (failure) {
    showError(failure.message);
  }
}

async function start() {
  theme();
  if (tg && tg.ready) tg.ready();
  const form = document.getElementById("form-" + venue);
  if (!NAMES[venue] || !form) {
    deny("Open this page with ?venue=backpack or ?venue=hyperliquid.");
    return;
  }
  document.getElementById("venue-name").textContent = NAMES[venue];
  document.title = `Connect ${NAMES[venue]} · keys`;
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    submit(form);
  });
  document.getElementById("disconnect").addEventListener("click", disconnect);
  try {
    const state = await call("api/connections", {});
    form.hidden = false;
    showConnected(state.venues[venue] || "");
  } catch (failure) {
    deny(failure.message);
  }
}

start();
