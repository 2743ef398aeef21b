// Passkey buttons of Lanyard's pages, the portal's only script. A form marked
// `data-passkey="register"` or `data-passkey="sign-in"` asks its `data-options` URL for a
// challenge (posting the form's csrf_token), hands it to the browser's WebAuthn API, puts
// the answer in the form's `credential` field and submits the form; the server says the
// rest. An error stays next to the button, in the form's `#passkey-error`.
'use strict';

(function () {
  if (!window.PublicKeyCredential || !navigator.credentials) return;

  function bytes(text) {
    const b64 = text.replace(/-/g, '+').replace(/_/g, '/');
    const padded = b64 + '='.repeat((4 - (b64.length % 4)) % 4);
    return Uint8Array.from(atob(padded), (c) => c.charCodeAt(0));
  }

  function text(buffer) {
    let s = '';
    for (const b of new Uint8Array(buffer)) s += String.fromCharCode(b);
    return btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, '');
  }

  // The server's JSON writes absent members as null; WebAuthn wants them left out.
  function withoutNulls(value) {
    if (Array.isArray(value)) return value.map(withoutNulls);
    if (value && typeof value === 'object') {
      const out = {};
      for (const [k, v] of Object.entries(value)) if (v !== null) out[k] = withoutNulls(v);
      return out;
    }
    return value;
  }

  function publicKey(options) {
    const pk = withoutNulls(options.publicKey);
    pk.challenge = bytes(pk.challenge);
    if (pk.user) pk.user.id = bytes(pk.user.id);
    for (const list of [pk.excludeCredentials, pk.allowCredentials]) {
      for (const c of list || []) c.id = bytes(c.id);
    }
    return pk;
  }

  // The answer as JSON, whether or not the browser has `toJSON`.
  function answer(credential) {
    if (typeof credential.toJSON === 'function') return JSON.stringify(credential.toJSON());
    const r = credential.response;
    const response = { clientDataJSON: text(r.clientDataJSON) };
    if (r.attestationObject) response.attestationObject = text(r.attestationObject);
    if (r.authenticatorData) response.authenticatorData = text(r.authenticatorData);
    if (r.signature) response.signature = text(r.signature);
    if (r.userHandle) response.userHandle = text(r.userHandle);
    return JSON.stringify({
      id: credential.id,
      rawId: text(credential.rawId),
      type: credential.type,
      response,
      clientExtensionResults: credential.getClientExtensionResults(),
    });
  }

  async function challenge(form) {
    const body = new URLSearchParams({ csrf_token: form.elements.csrf_token.value });
    const reply = await fetch(form.dataset.options, { method: 'POST', body, credentials: 'same-origin' });
    if (!reply.ok) throw new Error('The server could not start the passkey check. Reload the page and try again.');
    return reply.json();
  }

  function say(form, message) {
    const error = form.querySelector('#passkey-error');
    error.textContent = message;
    error.hidden = false;
    const name = form.querySelector('#passkey-name');
    if (name) name.setAttribute('aria-invalid', 'true');
  }

  for (const form of document.querySelectorAll('form[data-passkey]')) {
    form.hidden = false;
    form.addEventListener('submit', async (event) => {
      event.preventDefault();
      const button = form.querySelector('button[type=submit]');
      button.disabled = true;
      try {
        const options = await challenge(form);
        const credential = form.dataset.passkey === 'register'
          ? await navigator.credentials.create({ publicKey: publicKey(options) })
          : await navigator.credentials.get({ publicKey: publicKey(options) });
        form.elements.credential.value = answer(credential);
        form.submit();
      } catch (e) {
        const cancelled = e && (e.name === 'NotAllowedError' || e.name === 'AbortError');
        say(form, cancelled
          ? 'No passkey was used. Try again when your device asks.'
          : (e && e.message) || 'The passkey did not work.');
        button.disabled = false;
        button.focus();
      }
    });
  }
})();
