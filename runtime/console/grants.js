// A plugin's capabilities: what its manifest requests, what is granted and
// what waits for a decision, rule by rule. Approving asks for a
// confirmation that lists exactly what would be added.

import { h, fill, table, failure, confirmed } from "./dom.js";

export async function render(hub, main, pluginId) {
  const plugins = await hub.manage("list");
  const id = pluginId || plugins[0]?.id;
  const picker = h("select", { id: "grant-plugin", onchange: (e) => { location.hash = `#grants/${encodeURIComponent(e.target.value)}`; } },
    plugins.map((p) => h("option", { value: p.id, selected: p.id === id }, p.name, " (", p.id, ")")));
  if (!id) return fill(main, h("h2", {}, "Grants"), h("p", {}, "No plugin is installed."));
  const view = await hub.manage("grants", { plugin: id });
  const decide = (service, rule, narrowTo) => async () => {
    const net = narrowTo?.value.trim();
    const asked = net ? { plugin: id, rule, net } : { plugin: id, rule };
    try {
      // The hub says what approving would store, before anything is.
      const adds = service === "approve" ? (await hub.manage("approve", { ...asked, dry_run: true })).adds : [rule];
      const question = [
        service === "approve" ? `Grant ${id} exactly this?` : `Take back from ${id}:`,
        h("div", { id: "confirm-rule" }, adds.map((added) => h("code", {}, added))),
      ];
      if (!(await confirmed(question))) return;
      await hub.manage(service, asked);
      await render(hub, main, id);
    } catch (error) {
      main.prepend(failure(error));
    }
  };
  fill(main,
    h("h2", {}, "Grants"),
    h("label", {}, "Plugin ", picker),
    table(["requested", "granted", "pending", ""], view.rules.map((r) => {
      const approvable = r.requested && r.granted.length === 0;
      const narrowTo = approvable && NETWORK.test(r.rule)
        && h("input", { class: "narrow", "data-rule": r.rule, placeholder: "narrow to, e.g. 192.168.31.0/24" });
      return [
        r.requested ? h("code", {}, r.rule) : h("span", { class: "no" }, "not requested"),
        r.granted.length === 0
          ? h("span", { class: "no" }, "no")
          : r.granted.map((g) => h("div", { class: "yes" }, g === r.rule ? "yes" : h("code", {}, g))),
        r.pending ? h("span", { class: "pending" }, "waiting") : "",
        h("span", { class: "actions" },
          narrowTo,
          approvable && h("button", {
            class: "approve", "data-rule": r.rule, onclick: decide("approve", r.rule, narrowTo || null),
          }, "Approve"),
          r.granted.map((g) => h("button", {
            class: "revoke danger", "data-rule": g, onclick: decide("revoke", g),
          }, r.granted.length > 1 ? `Revoke ${g}` : "Revoke"))),
      ];
    }), { id: "grants" }),
    view.granted && h("p", {}, `Last decided by ${view.granted.approved_by} at ${view.granted.approved_at}.`));
}

/** A network rule, as the hub names it: protocol, network, ports. */
const NETWORK = /^(tcp|udp) \S+ ports /;
