// Policies › Runtime Policies: managed and custom Okta policies, their rules, the switch,
// and an editor for custom policies with errors at line and column and a dry run.

import { api, query } from "./api.js";
import { announce, field, h, newId, replace, select, severityBadge, status, timeAgo } from "./ui.js";

const TEMPLATE = `- rule: My rule
  desc: What it detects
  condition: okta.evt.type = user.session.start and okta.result = FAILURE
  output: "Failed sign-in of %okta.actor.alternateid from %okta.client.ip"
  priority: WARNING
  source: okta
  tags: [okta]
`;

export function policiesPage(root, context) {
  const kind = select([["", "Managed and Custom"], ["true", "Managed"], ["false", "Custom"]], "");
  const type = select([["okta", "Okta"]], "okta");
  kind.id = newId("kind");
  type.id = newId("type");
  const list = h("div");
  const pane = h("div");
  const refresh = () => loadList(list, pane, context, { managed: kind.value, type: type.value }, refresh);
  replace(root, h("p", { class: "crumb" }, "Policies"),
    h("div", { class: "page-head" }, h("h1", { id: "page-title" }, "Runtime Policies"),
      context.admin && h("button", { type: "button", onclick: () => editor(pane, null, refresh) }, "New custom policy")),
    h("form", { class: "filters", "aria-label": "Filter policies" },
      h("div", { class: "field inline" }, h("label", { for: kind.id }, "Show"), kind),
      h("div", { class: "field inline" }, h("label", { for: type.id }, "Type"), type)),
    pane, list);
  kind.addEventListener("change", refresh);
  type.addEventListener("change", refresh);
  refresh();
}

async function loadList(list, pane, context, filters, refresh) {
  try {
    const { items } = await api("GET", `/policies${query(filters)}`);
    const rows = items.map((policy) => h("tr", {},
      h("th", { scope: "row" }, h("button", { type: "button", class: "link", onclick: () => showPolicy(pane, policy.id, context, refresh) }, policy.name)),
      h("td", {}, policy.managed ? "Managed" : "Custom"),
      h("td", {}, "Okta"),
      h("td", {}, enabledControl(policy, context)),
      h("td", {}, policy.description)));
    replace(list, h("table", {}, h("caption", { class: "visually-hidden" }, "Policies"),
      h("thead", {}, h("tr", {}, ["Policy", "Kind", "Type", "Enabled", "Description"].map((t) => h("th", { scope: "col" }, t)))),
      h("tbody", {}, rows)));
  } catch (problem) {
    replace(list, h("p", { class: "status error" }, problem.message));
  }
}

function enabledControl(policy, context) {
  if (!context.admin) return policy.enabled ? "Enabled" : "Disabled";
  const toggle = h("input", { type: "checkbox", role: "switch", checked: policy.enabled, "aria-label": `Enable ${policy.name}` });
  toggle.addEventListener("change", async () => {
    toggle.disabled = true;
    try {
      const updated = await api("PATCH", `/policies/${policy.id}`, { enabled: toggle.checked });
      toggle.checked = updated.enabled;
      announce(`${policy.name} ${updated.enabled ? "enabled" : "disabled"}.`);
    } catch (problem) {
      toggle.checked = !toggle.checked;
      announce(problem.message);
    } finally {
      toggle.disabled = false;
    }
  });
  return toggle;
}

async function showPolicy(pane, id, context, refresh) {
  const policy = await api("GET", `/policies/${id}`);
  const close = h("button", { type: "button", class: "secondary", onclick: () => replace(pane) }, "Close");
  replace(pane, h("section", { class: "card", "aria-labelledby": "policy-title" },
    h("div", { class: "page-head" }, h("h2", { id: "policy-title", tabindex: "-1" }, policy.name),
      h("div", { class: "actions" },
        context.admin && !policy.managed && h("button", { type: "button", onclick: () => editor(pane, policy, refresh) }, "Edit"),
        context.admin && !policy.managed && h("button", { type: "button", class: "danger", onclick: () => remove(pane, policy, refresh) }, "Delete"),
        close)),
    h("p", {}, policy.managed ? "Managed" : "Custom", " · Okta · ", policy.enabled ? "enabled" : "disabled",
      policy.updated_at ? [" · changed ", timeAgo(policy.updated_at)] : null),
    policy.description ? h("p", {}, policy.description) : null,
    rulesTable(policy.rules || []),
    h("details", {}, h("summary", {}, "Rules file"), h("pre", { class: "raw", tabindex: "0" }, policy.source || ""))));
  pane.querySelector("h2").focus();
}

function rulesTable(rules) {
  return h("table", { class: "rules" }, h("caption", {}, `${rules.length} rule${rules.length === 1 ? "" : "s"}`),
    h("thead", {}, h("tr", {}, ["Rule", "Condition", "Output", "Priority", "Tags"].map((t) => h("th", { scope: "col" }, t)))),
    h("tbody", {}, rules.map((rule) => h("tr", {},
      h("th", { scope: "row" }, rule.name, rule.enabled ? "" : " (disabled)"),
      h("td", {}, h("code", {}, rule.condition ?? "—")),
      h("td", {}, h("code", {}, rule.output ?? "—")),
      h("td", {}, rule.priority),
      h("td", {}, (rule.tags || []).join(", "))))));
}

