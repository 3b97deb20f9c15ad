// The marketplace as this hub follows it: its verified status and the
// publishers trusted for sideloading; newer reviewed releases of installed
// plugins with what each asks beyond its grant; and installing a signed
// release from a registry by its oci:// reference. Every install goes
// through the hub's checks, and what it adds waits for approval.

import { h, fill, table, failure } from "./dom.js";

export function render(hub, main) {
  return show(hub, main, null);
}

/** The page, with `notice` (what the last action came to) above it. */
async function show(hub, main, notice) {
  const trust = await hub.manage("trust_show");
  const updates = await hub.manage("updates").catch((error) => error);
  // Runs `call` with `button` disabled; the page again, saying what came of it.
  const act = async (button, call) => {
    button.disabled = true;
    let outcome;
    try {
      outcome = said(await call());
    } catch (error) {
      outcome = failure(error);
    }
    await show(hub, main, outcome).catch((error) => fill(main, failure(error)));
  };
  fill(main,
    h("h2", {}, "Marketplace"),
    h("div", { id: "market-result" }, notice),
    status(hub, trust.market, act),
    h("h3", {}, "Updates"),
    updateList(hub, updates, act),
    installForm(hub, act),
    h("h3", {}, "Publishers trusted for sideloading"),
    trust.publishers.length === 0
      ? h("p", {}, "None: only releases the marketplace reviewed install.")
      : table(["name", "key", "added by", "at"], trust.publishers.map((p) =>
        [p.name, h("code", {}, p.key), p.added_by, p.added_at]), { id: "publishers" }));
}

/** What the hub verified of its marketplace, and a refresh now. */
function status(hub, market, act) {
  if (!market) {
    return h("p", { id: "trust" }, "No marketplace pinned: pin its root with hub trust pin-market ROOT.json.");
  }
  const refresh = h("button", { id: "refresh" }, "Refresh now");
  refresh.addEventListener("click", () => act(refresh, () => hub.manage("trust_refresh")));
  const issued = market.status_version == null
    ? "no status imported yet"
    : `index version ${market.index_version} (${market.reviewed} reviewed), status version ${market.status_version} ` +
      `(${market.revoked} revoked), expires ${when(market.expires_at)}: ` +
      (market.stale ?? "holds");
  return h("p", { id: "trust" }, `Root version ${market.root_version}; ${issued}. `, refresh);
}

/** Each newer reviewed release, what it asks beyond the grant, and Install. */
function updateList(hub, updates, act) {
  if (updates.code) return failure(updates);
  if (updates.updates.length === 0) return h("p", { id: "updates" }, "No newer reviewed releases.");
  const fitting = updates.updates.filter((u) => u.wider.length === 0 && !u.failed);
  const all = h("button", { id: "install-fitting", disabled: fitting.length === 0 }, "Install all that fit");
  all.addEventListener("click", () => act(all, () => hub.manage("updates", { install: true })));
  const rows = updates.updates.map((u) => {
    const install = h("button", { class: "install", "data-plugin": u.plugin, "data-to": u.to }, "Install");
    install.addEventListener("click", () => act(install, () => hub.manage("install", { oci: u.oci })));
    const note = u.sideloaded ? "sideloaded: updated by an operator only"
      : u.scheduled ? "updates on its own once it fits" : "";
    const asks = u.failed ? "not known"
      : u.wider.length === 0 ? "fits its grant" : `asks for more: ${u.wider.join(", ")}`;
    return [u.plugin, `${u.from} → ${u.to}`, asks, u.failed ? `${note} failed: ${u.failed}` : note, install];
  });
  return h("div", {}, table(["plugin", "version", "capabilities", "", ""], rows, { id: "updates" }), all);
}

/** Installing a release from a registry by reference. */
function installForm(hub, act) {
  const reference = h("input", { id: "oci-reference", required: true, size: 60, placeholder: "oci://registry.example/plugins/lamp:1.0.0" });
  const config = h("textarea", { id: "oci-config", rows: 2, placeholder: "discovery=239.255.255.250:1982" });
  const downgrade = h("input", { type: "checkbox", id: "oci-downgrade" });
  const button = h("button", { type: "submit" }, "Install");
  const form = h("form", { id: "install-oci" },
    h("h3", {}, "Install from a registry"),
    h("label", {}, "Reference ", reference),
    h("label", {}, "Config, one KEY=VALUE a line ", config),
    h("label", {}, downgrade, " even if older than the installed version"),
    button);
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    // No config lines: an installed plugin keeps its configuration.
    const given = pairs(config.value);
    const asked = { oci: reference.value.trim(), downgrade: downgrade.checked };
    if (Object.keys(given).length > 0) asked.config = given;
    act(button, () => hub.manage("install", asked));
  });
  return form;
}

/** What an action came to: install reports as sentences, with a link to
 * approve, and the updates that failed with why. */
function said(answer) {
  const reports = answer?.installed ?? (answer?.id ? [answer] : []);
  const failed = (answer?.updates ?? []).filter((u) => u.failed);
  if (reports.length === 0 && failed.length === 0) return h("p", {}, "Done.");
  return [
    reports.map((r) => h("p", { class: "installed" },
      r.updated_from ? `Updated ${r.id} from ${r.updated_from} to ${r.version}.` : `Installed ${r.id} ${r.version}.`,
      r.pending.length > 0
        ? [" It waits for approval: ", h("a", { href: `#grants/${encodeURIComponent(r.id)}` }, "grants"), "."]
        : "")),
    failed.map((u) => failure({ message: `${u.plugin} ${u.to} failed: ${u.failed}` })),
  ];
}

/** Seconds since the epoch as a date, or as they are when no date holds them. */
function when(seconds) {
  const date = new Date(seconds * 1000);
  return Number.isNaN(date.getTime()) ? `${seconds} s after 1970` : date.toISOString();
}

/** `KEY=VALUE` lines as an object. */
function pairs(text) {
  const found = {};
  for (const line of text.split("\n")) {
    const at = line.indexOf("=");
    if (at > 0) found[line.slice(0, at).trim()] = line.slice(at + 1).trim();
  }
  return found;
}
