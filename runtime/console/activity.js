// Live capability use: each network use a grant refused (with the rule
// whose grant would allow it) and each quota that held a plugin back, as
// the hub pushes them to operators. Kept from the console's start.

import { h, fill, table } from "./dom.js";

export const EVENTS = ["capability_refused", "quota_hit"];
const KEPT = 200;
const seen = [];
let redraw = null;

/** Starts keeping the events of `hub`'s connection. */
export function record(hub) {
  hub.listen((event) => {
    if (!EVENTS.includes(event.type)) return;
    seen.unshift({ at: new Date().toISOString(), ...event });
    seen.length = Math.min(seen.length, KEPT);
    redraw?.();
  });
}

export function render(hub, main) {
  redraw = () => fill(main,
    h("h2", {}, "Capability use"),
    h("p", {}, "Refused network uses and quota hits as they happen (the first of each minute per plugin and quota)."),
    table(["at", "plugin", "what", "where", "why", "a grant that would allow it"], seen.map((e) =>
      e.type === "quota_hit"
        ? [e.at, e.domain, "quota", "", e.quota, "a higher limit"]
        : [e.at, e.domain, e.use, e.address, e.reason, e.allowing ? h("code", {}, e.allowing) : "none"]),
    { id: "activity" }));
  redraw();
  return () => { redraw = null; };
}
