// Every page. A refused form (a stale version, too long a text) answers with the page and
// what was typed at the form's own URL; put the address bar back to the page's, so a reload
// or a shared link shows the case, not a POST-only URL.
const canonical = document.body.dataset.canonicalUrl;
if (canonical && window.location.pathname !== canonical) {
  history.replaceState(null, "", canonical + window.location.hash);
}
