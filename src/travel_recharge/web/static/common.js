// What the three pages share: the page frame, the login through the token endpoint, calls to
// the API and small DOM helpers. Everything the server sends is shown with textContent (the
// `el` helper); nothing is ever inserted as HTML.

const TOKEN_KEY = "tr.session";
const ROLE_NAMES = {
  admin: "admin",
  operator: "operator",
  analyst: "analyst",
  rider: "rider",
  validator: "validator",
  recharge_point: "recharge point",
};
const PAGES = [
  ["/dashboard", "Dashboard"],
  ["/routes", "Routes"],
  ["/cache", "Cache"],
  ["/insights", "Insights"],
];

export class ApiError extends Error {
  constructor(status, code, detail, path = null) {
    super(detail || `HTTP ${status}`);
    this.status = status;
    this.code = code;
    this.path = path;
  }
}

// --- DOM ---------------------------------------------------------------------------------

// el("td", {className: "num"}, "12") — children are nodes or strings (shown as text).
export function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(props)) {
    if (value === undefined || value === null) continue;
    if (name === "className") node.className = value;
    else if (name === "dataset") Object.assign(node.dataset, value);
    else if (name.startsWith("on")) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value);
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function $(selector, root = document) {
  return root.querySelector(selector);
}

export function setText(selector, value) {
  $(selector).textContent = value;
}

export function replaceChildren(node, ...children) {
  node.replaceChildren(...children.flat().filter((c) => c !== null && c !== undefined));
}

const pesoFormat = new Intl.NumberFormat("es-CO", {
  style: "currency",
  currency: "COP",
  maximumFractionDigits: 0,
});
const countFormat = new Intl.NumberFormat("es-CO");

export const pesos = (amount) => pesoFormat.format(amount);
export const count = (n) => countFormat.format(n);
// A local clock hour (0-23) as the charts and tables show it: "07h".
export const hourLabel = (hour) => `${String(hour).padStart(2, "0")}h`;
export const ms = (value) => (value === null || value === undefined ? "—" : `${value.toFixed(1)} ms`);
export const percent = (share) =>
  share === null || share === undefined ? "—" : `${(share * 100).toFixed(1)} %`;
export const clock = (date) => date.toLocaleTimeString("es-CO", { hour12: false });

// --- Messages ----------------------------------------------------------------------------

export function showError(message) {
  const banner = $("#banner");
  banner.textContent = message;
  banner.hidden = false;
}

export function clearError() {
  $("#banner").hidden = true;
}

// --- Session -------------------------------------------------------------------------------

// The token lives in sessionStorage: it ends with the tab, and no page source ever holds it.
function loadSession() {
  try {
    const session = JSON.parse(sessionStorage.getItem(TOKEN_KEY));
    if (session && session.expiresAt > Date.now()) return session;
  } catch {
    // A damaged entry is the same as no session.
  }
  sessionStorage.removeItem(TOKEN_KEY);
  return null;
}

let session = loadSession();

export function currentRole() {
  return session ? session.role : null;
}

function logout() {
  session = null;
  sessionStorage.removeItem(TOKEN_KEY);
  location.reload();
}

async function login(username, password) {
  const form = new URLSearchParams({ grant_type: "password", username, password });
  const response = await fetch("/api/v1/auth/token", {
    method: "POST",
    headers: { "Content-Type": "application/x-www-form-urlencoded" },
    body: form,
  });
  const body = await response.json().catch(() => ({}));
  if (!response.ok) {
    throw new ApiError(response.status, body.error, body.error_description || body.detail);
  }
  const expiresAt = Date.now() + (body.expires_in - 30) * 1000;
  session = { token: body.access_token, expiresAt, role: body.scope, login: username };
  sessionStorage.setItem(TOKEN_KEY, JSON.stringify(session));
}

// --- API ----------------------------------------------------------------------------------

let onUnauthorized = () => {};

