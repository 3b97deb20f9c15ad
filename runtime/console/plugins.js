// Installed plugins: version, publisher, state with crashes and the last
// reason, what they hold of their budget; enable, disable, remove.

import { h, fill, table, failure, bytes, confirmed } from "./dom.js";

export async function render(hub, main) {
  const plugins = await hub.manage("list");
  const act = (service, plugin, question) => async () => {
    if (question && !(await confirmed(question))) return;
    try {
      await hub.manage(service, { plugin });
      await render(hub, main);
    } catch (error) {
      main.prepend(failure(error));
    }
  };
  fill(main,
    h("h2", {}, "Plugins"),
    table(["plugin", "version", "publisher", "state", "crashes", "devices", "memory", "protocol", ""],
      plugins.map((p) => [
        h("span", { class: "name" }, p.name, h("br"), h("small", {}, p.id)),
        p.version,
        p.publisher,
        state(p),
        crashes(p),
        p.budget ? `${p.budget.devices} / ${p.budget.max_devices}` : String(p.devices),
        p.budget ? `${bytes(p.budget.memory_bytes)} / ${bytes(p.budget.total_memory_bytes)}` : "",
        p.protocol ?? "",
        h("span", { class: "actions" },
          p.enabled
            ? h("button", { onclick: act("disable", p.id) }, "Disable")
            : h("button", { onclick: act("enable", p.id) }, "Enable"),
          h("a", { href: `#grants/${encodeURIComponent(p.id)}` }, "Grants"),
          h("button", { class: "danger", onclick: act("remove", p.id, `Remove ${p.id} and its devices?`) }, "Remove")),
      ]), { id: "plugins" }),
    h("p", {}, "Install plugins with ", h("code", {}, "hub plugin install"),
      " or a client's ", h("code", {}, "install"), " from the hub's install directory."));
}

function state(p) {
  const name = !p.enabled ? "disabled" : p.status?.state ?? "stopped";
  const retry = p.status?.retry_in_ms ? ` (retry in ${Math.ceil(p.status.retry_in_ms / 1000)} s)` : "";
  return h("span", { class: `state ${name}` }, name + retry);
}

function crashes(p) {
  if (!p.status?.crashes) return "0";
  return h("span", {}, String(p.status.crashes), h("br"), h("small", {}, p.status.last_crash ?? ""));
}
