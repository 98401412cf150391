// Events › Event Feed: search and filters, pages over next_cursor, new events by polling, and
// a detail pane with the output, the normalized fields and the raw Okta event.

import { api, query } from "./api.js";
import { announce, h, newId, pretty, replace, select, severityBadge, timeAgo } from "./ui.js";

const PAGE_SIZE = 50;
const POLL_MS = 5000;
/** A poll reads at most this many pages of new events. */
const POLL_MAX_PAGES = 10;
const TIMES = [["", "Any time"], ["15m", "Last 15 minutes"], ["1h", "Last hour"], ["24h", "Last 24 hours"], ["7d", "Last 7 days"]];
const SPANS = { m: 60e3, h: 3600e3, d: 86400e3 };

function sinceOf(span) {
  if (!span) return "";
  const ms = Number(span.slice(0, -1)) * SPANS[span.slice(-1)];
  return new Date(Date.now() - ms).toISOString();
}

export function feedPage(root) {
  const search = h("input", { type: "search", name: "q", id: newId("q"), placeholder: "okta, user.session.start, an actor…" });
  const severity = select([["", "Any severity"], ["high", "High"], ["medium", "Medium"], ["low", "Low"], ["info", "Info"]], "");
  const policy = select([["", "Any policy"]], "");
  const integration = select([["", "Any integration"]], "");
  const time = select(TIMES, "");
  const filters = h("form", { class: "filters", role: "search", "aria-label": "Filter runtime events" },
    labelled("Search", search), labelled("Severity", severity), labelled("Policy", policy),
    labelled("Integration", integration), labelled("Time", time),
    h("button", { type: "submit" }, "Search"));
  const list = h("ol", { class: "feed", "aria-label": "Runtime events, newest first" });
  const more = h("button", { type: "button", class: "secondary", hidden: true }, "Load more");
  const summary = h("p", { class: "muted", role: "status" });
  const detail = h("aside", { class: "detail", "aria-label": "Runtime event detail", hidden: true });
  replace(root, h("p", { class: "crumb" }, "Events"),
    h("h1", { id: "page-title" }, "Event Feed"), filters, summary,
    h("div", { class: "feed-layout" }, h("div", {}, list, more), detail));

  fillOptions(policy, "/policies", (p) => [p.id, p.name]);
  fillOptions(integration, "/integrations/okta", (i) => [i.id, i.okta_domain]);

  // `filters` counts filter changes: answers to older ones are dropped.
  const state = { cursor: null, seen: new Set(), loading: false, filters: 0 };
  const params = () => ({
    q: search.value.trim(), severity: severity.value, policy: policy.value,
    integration: integration.value, since: sinceOf(time.value),
  });

  /** A reset (new filters) always loads; an answer for filters changed since is dropped. */
  async function load(reset) {
    if (state.loading && !reset) return;
    const filters = reset ? ++state.filters : state.filters;
    state.loading = true;
    try {
      if (reset) {
        state.cursor = null;
        state.seen.clear();
        list.replaceChildren();
      }
      const page = await api("GET", `/events${query({ ...params(), limit: PAGE_SIZE, cursor: state.cursor })}`);
      if (filters !== state.filters) return;
      for (const item of page.items) addItem(item, "end");
      state.cursor = page.next_cursor;
      more.hidden = !state.cursor;
      summary.textContent = `${state.seen.size} runtime event${state.seen.size === 1 ? "" : "s"} shown${state.cursor ? ", more below" : ""}.`;
    } catch (problem) {
      if (filters === state.filters) summary.textContent = problem.message;
    } finally {
      if (filters === state.filters) state.loading = false;
    }
  }

  function addItem(item, where) {
    if (state.seen.has(item.id)) return false;
    state.seen.add(item.id);
    const row = h("li", { class: where === "start" ? "new" : "" },
      h("button", { type: "button", class: "event", "aria-controls": "event-detail", onclick: () => openDetail(detail, item.id, row) },
        severityBadge(item.severity),
        h("span", { class: "rule" }, item.rule_name),
        h("span", { class: "output" }, item.output),
        h("span", { class: "meta" }, item.policy_name, " · ", item.event_type, " · ", timeAgo(item.published))));
    if (where === "start") list.prepend(row); else list.append(row);
    return true;
  }

  /** New events matching the filters: pages from the newest down to one with an event shown
   *  (a burst of more than a page between two polls would leave a gap), minus what is shown. */
  async function poll() {
    if (state.loading || document.hidden) return;
    const filters = state.filters;
    try {
      const items = [];
      let cursor = null;
      for (let pages = 0; pages < POLL_MAX_PAGES; pages++) {
        const page = await api("GET", `/events${query({ ...params(), limit: PAGE_SIZE, cursor })}`);
        items.push(...page.items);
        cursor = page.next_cursor;
        if (!cursor || page.items.some((item) => state.seen.has(item.id))) break;
      }
      if (filters !== state.filters) return;
      const fresh = items.filter((item) => !state.seen.has(item.id)).reverse();
      fresh.forEach((item) => addItem(item, "start"));
      if (fresh.length) announce(`${fresh.length} new runtime event${fresh.length === 1 ? "" : "s"}`);
    } catch { /* the next poll retries */ }
  }

  filters.addEventListener("submit", (event) => { event.preventDefault(); load(true); });
  for (const control of [severity, policy, integration, time]) control.addEventListener("change", () => load(true));
  more.addEventListener("click", () => load(false));
  const observer = new IntersectionObserver((entries) => {
    if (entries.some((e) => e.isIntersecting) && state.cursor) load(false);
  });
  observer.observe(more);
  load(true);
  const timer = setInterval(poll, POLL_MS);
  return () => { clearInterval(timer); observer.disconnect(); };
}

