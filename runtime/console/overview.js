// What an operator checks first: plugins by state, approvals waiting,
// whether the audit chain is intact, who is signed in.

import { h, fill, table } from "./dom.js";
import { stateName } from "./plugins.js";

export async function render(hub, main) {
  const [plugins, chain, sessions] = await Promise.all([
    hub.manage("list"),
    hub.manage("verify"),
    hub.call({ domain: "hub", service: "sessions" }),
  ]);
  const count = (state) => plugins.filter((p) => stateName(p) === state).length;
  const pending = plugins.filter((p) => p.pending.length > 0);
  fill(main,
    h("h2", {}, "Overview"),
    h("ul", { class: "tiles" },
      tile("running", count("running")),
      tile("restarting", count("restarting")),
      tile("failed", count("failed")),
      tile("disabled", count("disabled")),
      tile("pending approvals", pending.length),
      tile("signed in", sessions.sessions.length)),
    h("p", { id: "chain", class: chain.intact ? "ok" : "error" },
      chain.intact
        ? `Audit chain intact: ${chain.entries} entries verified.`
        : `Audit chain broken at entry ${chain.seq}: ${chain.reason}`),
    pending.length > 0 && h("section", {},
      h("h3", {}, "Waiting for approval"),
      table(["plugin", "asks for"], pending.map((p) => [
        h("a", { href: `#grants/${encodeURIComponent(p.id)}` }, p.name),
        p.pending.join(", "),
      ]))));
}

function tile(label, n) {
  return h("li", { class: n > 0 && (label === "failed" || label === "restarting") ? "warn" : "" },
    h("strong", {}, String(n)), " ", label);
}
