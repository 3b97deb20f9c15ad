// Installed plugins: version, publisher, state with crashes and the last
// reason, what they hold of their budget; enable, disable, remove.

import { h, fill, table, failure, bytes, confirmed } from "./dom.js";
import { upload } from "./hub.js";

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
    installForm(main, () => render(hub, main)));
}

/** Installing by upload: the component, its manifest and its config. */
function installForm(main, done) {
  const component = h("input", { type: "file", id: "upload-component", accept: ".wasm", required: true });
  const manifest = h("input", { type: "file", id: "upload-manifest", accept: ".toml", required: true });
  const config = h("textarea", { id: "upload-config", rows: 2, placeholder: "discovery=239.255.255.250:1982" });
  const result = h("p", { id: "upload-result" });
  const form = h("form", { id: "upload" },
    h("h3", {}, "Install or update by upload"),
    h("label", {}, "Component (.wasm) ", component),
    h("label", {}, "Manifest (plugin.toml) ", manifest),
    h("label", {}, "Config, one KEY=VALUE a line ", config),
    h("button", { type: "submit" }, "Upload"),
    result);
  const button = form.querySelector("button");
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    button.disabled = true;
    fill(result, "Uploading…");
    try {
      const report = await upload(component.files[0], manifest.files[0], config.value);
      await done();
      const waiting = report.pending.length > 0
        ? [" It waits for approval: ", h("a", { href: `#grants/${encodeURIComponent(report.id)}` }, "grants")]
        : [];
      const trouble = report.not_started && failure({ code: "plugin_failed", message: report.not_started });
      main.querySelector("#upload-result")?.append(`Installed ${report.id} ${report.version}.`, ...waiting, trouble);
    } catch (error) {
      fill(result, failure(error));
    } finally {
      button.disabled = false;
    }
  });
  return form;
}


/** A plugin's state as operators read it: disabled, stopped, or its supervisor's. */
export function stateName(p) {
  return !p.enabled ? "disabled" : p.status?.state ?? "stopped";
}

function state(p) {
  const name = stateName(p);
  const retry = p.status?.retry_in_ms ? ` (retry in ${Math.ceil(p.status.retry_in_ms / 1000)} s)` : "";
  return h("span", { class: `state ${name}` }, name + retry);
}

function crashes(p) {
  if (!p.status?.crashes) return "0";
  return h("span", {}, String(p.status.crashes), h("br"), h("small", {}, p.status.last_crash ?? ""));
}
