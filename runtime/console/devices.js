// Devices with their live attributes: a control fitted to each
// attribute's type and range, changes pushed by the hub shown as they
// come, firmware checks, and OTA with a progress bar and time remaining.

import { h, fill, failure } from "./dom.js";

export async function render(hub, main) {
  const cards = new Map();
  const list = h("div", { class: "cards" });
  const report = h("p", { id: "discovered" });
  const load = async () => {
    const devices = await known(hub);
    cards.clear();
    fill(list, devices.length === 0 && h("p", {}, "No device is known yet: discover them."),
      devices.map((d) => {
        const card = new Card(hub, d);
        cards.set(key(d.plugin_id, d.identity), card);
        return card.element;
      }));
  };
  const discover = async () => {
    fill(report, "Searching…");
    try {
      const done = await hub.call({ service: "discover" }, () => {});
      await load();
      fill(report, `Found ${done.count} devices.`,
        done.errors.map((e) => failure({ code: e.code, message: `${e.plugin_id}: ${e.error}` })));
    } catch (error) {
      fill(report, failure(error));
    }
  };
  fill(main, h("h2", {}, "Devices"), h("p", {}, h("button", { id: "discover", onclick: discover }, "Discover")),
    report, list);
  await load();
  return hub.listen((event) => cards.get(key(event.domain, event.identity))?.hear(event));
}

/** Every device the hub knows, page by page. */
async function known(hub) {
  const devices = [];
  let after;
  do {
    const page = await hub.call({ service: "list_devices", service_data: after ? { after } : {} });
    devices.push(...page.devices);
    after = page.next;
  } while (after);
  return devices;
}

const key = (plugin, identity) => `${plugin}\u0000${identity}`;

class Card {
  constructor(hub, device) {
    this.hub = hub;
    this.device = device;
    this.controls = new Map();
    this.attrs = h("div", { class: "attrs" });
    this.status = h("p", { class: "status" });
    this.ota = h("div", { class: "ota" });
    this.availability = h("span", { class: `availability ${device.availability}` }, device.availability);
    this.element = h("section", { class: "device", "data-identity": device.identity },
      h("h3", {}, device.name),
      h("p", {}, h("small", {}, device.manufacturer, " ", device.model, " · ", device.plugin_id, " · ", device.identity)),
      this.availability,
      h("p", { class: "actions" },
        h("button", { class: "read", onclick: () => this.read() }, "Read"),
        h("button", { class: "check-update", onclick: () => this.checkUpdate() }, "Check for updates")),
      this.attrs, this.status, this.ota);
    if (device.instances) this.show(device.instances);
  }

  request(service, service_data) {
    return this.hub.call({ domain: this.device.plugin_id, identity: this.device.identity, service, service_data });
  }

  async act(what) {
    try {
      fill(this.status);
      return await what();
    } catch (error) {
      fill(this.status, failure(error));
    }
  }

  read() {
    return this.act(async () => this.show((await this.request("get_attributes")).device.instances));
  }

  show(instances) {
    this.controls.clear();
    fill(this.attrs, instances.map((instance) => h("fieldset", {},
      h("legend", {}, instance.type, " ", String(instance.instance_id)),
      instance.attrs.map((attr) => {
        const control = new Control(attr, (val) => this.write(instance.instance_id, attr.attribute, val));
        this.controls.set(`${instance.instance_id}/${attr.attribute}`, control);
        return control.element;
      }))));
  }

  write(instance_id, attribute, val) {
    return this.act(() => this.request("set_attributes", { attributes: [{ instance_id, attribute, val }] }));
  }

  checkUpdate() {
    return this.act(async () => {
      const update = await this.request("check_update");
      if (!update.update_available) {
        return fill(this.ota, `Firmware ${update.current_version} is the latest.`);
      }
      fill(this.ota,
        `Firmware ${update.latest_firmware.version} is available (running ${update.current_version}). `,
        h("button", { class: "update", onclick: () => this.update() }, "Update"));
    });
  }

  update() {
    this.progress = new Progress();
    fill(this.ota, this.progress.element);
    return this.act(async () => {
      await this.request("ota");
      this.progress.finish();
    });
  }

  hear(event) {
    if (event.type === "attribute_change") {
      this.controls.get(`${event.instance_id}/${event.attr.attribute}`)?.set(event.attr.val);
    } else if (event.type === "ota_progress") {
      if (!this.progress) fill(this.ota, (this.progress = new Progress()).element);
      this.progress.report(event);
    } else if (event.type === "device_availability") {
      this.availability.className = `availability ${event.availability}`;
      fill(this.availability, event.availability);
    }
  }
}

/** One attribute: a control fitted to its type and range, or its value when read-only. */
class Control {
  constructor(attr, write) {
    this.attr = attr;
    const writable = attr.permissions.includes("write");
    this.input = writable ? this.build(write) : h("output", {});
    this.element = h("label", { class: "attr", "data-attribute": attr.attribute },
      h("span", {}, attr.attribute), this.input, attr.unit ? ` ${attr.unit}` : "");
    this.set(attr.val);
  }

  build(write) {
    const { val_type: type, min, max, enum_values: choices } = this.attr;
    if (type === "bool") {
      return h("input", { type: "checkbox", onchange: (e) => write(e.target.checked) });
    }
    if (choices?.length) {
      return h("select", { onchange: (e) => write(e.target.value) }, choices.map((c) => h("option", { value: c }, c)));
    }
    if (type === "int" || type === "float") {
      const ranged = min != null && max != null;
      const input = h("input", {
        type: ranged ? "range" : "number", min, max, step: type === "int" ? 1 : "any",
        onchange: (e) => write(Number(e.target.value)),
      });
      this.shown = h("output", {});
      return h("span", {}, input, this.shown);
    }
    return h("input", { type: "text", onchange: (e) => write(e.target.value) });
  }

  set(val) {
    const input = this.input.querySelector?.("input") ?? this.input;
    if (input.type === "checkbox") input.checked = Boolean(val);
    else if (input.tagName === "OUTPUT") fill(input, String(val ?? ""));
    else input.value = val ?? "";
    if (this.shown) fill(this.shown, String(val ?? ""));
  }
}

/** An OTA's progress: percent and the time left at the rate seen so far. */
class Progress {
  constructor() {
    this.started = performance.now();
    this.bar = h("progress", { max: 100, value: 0 });
    this.text = h("span", { class: "ota-state" }, "starting");
    this.element = h("div", { class: "progress" }, this.bar, " ", this.text);
  }

  report(event) {
    if (event.percent != null) this.bar.value = event.percent;
    if (event.state === "failed") {
      return fill(this.text, `failed: ${event.error ?? "the device reported an error"}`);
    }
    if (event.state === "done") return this.finish();
    const percent = event.percent == null ? "" : ` ${event.percent}%${this.left(event.percent)}`;
    fill(this.text, event.state + percent);
  }

  left(percent) {
    if (!percent) return "";
    const elapsed = (performance.now() - this.started) / 1000;
    return `, about ${Math.ceil((elapsed * (100 - percent)) / percent)} s left`;
  }

  finish() {
    this.bar.value = 100;
    fill(this.text, "done");
  }
}
