// Talking to the reset API, and showing what it said. Shared by both pages.

/**
 * POSTs JSON and reads the answer. Status 0 means no answer arrived (offline, refused, timed out).
 * A reset needs no session, so no cookies are sent; nothing is cached.
 */
export async function postJson(path, body) {
  try {
    const response = await fetch(path, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
      credentials: 'omit',
      cache: 'no-store',
      signal: AbortSignal.timeout(30_000),
    });
    const json = await response.json().catch(() => null);
    return {
      status: response.status,
      body: json && typeof json === 'object' ? json : {},
      retryAfterSeconds: parseRetryAfter(response.headers.get('Retry-After')),
    };
  } catch {
    return { status: 0, body: {}, retryAfterSeconds: undefined };
  }
}

/** Retry-After is either a number of seconds or an HTTP date (RFC 9110, section 10.2.3). */
export function parseRetryAfter(value) {
  if (!value) return undefined;
  if (/^\d+$/.test(value.trim())) return Number(value.trim());
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, Math.ceil((date - Date.now()) / 1000));
}

/** "45 seconds", "15 minutes (until 09:42)": the wait a 429 asked for, in words. */
export function describeWait(seconds) {
  if (seconds === undefined) return 'a few minutes';
  if (seconds < 60) return seconds === 1 ? '1 second' : `${seconds} seconds`;
  const minutes = Math.ceil(seconds / 60);
  const until = new Date(Date.now() + seconds * 1000).toLocaleTimeString([], {
    hour: '2-digit',
    minute: '2-digit',
  });
  return `${minutes === 1 ? '1 minute' : `${minutes} minutes`} (until ${until})`;
}

/** Lists messages under a field and ties them to it, so a screen reader reads them with the field. */
export function showFieldErrors(input, list, messages) {
  list.replaceChildren(
    ...messages.map((message) => {
      const item = document.createElement('li');
      item.textContent = message;
      return item;
    }),
  );
  input.setAttribute('aria-invalid', 'true');
}

export function clearFieldErrors(input, list) {
  list.replaceChildren();
  input.removeAttribute('aria-invalid');
}

/**
 * Marks a button busy or waiting. aria-disabled, not disabled, keeps the keyboard focus on it;
 * the form's submit handler ignores clicks while it is set.
 */
export function setUnavailable(button, unavailable, label) {
  if (unavailable) button.setAttribute('aria-disabled', 'true');
  else button.removeAttribute('aria-disabled');
  if (label) button.textContent = label;
}

export function isUnavailable(button) {
  return button.getAttribute('aria-disabled') === 'true';
}

/** Keeps a button unavailable for the wait a 429 asked for, then calls `ready`. */
export function holdButton(button, seconds, ready) {
  setUnavailable(button, true);
  setTimeout(
    () => {
      setUnavailable(button, false);
      ready();
    },
    // At most a day: the service's windows are never longer, and setTimeout overflows past 24 days.
    Math.min(seconds ?? 60, 86_400) * 1000,
  );
}
