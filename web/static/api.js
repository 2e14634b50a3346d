// Talking to the server: the token (from the page's ?token=, kept for the tab), JSON calls whose
// errors carry the server's message, and the training event stream.

const params = new URLSearchParams(location.search);
if (params.get('token')) sessionStorage.setItem('edgetrain-token', params.get('token'));
export const token = sessionStorage.getItem('edgetrain-token') || '';

// A URL the browser fetches by itself (images, downloads, the event stream) carries the token.
export function withToken(path) {
  if (!token) return path;
  return path + (path.includes('?') ? '&' : '?') + 'token=' + encodeURIComponent(token);
}

export class ApiError extends Error {
  constructor(status, message) {
    super(message);
    this.status = status;
  }
}

// fetch with the token; resolves to the parsed JSON answer, rejects with ApiError.
export async function api(path, { method = 'GET', json, body, contentType } = {}) {
  const headers = {};
  if (token) headers.Authorization = 'Bearer ' + token;
  if (json !== undefined) {
    body = JSON.stringify(json);
    headers['Content-Type'] = 'application/json';
  } else if (contentType) {
    headers['Content-Type'] = contentType;
  }
  const response = await fetch(path, { method, headers, body });
  const text = await response.text();
  let answer = null;
  try {
    answer = text ? JSON.parse(text) : null;
  } catch {
    answer = { error: text };
  }
  if (!response.ok) {
    throw new ApiError(response.status, (answer && answer.error) || response.statusText);
  }
  return answer;
}

// Calls handlers[name](data) for each server-sent event; reconnects by itself (EventSource).
export function subscribe(handlers) {
  const source = new EventSource(withToken('/api/train/events'));
  for (const name of ['status', 'began', 'batch', 'epoch', 'model', 'phase', 'finished', 'lagged']) {
    source.addEventListener(name, (event) => {
      if (handlers[name]) handlers[name](JSON.parse(event.data));
    });
  }
  source.onerror = () => handlers.disconnected && handlers.disconnected();
  return source;
}
