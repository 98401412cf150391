// Integrations › Events and Logs: the Okta integrations with their health, the two wizard
// paths, learned baselines, credential rotation and deletion.

import { api } from "./api.js";
import { announce, field, h, replace, status, timeAgo } from "./ui.js";

const BASE = "/integrations/okta";

/** Which field a validation code concerns, and its headline; the API's detail says what to do. */
const CODES = {
  invalid_domain: ["domain", "This is not an Okta domain."],
  already_connected: ["domain", "This Okta org is already connected."],
  org_unreachable: ["domain", "Okta could not be reached at this domain."],
  invalid_client: ["secret", "Okta rejected the Client Secret or Client ID."],
  missing_scopes: ["clientId", "The Sysdig app lacks scopes."],
  event_hook_limit_reached: ["form", "Event Hook limit reached."],
  hook_verification_failed: ["form", "Okta could not verify the Event Hook."],
  okta_rate_limited: ["form", "Okta's rate limit is exhausted."],
  okta_error: ["form", "Okta refused the request."],
  invalid_days: ["days", "Between 1 and 90 days."],
};

export function integrationsPage(root, context) {
  const list = h("div", { class: "list-region" });
  const wizard = h("div");
  const header = h("div", { class: "page-head" },
    h("h1", { id: "page-title" }, "Events and Logs"),
    context.admin && h("button", { type: "button", onclick: () => openWizard(wizard, refresh) }, "Add Integration"));
  replace(root, h("p", { class: "crumb" }, "Integrations"), header, wizard, list);

  let learning = false;
  async function refresh() {
    try {
      const { items } = await api("GET", BASE);
      learning = items.some((i) => i.status === "learning");
      renderList(list, items.filter((i) => i.status !== "deleted"), context, refresh);
    } catch (problem) {
      replace(list, h("p", { class: "status error" }, problem.message));
    }
  }
  refresh();
  // Health figures move; a form someone is typing in does not get replaced under them. A
  // baseline's progress is followed more closely while it learns.
  const busy = () => list.querySelector(".rotate-row") || list.contains(document.activeElement);
  let ticks = 0;
  const timer = setInterval(() => (learning || ++ticks % 5 === 0) && !busy() && refresh(), 3000);
  return () => clearInterval(timer);
}

function renderList(list, items, context, refresh) {
  if (!items.length) {
    replace(list, h("p", { class: "empty" }, "No Okta integration yet.",
      context.admin ? " Add one to start receiving events." : ""));
    return;
  }
  const rows = items.map((item) => h("tr", {},
    h("th", { scope: "row" }, item.okta_domain),
    h("td", {}, h("span", { class: `pill pill-${item.status}` }, item.status),
      item.hook_status ? h("span", { class: "muted" }, ` hook ${item.hook_status}`) : null,
      baselineNote(item.baseline)),
    h("td", {}, item.coverage === "extended" ? "Extended" : "Standard (18 types)"),
    h("td", { class: "num" }, String(item.events_received)),
    h("td", {}, timeAgo(item.last_event_at)),
    h("td", { class: "num" }, `${Number(item.processing_lag_seconds).toFixed(1)} s`),
    h("td", {}, health(item)),
    context.admin ? h("td", { class: "actions" },
      item.status === "active" ? h("button", { type: "button", class: "secondary", onclick: (e) => learnBaseline(e.target, item, refresh) }, "Learn baseline") : null,
      h("button", { type: "button", class: "secondary", onclick: (e) => rotate(e.target, item, refresh) }, "Rotate credentials"),
      h("button", { type: "button", class: "danger", onclick: () => confirmDelete(item, refresh) }, "Delete"))
      : null));
  replace(list, h("table", {},
    h("caption", { class: "visually-hidden" }, "Okta integrations"),
    h("thead", {}, h("tr", {},
      ["Okta org", "Status", "Coverage", "Events received", "Last event", "Processing lag", "Health"].map((t) => h("th", { scope: "col" }, t)),
      context.admin ? h("th", { scope: "col" }, "Actions") : null)),
    h("tbody", {}, rows)));
}

/** Where the latest baseline stands: a progress bar while it learns, a summary after. */
function baselineNote(baseline) {
  if (!baseline) return null;
  const events = `${baseline.events_learned.toLocaleString("en")} events`;
  if (baseline.state === "learning") {
    const percent = Math.round(baseline.progress * 100);
    return h("div", { class: "baseline" },
      h("progress", { max: 1, value: baseline.progress, "aria-label": "Baseline progress" }),
      h("span", { class: "muted" }, ` Learning ${baseline.days} days of history: ${percent}%, ${events}`,
        baseline.through ? [", back to ", timeAgo(baseline.through)] : null));
  }
  if (baseline.state === "complete") {
    const cut = baseline.truncated ? " (stopped at the event bound)" : "";
    return h("div", { class: "baseline muted" }, `Baseline: ${baseline.days} days, ${events}${cut}`);
  }
  return h("div", { class: "baseline muted" }, `Baseline failed: ${baseline.last_error || "unknown error"}`);
}