function labelled(text, control) {
  control.id ||= newId("filter");
  return h("div", { class: "field inline" }, h("label", { for: control.id }, text), control);
}

async function fillOptions(control, path, pair) {
  try {
    const { items } = await api("GET", path);
    for (const item of items) {
      const [value, text] = pair(item);
      control.append(h("option", { value }, text));
    }
  } catch { /* the filter stays at "any" */ }
}

async function openDetail(pane, id, row) {
  for (const selected of row.parentElement.querySelectorAll("[aria-current]")) selected.removeAttribute("aria-current");
  row.setAttribute("aria-current", "true");
  pane.hidden = false;
  pane.id = "event-detail";
  replace(pane, h("p", {}, "Loading…"));
  try {
    const event = await api("GET", `/events/${id}`);
    const fields = flatten(event.normalized || {}).filter(([, v]) => v !== null && v !== "");
    const close = h("button", { type: "button", class: "secondary", onclick: () => { pane.hidden = true; row.querySelector("button").focus(); } }, "Close");
    replace(pane,
      h("div", { class: "page-head" }, h("h2", { id: "detail-title", tabindex: "-1" }, event.rule_name), close),
      h("p", {}, severityBadge(event.severity), " ", event.priority, " · ", event.policy_name),
      h("h3", {}, "Output"), h("p", { class: "output-full" }, event.output),
      h("dl", { class: "facts" },
        fact("Published", timeAgo(event.published)), fact("Event type", event.event_type),
        fact("Actor", event.actor), fact("Target", event.target), fact("Okta org", event.okta_domain),
        fact("Okta event", event.okta_event_uuid), fact("Tags", (event.tags || []).join(", ") || "—")),
      h("h3", {}, "Normalized fields"),
      h("table", { class: "fields" }, h("caption", { class: "visually-hidden" }, "Normalized fields"),
        h("tbody", {}, fields.map(([k, v]) => h("tr", {}, h("th", { scope: "row" }, k), h("td", {}, typeof v === "object" ? JSON.stringify(v) : String(v)))))),
      h("h3", {}, "Raw Okta event"),
      h("pre", { class: "raw", tabindex: "0", "aria-label": "Raw Okta event JSON" }, pretty(event.raw)));
    pane.querySelector("h2").focus();
  } catch (problem) {
    replace(pane, h("p", { class: "status error" }, problem.message));
  }
}

/** {client: {ip: "…"}} → [["client.ip", "…"]]; arrays stay whole. */
function flatten(value, prefix = "") {
  return Object.entries(value).flatMap(([key, inner]) =>
    inner && typeof inner === "object" && !Array.isArray(inner)
      ? flatten(inner, `${prefix}${key}.`)
      : [[`${prefix}${key}`, inner]]);
}

function fact(term, value) {
  return [h("dt", {}, term), h("dd", {}, value || "—")];
}
