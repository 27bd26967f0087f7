// The "email me a link" form: on /forgot-password, and on /reset-password when a link is unusable.
import {
  clearFieldErrors,
  describeWait,
  holdButton,
  isUnavailable,
  postJson,
  setUnavailable,
  showFieldErrors,
} from './http.js';

const REQUEST_ENDPOINT = '/api/auth/password-reset/request';

/**
 * One message for every well-formed address. The service answers the same whether or not an
 * account exists, and the page must not undo that by saying anything different.
 */
const SENT_MESSAGE =
  'If an account exists for that email address, a link to reset its password is on its way. ' +
  'Check your inbox and your spam folder. The link works once and expires soon.';

/**
 * Wires the form with the ids `request-form`, `email`, `email-errors`, `request-error`,
 * `request-submit` and `request-status`.
 *
 * Code mode (issue 13) is not built yet. Its seam: if the answer carries a `flowId`, the form
 * calls `onCodeFlow(flowId)`, where a page will show the code form. No page passes one today.
 */
export function wireRequestForm({ onCodeFlow } = {}) {
  const form = document.getElementById('request-form');
  const email = document.getElementById('email');
  const emailErrors = document.getElementById('email-errors');
  const error = document.getElementById('request-error');
  const submit = document.getElementById('request-submit');
  const status = document.getElementById('request-status');
  const label = submit.textContent;

  form.addEventListener('submit', async (event) => {
    event.preventDefault();
    if (isUnavailable(submit)) return;
    clearFieldErrors(email, emailErrors);
    error.textContent = '';
    status.textContent = '';
    if (!email.value.trim() || !email.validity.valid) {
      showFieldErrors(email, emailErrors, ['Enter your email address, like name@example.com.']);
      email.focus();
      return;
    }

    setUnavailable(submit, true, 'Sending…');
    const answer = await postJson(REQUEST_ENDPOINT, { email: email.value.trim() });
    setUnavailable(submit, false, label);

    if (answer.status === 200) {
      status.textContent = SENT_MESSAGE;
      if (typeof answer.body.flowId === 'string' && onCodeFlow) onCodeFlow(answer.body.flowId);
    } else if (answer.status === 400 && answer.body.code === 'invalid_request') {
      showFieldErrors(email, emailErrors, ['Enter your email address, like name@example.com.']);
      email.focus();
    } else if (answer.status === 429) {
      error.textContent = `Too many requests from your network. Wait ${describeWait(answer.retryAfterSeconds)}, then try again.`;
      holdButton(submit, answer.retryAfterSeconds, () => {
        error.textContent = 'You can ask for a link again now.';
      });
    } else if (answer.status === 503) {
      error.textContent = 'The service is briefly unavailable. Try again in a few seconds.';
    } else if (answer.status === 0) {
      error.textContent = 'We could not reach the service. Check your connection, then try again.';
    } else {
      error.textContent = `Something went wrong on our side (HTTP ${answer.status}). Try again later.`;
    }
  });
}