/** "Learn baseline": how many days of the org's System Log, then POST …/baseline. */
function learnBaseline(button, item, refresh) {
  const row = button.closest("tr");
  if (row.nextElementSibling?.classList.contains("rotate-row")) return;
  const days = field("Days of history", h("input", { type: "number", name: "days", min: 1, max: 90, value: 14, required: true }),
    "The org's System Log before the integration went live trains new-device, new-country, travel and threshold rules; no runtime event is written for it.");
  const note = status();
  const cancel = () => { form.closest("tr").remove(); button.focus(); };
  const form = h("form", { "aria-label": `Learn a baseline for ${item.okta_domain}` }, days,
    h("button", { type: "submit" }, "Start learning"),
    h("button", { type: "button", class: "secondary", onclick: cancel }, "Cancel"), note);
  row.after(h("tr", { class: "rotate-row" }, h("td", { colspan: 7 }, form)));
  days.input.focus();
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      await api("POST", `${BASE}/${item.id}/baseline`, { days: Number(days.input.value) });
      announce(`Learning a baseline for ${item.okta_domain}.`);
      refresh();
    } catch (problem) {
      showProblem(problem, { days }, note);
    }
  });
}

function health(item) {
  const notes = [...(item.warnings || [])];
  if (item.last_error) notes.push(`${item.last_error.code}: ${item.last_error.detail}`);
  if (item.last_delivery_error) notes.push(item.last_delivery_error);
  const live = item.status === "active" || item.status === "learning";
  if (!notes.length) return h("span", { class: "ok" }, live ? "Healthy" : "—");
  return h("ul", { class: "warnings" }, notes.map((n) => h("li", {}, n)));
}

/** Shows a validation problem next to the field it concerns, or under the form. */
function showProblem(problem, fields, formStatus) {
  Object.values(fields).forEach((f) => f.clearHint());
  const [where, headline] = CODES[problem.code] || ["form", "Not accepted."];
  const target = fields[where];
  if (target) {
    target.showHint(headline, problem.message);
    target.input.focus();
    formStatus.say("");
  } else {
    formStatus.say(`${headline} ${problem.message}`, "error");
  }
  announce(`${headline} ${problem.message}`);
}

function secretInput(name) {
  return h("input", { type: "password", name, autocomplete: "off", required: true });
}

function openWizard(container, refresh) {
  const close = () => { replace(container); refresh(); };
  const choose = (path) => (path === "sysdig" ? startHere : alreadyInstalled)(body, close);
  const body = h("div");
  const radios = [["sysdig", "Start here"], ["okta", "Already installed the API Service Integration"]]
    .map(([value, text]) => h("label", { class: "choice" },
      h("input", { type: "radio", name: "path", value, onchange: () => choose(value) }), text));
  replace(container, h("section", { class: "card", "aria-labelledby": "wizard-title" },
    h("div", { class: "page-head" },
      h("h2", { id: "wizard-title" }, "Add Integration: Okta"),
      h("button", { type: "button", class: "secondary", onclick: close }, "Cancel")),
    h("fieldset", {}, h("legend", {}, "How do you want to connect?"), radios),
    body));
  radios[0].querySelector("input").focus();
}

/** "Start here": the org, Launch Okta, then the secret and client id, validate, complete. */
function startHere(body, close) {
  const org = field("Okta org name or URL", h("input", { name: "org", required: true, placeholder: "acme or acme.okta.com" }));
  const note = status();
  const form = h("form", {}, org, h("button", { type: "submit" }, "Continue"), note);
  replace(body, form);
  org.input.focus();
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    try {
      const launched = await api("POST", `${BASE}/launch`, { org: org.input.value.trim() });
      credentialsStep(body, launched, close);
    } catch (problem) {
      showProblem(problem, { domain: org }, note);
    }
  });
}

function credentialsStep(body, launched, close) {
  const secret = field("Client Secret", secretInput("client_secret"));
  const clientId = field("Client ID", h("input", { name: "client_id", required: true, autocomplete: "off" }));
  const note = status();
  const form = h("form", {},
    h("p", {}, "Install the API Service Integration named ", h("strong", {}, "Sysdig"), " in ",
      h("strong", {}, launched.okta_domain), ", then copy its values here."),
    h("p", {}, h("a", { class: "button", href: launched.install_url, target: "_blank", rel: "noopener noreferrer" }, "Launch Okta"),
      h("span", { class: "muted" }, " opens Okta in a new tab")),
    secret, clientId,
    h("button", { type: "submit" }, "Validate Connection"), note);
  replace(body, form);
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    note.say("Validating with Okta…");
    try {
      const validated = await api("POST", `${BASE}/${launched.id}/validate`, {
        client_id: clientId.input.value.trim(), client_secret: secret.input.value,
      });
      completeStep(body, validated, close);
    } catch (problem) {
      showProblem(problem, { secret, clientId, domain: secret }, note);
    }
  });
}