async function remove(pane, policy, refresh) {
  if (!window.confirm(`Delete the custom policy ${policy.name}? Its runtime events remain in the feed.`)) return;
  await api("DELETE", `/policies/${policy.id}`);
  replace(pane);
  refresh();
}

/** Create (policy null) or edit a custom policy; a rules error points at its line and column. */
function editor(pane, policy, refresh) {
  const name = field("Name", h("input", { name: "name", required: true, value: policy?.name || "" }));
  const description = field("Description", h("input", { name: "description", value: policy?.description || "" }));
  const rules = field("Rules (Falco rules file, source: okta)",
    h("textarea", { name: "rules", rows: 14, spellcheck: "false", class: "code" }),
    "Lists, macros and rules over okta.* fields; validated when you save.");
  rules.input.value = policy?.source || TEMPLATE;
  const enabled = h("input", { type: "checkbox", name: "enabled", checked: policy ? policy.enabled : true, id: newId("enabled") });
  const note = status();
  const results = h("div", { class: "test-results", "aria-live": "polite" });
  const test = h("button", { type: "button", class: "secondary" }, "Test against recent events");
  const form = h("form", { class: "card", "aria-labelledby": "editor-title" },
    h("h2", { id: "editor-title" }, policy ? `Edit ${policy.name}` : "New custom policy"),
    name, description, rules,
    h("div", { class: "field" }, h("label", { class: "choice", for: enabled.id }, enabled, " Enabled")),
    h("div", { class: "actions" }, h("button", { type: "submit" }, "Save"), test,
      h("button", { type: "button", class: "secondary", onclick: () => replace(pane) }, "Cancel")),
    note, results);
  replace(pane, form);
  name.input.focus();

  const showRulesError = (problem) => {
    if (problem.code !== "invalid_rules") return false;
    const where = problem.body.line ? `Line ${problem.body.line}, column ${problem.body.column}:` : "Invalid rules:";
    rules.showHint(where, problem.body.reason || problem.message);
    excerpt(rules, problem.body.line, problem.body.column);
    select_(rules.input, problem.body.line, problem.body.column);
    return true;
  };

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    [name, description, rules].forEach((f) => f.clearHint());
    const body = { name: name.input.value, description: description.input.value, rules: rules.input.value, enabled: enabled.checked };
    try {
      const saved = policy
        ? await api("PATCH", `/policies/${policy.id}`, body)
        : await api("POST", "/policies", { ...body, type: "okta" });
      announce(`Policy ${saved.name} saved.`);
      refresh();
      showPolicy(pane, saved.id, { admin: true }, refresh);
    } catch (problem) {
      if (showRulesError(problem)) { note.say(""); return; }
      const target = problem.code === "invalid_name" || problem.code === "policy_name_taken" ? name
        : problem.code === "invalid_description" ? description : null;
      if (target) target.showHint("Not saved.", problem.message);
      else note.say(problem.message, "error");
    }
  });

  test.addEventListener("click", async () => {
    rules.clearHint();
    replace(results, h("p", {}, "Running the rules over recent events…"));
    try {
      const run = await api("POST", "/policies/test", { rules: rules.input.value });
      replace(results, testResults(run));
    } catch (problem) {
      replace(results);
      if (!showRulesError(problem)) note.say(problem.message, "error");
    }
  });
}

/** The offending line with a caret under the column, below the editor. */
function excerpt(rulesField, line, column) {
  const hint = rulesField.querySelector(".hint");
  const text = rulesField.input.value.split("\n")[line - 1];
  if (text === undefined || !column) return;
  hint.append(h("pre", { class: "excerpt" }, `${String(line).padStart(4)} | ${text}\n     | ${" ".repeat(Math.max(0, column - 1))}^`));
}

function select_(textarea, line, column) {
  if (!line) return;
  const lines = textarea.value.split("\n");
  const start = lines.slice(0, line - 1).reduce((sum, l) => sum + l.length + 1, 0) + Math.max(0, (column || 1) - 1);
  textarea.focus();
  textarea.setSelectionRange(start, start + 1);
}

function testResults(run) {
  const heading = `${run.detections.length} detection${run.detections.length === 1 ? "" : "s"} on ${run.events_scanned} event${run.events_scanned === 1 ? "" : "s"} received since ${new Date(run.since).toISOString()}${run.truncated ? " (stopped at a bound: a sample)" : ""}. Nothing was written.`;
  return h("div", {}, h("h3", {}, "Test results"), h("p", {}, heading),
    h("ol", { class: "feed" }, run.detections.map((d) => h("li", {}, h("div", { class: "event" },
      severityBadge(d.severity), h("span", { class: "rule" }, d.rule),
      h("span", { class: "output" }, d.output),
      h("span", { class: "meta" }, d.event_type, " · ", d.published ? timeAgo(d.published) : "", " · ", d.okta_event_uuid))))));
}
