"use strict";
// What every page of the bot shares inside Telegram: its initData (the URL fragment's
// tgWebAppData, or Telegram.WebApp when its script is present) and its colour theme.

const hash = new URLSearchParams(location.hash.slice(1));
const tg = window.Telegram && window.Telegram.WebApp ? window.Telegram.WebApp : null;
const initData = (tg && tg.initData) || hash.get("tgWebAppData") || "";

function theme() {
  let params = tg && tg.themeParams ? tg.themeParams : null;
  if (!params && hash.get("tgWebAppThemeParams")) {
    try { params = JSON.parse(hash.get("tgWebAppThemeParams")); } catch (e) { params = null; }
  }
  if (!params) return;
  const map = { bg_color: "--bg", text_color: "--text", hint_color: "--hint", link_color: "--link",
    button_color: "--button", button_text_color: "--button-text", secondary_bg_color: "--secondary" };
  for (const [key, name] of Object.entries(map)) {
    if (typeof params[key] === "string" && /^#[0-9a-f]{3,8}$/i.test(params[key])) {
      document.documentElement.style.setProperty(name, params[key]);
    }
  }
}
