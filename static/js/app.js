// Every page. A refused form (a stale version, too long a text) answers with the page and
// what was typed at the form's own URL; put the address bar back to the page's, so a reload
// or a shared link shows the case, not a POST-only URL.
const canonical = document.body.dataset.canonicalUrl;
if (canonical && window.location.pathname !== canonical) {
  history.replaceState(null, "", canonical + window.location.hash);
}

// Server push (deliveries/push.py): the push server names a topic that changed and the
// element showing it fetches itself again ("push" in its hx-trigger). While the connection
// is down, every such element polls at its old pace (data-fallback-ms) until it is back.
(function () {
  const url = document.body.dataset.pushUrl;
  if (!url || !window.EventSource || !window.htmx) return;
  const targets = { pop: "screen-pop", case: "chat-log" };
  let timers = [];
  const refresh = (id) => { const el = document.getElementById(id); if (el) htmx.trigger(el, "push"); };
  const source = new EventSource(url);
  Object.entries(targets).forEach(([event, id]) => source.addEventListener(event, () => refresh(id)));
  source.addEventListener("open", () => {
    timers.forEach(clearInterval);
    timers = [];
    Object.values(targets).forEach(refresh); // whatever changed while not connected
  });
  source.addEventListener("error", () => {
    if (timers.length) return;
    document.querySelectorAll("[data-fallback-ms]").forEach((el) => {
      timers.push(setInterval(() => htmx.trigger(el, "push"), Number(el.dataset.fallbackMs)));
    });
  });
})();
