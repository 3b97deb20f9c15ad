// The audit log: filtered by plugin, actor, action and time; entries
// appended while the page is open appear at the end; the chain can be
// verified and the filtered entries exported as JSON.

import { h, fill, table, failure } from "./dom.js";

const FIELDS = ["plugin", "actor", "action", "since", "until"];
const LIVE_EVERY_MS = 2000;
/** Entries the page shows at most; the oldest go first. */
const SHOWN = 2000;

export async function render(hub, main) {
  const inputs = Object.fromEntries(FIELDS.map((f) =>
    [f, h("input", { id: `audit-${f}`, name: f, placeholder: f === "since" || f === "until" ? "2026-11-30T08:00:00Z" : "any" })]));
  const rows = h("tbody");
  const result = h("p", { id: "verify-result" });
  let entries = [];
  let filter = {};
  const load = async () => {
    filter = Object.fromEntries(FIELDS.map((f) => [f, inputs[f].value.trim()]).filter(([, v]) => v));
    entries = (await hub.manage("audit", { ...filter, limit: 500 })).entries;
    fill(rows, entries.map(row));
  };
  // One poll at a time, none once the page is left or the hub is gone.
  let polling = true;
  const poll = async () => {
    const after = entries.at(-1)?.seq ?? 0;
    try {
      const fresh = (await hub.manage("audit", { ...filter, after, limit: 500 })).entries;
      entries.push(...fresh);
      rows.append(...fresh.map(row));
      while (entries.length > SHOWN) {
        entries.shift();
        rows.firstChild.remove();
      }
    } catch (error) {
      if (error.code === "offline") polling = false;
    }
    if (polling) timer = setTimeout(poll, LIVE_EVERY_MS);
  };
  let timer = setTimeout(poll, LIVE_EVERY_MS);
  const form = h("form", { id: "audit-filter" },
    FIELDS.map((f) => h("label", {}, f, " ", inputs[f])),
    h("button", { type: "submit" }, "Filter"));
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try { await load(); } catch (error) { fill(rows, h("tr", {}, h("td", { colspan: 6 }, failure(error)))); }
  });
  fill(main,
    h("h2", {}, "Audit log"),
    form,
    h("p", {},
      h("button", { id: "verify", onclick: async () => fill(result, verdict(await hub.manage("verify"))) }, "Verify the chain"),
      " ",
      h("button", { id: "export", onclick: () => download(entries) }, "Export as JSON")),
    result,
    h("table", { id: "audit" },
      h("thead", {}, h("tr", {}, ["seq", "at", "actor", "plugin", "action", "detail"].map((c) => h("th", {}, c)))),
      rows));
  await load();
  return () => {
    polling = false;
    clearTimeout(timer);
  };
}

function row(e) {
  return h("tr", {}, [e.seq, e.at, e.actor, e.plugin ?? "", e.action, JSON.stringify(e.detail)]
    .map((cell) => h("td", {}, String(cell))));
}

function verdict(chain) {
  return chain.intact
    ? h("span", { class: "ok" }, `Intact: ${chain.entries} entries verified.`)
    : h("span", { class: "error" }, `Broken at entry ${chain.seq}: ${chain.reason}`);
}

function download(entries) {
  const blob = new Blob([JSON.stringify(entries, null, 2)], { type: "application/json" });
  const link = h("a", { href: URL.createObjectURL(blob), download: "hub-audit.json" });
  link.click();
  URL.revokeObjectURL(link.href);
}
