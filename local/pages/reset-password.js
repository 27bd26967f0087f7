// /reset-password#token=…: the page the emailed link opens. Read this file top to bottom.
import {
  clearFieldErrors,
  describeWait,
  holdButton,
  isUnavailable,
  postJson,
  setUnavailable,
  showFieldErrors,
} from './http.js';
import { wireRequestForm } from './request-link.js';

// 1. Before anything else, take the token out of the address bar and out of the history entry,
//    so it cannot leak through a bookmark, a shared screenshot, history sync or a copied URL.
//    It was in the fragment, which browsers never send to a server or put in a Referer.
//    From here on it lives only in this variable: never in localStorage, sessionStorage or a cookie.
let token = takeTokenFromFragment();

function takeTokenFromFragment() {
  const value = new URLSearchParams(location.hash.slice(1)).get('token');
  if (location.hash) history.replaceState(history.state, '', location.pathname + location.search);
  return value || null;
}

const CONFIRM_ENDPOINT = '/api/auth/password-reset/confirm';

const resetSection = document.getElementById('reset');
const form = document.getElementById('reset-form');
const password = document.getElementById('new-password');
const passwordErrors = document.getElementById('new-password-errors');
const repeat = document.getElementById('confirm-password');
const repeatErrors = document.getElementById('confirm-password-errors');
const showPasswords = document.getElementById('show-passwords');
const error = document.getElementById('reset-error');
const submit = document.getElementById('reset-submit');
const label = submit.textContent;

// 2. Nothing is sent until the user submits. A mail gateway that "clicks" every link to scan it
//    opens this page and leaves, and the token stays unused.
wireRequestForm();
if (token) {
  resetSection.hidden = false;
} else {
  showNewLink(
    'This page was opened without a reset link. It removes the link from the address bar as soon as it ' +
      'opens, so reloading the page loses it: open the link in your email again, or ask for a new one below.',
  );
}

showPasswords.addEventListener('change', () => {
  const type = showPasswords.checked ? 'text' : 'password';
  password.type = type;
  repeat.type = type;
});

// 3. On submit: check the two fields agree, post the token and the password, show the answer.
form.addEventListener('submit', async (event) => {
  event.preventDefault();
  if (isUnavailable(submit)) return;
  clearFieldErrors(password, passwordErrors);
  clearFieldErrors(repeat, repeatErrors);
  error.textContent = '';
  if (!password.value) return fieldError(password, passwordErrors, ['Enter a new password.']);
  if (repeat.value !== password.value) {
    return fieldError(repeat, repeatErrors, ['The two passwords are not the same. Type them again.']);
  }

  setUnavailable(submit, true, 'Changing password…');
  const answer = await postJson(CONFIRM_ENDPOINT, { token, newPassword: password.value });
  setUnavailable(submit, false, label);
  showAnswer(answer);
});

// 4. Every answer the confirm endpoint can give, and what the user sees.
function showAnswer({ status, body, retryAfterSeconds }) {
  if (status === 200) {
    forgetToken();
    resetSection.hidden = true;
    document.getElementById('done').hidden = false;
    document.getElementById('done-heading').focus();
  } else if (status === 422 && Array.isArray(body.violations)) {
    // weak_password: one message per rule broken, next to the field. The token is still good.
    const messages = body.violations.map((violation) => String(violation.message));
    fieldError(password, passwordErrors, messages);
    error.textContent = 'Choose a different password. The reasons are listed under the field.';
  } else if (status === 400 && body.code === 'invalid_or_expired_token') {
    forgetToken();
    showNewLink(
      'It was already used, it expired, or a newer link was sent after it. ' +
        'Each link works once and for a short time. Ask for a new one below.',
    );
  } else if (status === 429) {
    // The wait comes from Retry-After. The token is not used up by a refused attempt.
    error.textContent = `Too many attempts. Wait ${describeWait(retryAfterSeconds)}, then try again. If the link has expired by then, this page will offer a new one.`;
    holdButton(submit, retryAfterSeconds, () => {
      error.textContent = 'You can try again now.';
    });
  } else if (status === 503) {
    error.textContent =
      'The service is briefly unavailable. Your password was not changed. Try again in a few seconds.';
  } else if (status === 0) {
    error.textContent =
      'We could not reach the service, so your password was not changed. Check your connection, then try again.';
  } else {
    error.textContent = `Something went wrong on our side (HTTP ${status}). Your password was not changed. Try again later.`;
  }
}

function fieldError(input, list, messages) {
  showFieldErrors(input, list, messages);
  input.focus();
}

/** After success or a dead link, drop the token and the typed passwords from the page. */
function forgetToken() {
  token = null;
  form.reset();
  password.type = 'password';
  repeat.type = 'password';
}

function showNewLink(reason) {
  resetSection.hidden = true;
  document.getElementById('new-link-reason').textContent = reason;
  document.getElementById('new-link').hidden = false;
  document.getElementById('new-link-heading').focus();
}
