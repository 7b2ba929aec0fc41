// Sign-in page: POST /api/login sets the HttpOnly session cookie, then the
// app loads from "/" (which serves the app to a signed-in browser).
'use strict';
(function () {
  const form = document.getElementById('login-form');
  const err = document.getElementById('login-error');
  form.addEventListener('submit', async (ev) => {
    ev.preventDefault();
    err.hidden = true;
    const button = document.getElementById('login-submit');
    button.disabled = true;
    try {
      const res = await fetch('/api/login', {
        method: 'POST',
        headers: { 'Content-Type': 'application/json' },
        credentials: 'same-origin',
        body: JSON.stringify({
          user: document.getElementById('login-user').value,
          password: document.getElementById('login-password').value,
        }),
      });
      if (res.ok) {
        const target = location.hash && location.hash.startsWith('#/') ? location.hash : '#/live';
        // "/" now serves the app to this browser: reload it at the wanted page.
        history.replaceState(null, '', '/' + target);
        location.reload();
        return;
      }
      let msg = 'Sign-in failed (' + res.status + ')';
      try { msg = (await res.json()).error || msg; } catch (e) { /* not JSON */ }
      err.textContent = msg;
      err.hidden = false;
    } catch (e) {
      err.textContent = 'Cannot reach the gateway: ' + e.message;
      err.hidden = false;
    } finally {
      button.disabled = false;
    }
  });
})();