/** "Already installed": the secret, the domain and the client id in one step. */
function alreadyInstalled(body, close) {
  const secret = field("Client Secret", secretInput("client_secret"));
  const domain = field("Okta Domain", h("input", { name: "okta_domain", required: true, placeholder: "acme.okta.com" }));
  const clientId = field("Client ID", h("input", { name: "client_id", required: true, autocomplete: "off" }));
  const note = status();
  const form = h("form", {}, secret, domain, clientId, h("button", { type: "submit" }, "Validate"), note);
  replace(body, form);
  secret.input.focus();
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    note.say("Validating with Okta…");
    try {
      const validated = await api("POST", BASE, {
        okta_domain: domain.input.value.trim(), client_id: clientId.input.value.trim(), client_secret: secret.input.value,
      });
      completeStep(body, validated, close);
    } catch (problem) {
      showProblem(problem, { secret, domain, clientId }, note);
    }
  });
}

function completeStep(body, validated, close) {
  const note = status();
  const complete = h("button", { type: "button" }, "Complete");
  const coverage = [["standard", "Standard: the 18 event types"],
    ["extended", "Extended: also identity providers, apps, policies, admin roles and factor changes"]]
    .map(([value, text]) => h("label", { class: "choice" },
      h("input", { type: "radio", name: "coverage", value, checked: value === "standard" }), text));
  replace(body, h("div", {},
    h("h3", {}, "Connection validated"),
    h("ul", { class: "checks" }, validated.checks.map((c) =>
      h("li", { class: c.ok ? "ok" : "error" }, h("strong", {}, c.ok ? "✓ " : "✗ ", c.name), " ", c.detail))),
    h("fieldset", {}, h("legend", {}, "Event types to subscribe to"), coverage),
    complete, note));
  complete.focus();
  complete.addEventListener("click", async () => {
    complete.disabled = true;
    note.say("Provisioning the Event Hook in Okta…");
    try {
      const chosen = body.querySelector("input[name=coverage]:checked")?.value || "standard";
      const done = await api("POST", `${BASE}/${validated.id}/complete`, { coverage: chosen });
      note.say(`Active: Event Hook ${done.event_hook_id} verified by Okta.`, "ok");
      announce("Integration active.");
      setTimeout(close, 600);
    } catch (problem) {
      complete.disabled = false;
      note.say(`${(CODES[problem.code] || [, "Not completed."])[1]} ${problem.message}`, "error");
    }
  });
}

function rotate(button, item, refresh) {
  const row = button.closest("tr");
  if (row.nextElementSibling?.classList.contains("rotate-row")) return;
  const secret = field("New Client Secret", secretInput("client_secret"));
  const clientId = field("Client ID (only if it changed)", h("input", { name: "client_id", autocomplete: "off" }));
  const note = status();
  const cancel = () => { form.closest("tr").remove(); button.focus(); };
  const form = h("form", { "aria-label": `Rotate credentials of ${item.okta_domain}` }, secret, clientId,
    h("button", { type: "submit" }, "Validate and replace"),
    h("button", { type: "button", class: "secondary", onclick: cancel }, "Cancel"), note);
  row.after(h("tr", { class: "rotate-row" }, h("td", { colspan: 8 }, form)));
  secret.input.focus();
  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const body = { client_secret: secret.input.value };
    if (clientId.input.value.trim()) body.client_id = clientId.input.value.trim();
    try {
      await api("PUT", `${BASE}/${item.id}/credentials`, body);
      announce("Credentials replaced.");
      refresh();
    } catch (problem) {
      showProblem(problem, { secret, clientId }, note);
    }
  });
}

function confirmDelete(item, refresh) {
  const dialog = h("dialog", { "aria-labelledby": "delete-title" });
  const note = status();
  const cancel = h("button", { type: "button", class: "secondary", onclick: () => dialog.close() }, "Cancel");
  const confirm = h("button", { type: "button", class: "danger" }, "Delete integration");
  replace(dialog,
    h("h2", { id: "delete-title" }, `Delete ${item.okta_domain}?`),
    h("p", {}, "The Event Hook is removed from Okta and the stored credentials are destroyed; Okta's later deliveries are refused."),
    h("p", {}, h("strong", {}, "Runtime events remain:"), " the detections already created stay in the Event Feed."),
    h("div", { class: "actions" }, cancel, confirm), note);
  dialog.addEventListener("close", () => dialog.remove());
  confirm.addEventListener("click", async () => {
    confirm.disabled = true;
    try {
      await api("DELETE", `${BASE}/${item.id}`);
      dialog.close();
      announce(`${item.okta_domain} deleted.`);
      refresh();
    } catch (problem) {
      confirm.disabled = false;
      note.say(problem.message, "error");
    }
  });
  document.body.append(dialog);
  dialog.showModal();
  cancel.focus();
}
