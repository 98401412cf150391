// The console's shell: sign-in, the role, and the three pages behind hash routes.

import { roleOf, session, Problem } from "./api.js";
import { h, field, replace, status } from "./ui.js";
import { integrationsPage } from "./integrations.js";
import { feedPage } from "./feed.js";
import { policiesPage } from "./policies.js";

const PAGES = {
  integrations: { title: "Integrations › Events and Logs", render: integrationsPage },
  events: { title: "Events › Event Feed", render: feedPage },
  policies: { title: "Policies › Runtime Policies", render: policiesPage },
};

const main = document.getElementById("main");
let current = { role: null, stop: null };

function signInPage(message) {
  const token = h("input", { type: "password", name: "token", autocomplete: "off", required: true });
  const tokenField = field("API token", token, "An admin or viewer token of your tenant (oki_…). It is kept in this tab only.");
  const note = status();
  if (message) note.say(message, "error");
  const form = h("form", { class: "card narrow", "aria-labelledby": "sign-in-title" },
    h("h1", { id: "sign-in-title" }, "Sign in"),
    tokenField,
    h("button", { type: "submit" }, "Sign in"),
    note);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    note.say("Checking the token…");
    try {
      const role = await roleOf(token.value.trim());
      session.save(token.value.trim());
      start(role);
    } catch (problem) {
      const text = problem instanceof Problem && problem.status === 401
        ? "This token is unknown, expired or revoked." : problem.message;
      tokenField.showHint("Not signed in.", text);
      note.say("");
    }
  });
  showChrome(false);
  replace(main, form);
  document.title = "Sign in · okta-ingest";
  token.focus();
}

function showChrome(signedIn) {
  document.getElementById("nav").hidden = !signedIn;
  document.getElementById("session").hidden = !signedIn;
}

function start(role) {
  current.role = role;
  document.body.dataset.role = role;
  document.getElementById("role").textContent = role === "admin" ? "Admin" : "Viewer (read-only)";
  showChrome(true);
  if (!location.hash.startsWith("#/")) location.hash = "#/integrations";
  else route();
}

function route() {
  if (!current.role) return;
  current.stop?.();
  current.stop = null;
  const name = location.hash.slice(2).split("/")[0];
  const page = PAGES[name] || PAGES.integrations;
  for (const link of document.querySelectorAll("#nav a")) {
    if (link.dataset.page === name) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  document.title = `${page.title} · okta-ingest`;
  const section = h("section", { "aria-labelledby": "page-title" });
  replace(main, section);
  const context = {
    admin: current.role === "admin",
    onUnauthorized: () => signOut("Your token is no longer valid; sign in again."),
  };
  current.stop = page.render(section, context) || null;
  main.focus({ preventScroll: true });
}

function signOut(message) {
  current.stop?.();
  current = { role: null, stop: null };
  session.clear();
  delete document.body.dataset.role;
  signInPage(message);
}

session.onRefused = () => signOut("Your token is no longer valid; sign in again.");
window.addEventListener("hashchange", route);
window.addEventListener("unhandledrejection", (event) => {
  if (event.reason instanceof Problem && event.reason.status === 401) signOut("Your token is no longer valid; sign in again.");
});
document.getElementById("sign-out").addEventListener("click", () => signOut());

async function boot() {
  const token = session.token();
  if (!token) return signInPage();
  try {
    start(await roleOf(token));
  } catch {
    signOut("Sign in again.");
  }
}

boot();
