// infratests-node-express: the status page script.
(function () {
  'use strict';
  var el = document.querySelector('[data-health]');
  if (!el) return;
  fetch('/health', { cache: 'no-store' })
    .then(function (r) { return r.json(); })
    .then(function (body) { el.textContent = body.status; el.className = 'status status--' + (body.status === 'ok' ? 'ok' : 'down'); })
    .catch(function () { el.textContent = 'unreachable'; el.className = 'status status--down'; });
})();
