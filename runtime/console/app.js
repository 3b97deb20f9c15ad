// The console's shell: sign-in, the page list, and one connection to the
// hub shared by every page. Each page is a module whose `render(hub, main, arg)`
// fills `main` and may return what to stop when the page is left.

import { Hub, signIn, signOut, whoAmI } from "./hub.js";
import { h, fill, failure } from "./dom.js";
import * as overview from "./overview.js";
import * as plugins from "./plugins.js";
import * as grants from "./grants.js";
import * as devices from "./devices.js";
import * as audit from "./audit.js";
import * as activity from "./activity.js";
import * as sessions from "./sessions.js";
import * as market from "./market.js";

const PAGES = { overview, plugins, grants, market, devices, audit, activity, sessions };
const main = document.getElementById("main");
let hub = null;
let leave = null;

async function start() {
  const me = await whoAmI();
  if (!me) return showSignIn();
  hub = new Hub();
  hub.onclose = () => {
    fill(document.getElementById("who"), "disconnected ", h("button", { onclick: () => location.reload() }, "Reconnect"));
  };
  try {
    await hub.connect();
  } catch (error) {
    return showSignIn(error);
  }
  await hub.call({ service: "subscribe" });
  if (me.scope === "operator") {
    await hub.call({ service: "subscribe", service_data: { events: activity.EVENTS } });
  }
  activity.record(hub);
  showCaller(me);
  window.addEventListener("hashchange", route);
  route();
}

function showSignIn(error) {
  const token = h("input", { type: "password", id: "token", autocomplete: "current-password", required: true });
  const form = h("form", { id: "sign-in" },
    h("label", { for: "token" }, "Token"), token,
    h("button", { type: "submit" }, "Sign in"),
    error && failure(error));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      await signIn(token.value);
      location.hash = "#overview";
      location.reload();
    } catch (refused) {
      fill(main, showSignIn(refused));
    }
  });
  fill(document.getElementById("nav"));
  fill(main, h("h2", {}, "Sign in"), h("p", {}, "Paste the operator token the hub printed when it started."), form);
  return form;
}

function showCaller(me) {
  fill(document.getElementById("nav"), Object.keys(PAGES).map((name) =>
    h("a", { href: `#${name}`, id: `nav-${name}` }, name)));
  fill(document.getElementById("who"), `${me.name} (${me.scope}) `,
    h("button", { id: "sign-out", onclick: async () => { await signOut(); location.reload(); } }, "Sign out"));
}

async function route() {
  if (leave) leave();
  leave = null;
  const [name, ...rest] = location.hash.slice(1).split("/");
  const page = PAGES[name] ?? overview;
  for (const link of document.querySelectorAll("nav a")) {
    link.classList.toggle("here", link.id === `nav-${name}`);
  }
  // Each visit renders into a view of its own: one still loading when the
  // operator moves on fills a view no longer shown, and is stopped.
  const view = h("div", {}, h("p", {}, "Loading…"));
  fill(main, view);
  try {
    const stop = await page.render(hub, view, rest.map(decodeURIComponent).join("/"));
    if (view.isConnected) leave = stop;
    else stop?.();
  } catch (error) {
    fill(view, failure(error));
  }
}

start();
