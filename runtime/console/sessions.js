// Who is signed in to the console, from where and since when; an operator
// can end any session, which closes its connections at once.

import { h, fill, table, failure } from "./dom.js";

export async function render(hub, main) {
  const { sessions } = await hub.call({ domain: "hub", service: "sessions" });
  const mine = hub.hello.caller.session;
  const end = (session) => async () => {
    try {
      await hub.call({ domain: "hub", service: "end_session", service_data: { session } });
      await render(hub, main);
    } catch (error) {
      main.prepend(failure(error));
    }
  };
  fill(main,
    h("h2", {}, "Sessions"),
    table(["session", "token", "scope", "from", "signed in", "idle", ""], sessions.map((s) => [
      String(s.session) + (s.session === mine ? " (this one)" : ""),
      s.name, s.scope, s.peer, s.signed_in_at, `${s.idle_seconds} s`,
      h("button", { onclick: end(s.session) }, "Sign out"),
    ]), { id: "sessions" }));
}