export async function api(path, { method = "GET", body } = {}) {
  const headers = { Accept: "application/json" };
  if (session) headers.Authorization = `Bearer ${session.token}`;
  if (body !== undefined) headers["Content-Type"] = "application/json";
  const response = await fetch(path, {
    method,
    headers,
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const payload = await response.json().catch(() => null);
  if (response.status === 401 && session) {
    // The token expired (15 minutes) or the key changed: ask for a new login.
    session = null;
    sessionStorage.removeItem(TOKEN_KEY);
    onUnauthorized();
  }
  if (!response.ok) {
    const detail = payload && (payload.detail || payload.error);
    throw new ApiError(response.status, payload && payload.error, detail, path);
  }
  return payload;
}

// --- Frame ----------------------------------------------------------------------------------

function navigation() {
  return el(
    "nav",
    {},
    PAGES.map(([path, label]) =>
      el("a", { href: path, "aria-current": location.pathname === path ? "page" : null }, label),
    ),
  );
}

function userBox(openLogin) {
  if (!session) {
    return el("div", { className: "user" }, el("button", { id: "login-open", onclick: openLogin }, "Log in"));
  }
  return el(
    "div",
    { className: "user" },
    el("span", { id: "who" }, `${session.login} · ${ROLE_NAMES[session.role] || session.role}`),
    el("button", { id: "logout", onclick: logout }, "Log out"),
  );
}

function loginDialog(roles, onLoggedIn) {
  const message = el("p", { className: "hint" }, `This page needs one of these roles: ${roles.join(", ")}.`);
  const error = el("p", { className: "error", id: "login-error", role: "alert" });
  const username = el("input", { id: "login-username", name: "username", autocomplete: "username", required: "" });
  const password = el("input", {
    id: "login-password",
    name: "password",
    type: "password",
    autocomplete: "current-password",
    required: "",
  });
  const form = el(
    "form",
    { method: "dialog" },
    el("h2", {}, "Log in"),
    message,
    el("label", {}, "Login", username),
    el("label", {}, "Password", password),
    error,
    el(
      "div",
      { className: "actions" },
      el("button", { type: "submit", id: "login-submit" }, "Log in"),
      el("button", { type: "button", onclick: () => dialog.close() }, "Cancel"),
    ),
  );
  const dialog = el("dialog", { id: "login-dialog" }, form);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    error.textContent = "";
    try {
      await login(username.value.trim(), password.value);
    } catch (failure) {
      error.textContent =
        failure.status === 400 || failure.status === 401
          ? "Wrong login or password."
          : `Could not log in: ${failure.message}`;
      return;
    }
    if (!roles.includes(session.role)) {
      error.textContent = `The ${ROLE_NAMES[session.role]} role cannot use this page.`;
      session = null;
      sessionStorage.removeItem(TOKEN_KEY);
      return;
    }
    dialog.close();
    onLoggedIn();
  });
  return dialog;
}

// A confirmation in a dialog of our own (not window.confirm): it says exactly what will happen.
export function confirmAction(question) {
  return new Promise((resolve) => {
    const dialog = el(
      "dialog",
      { id: "confirm-dialog" },
      el(
        "form",
        { method: "dialog" },
        el("p", { id: "confirm-question" }, question),
        el(
          "div",
          { className: "actions" },
          el("button", { value: "yes", id: "confirm-yes", className: "danger" }, "Yes, do it"),
          el("button", { value: "no", id: "confirm-no", autofocus: "" }, "Cancel"),
        ),
      ),
    );
    dialog.addEventListener("close", () => {
      resolve(dialog.returnValue === "yes");
      dialog.remove();
    });
    document.body.append(dialog);
    dialog.showModal();
  });
}

// Builds the header and, for pages that need a role, asks for a login first.
// `start` runs once the visitor may use the page (at once for public pages).
export function frame({ roles = null, start }) {
  const header = $("#top");
  let started = false;
  const begin = () => {
    replaceChildren(header, el("h1", {}, "Travel Recharge"), navigation(), userBox(openLogin));
    if (roles && (!session || !roles.includes(session.role))) return;
    if (!started) {
      started = true;
      start();
    }
  };
  const dialog = roles ? loginDialog(roles, begin) : loginDialog(Object.keys(ROLE_NAMES), begin);
  document.body.append(dialog);
  function openLogin() {
    dialog.showModal();
    $("#login-username").focus();
  }
  onUnauthorized = () => {
    showError("Your session ended: please log in again.");
    begin();
    openLogin();
  };
  begin();
  if (roles && !session) openLogin();
}

// --- Polling and charts -------------------------------------------------------------------

// Calls `refresh` now and every `periodMs` while the tab is visible; one call at a time.
export function poll(refresh, periodMs) {
  let timer = null;
  const tick = async () => {
    clearTimeout(timer);
    try {
      await refresh();
    } catch (failure) {
      if (!(failure instanceof ApiError && failure.status === 401)) {
        showError(failure.path ? `${failure.path}: ${failure.message}` : failure.message);
      }
    }
    if (!document.hidden) timer = setTimeout(tick, periodMs);
  };
  document.addEventListener("visibilitychange", () => {
    if (!document.hidden) tick();
  });
  tick();
}

const PALETTE = ["#c8102e", "#1f6feb", "#2da44e", "#bf8700", "#8250df", "#57606a"];

export function color(index) {
  return PALETTE[index % PALETTE.length];
}

// A Chart.js chart in `canvas`, or a note where it would be when the library is missing.
export function chart(canvas, config) {
  if (!window.Chart) {
    canvas.replaceWith(el("p", { className: "error" }, "Chart library missing: run `make` to fetch it."));
    return null;
  }
  const options = { responsive: true, maintainAspectRatio: false, animation: false, ...config.options };
  return new window.Chart(canvas, { ...config, options });
}
