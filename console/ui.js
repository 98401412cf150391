// Small DOM helpers shared by the pages: no framework, no inline style or script.

/** h("button", {type: "button", onclick}, "Save") → an element. */
export function h(tag, attrs = {}, ...children) {
  const element = document.createElement(tag);
  for (const [key, value] of Object.entries(attrs || {})) {
    if (value === undefined || value === null || value === false) continue;
    if (key.startsWith("on")) element.addEventListener(key.slice(2), value);
    else if (key === "class") element.className = value;
    else if (key in element && typeof value !== "string") element[key] = value;
    else element.setAttribute(key, value === true ? "" : value);
  }
  append(element, children);
  return element;
}

function append(element, children) {
  for (const child of children.flat(Infinity)) {
    if (child === undefined || child === null || child === false) continue;
    element.append(child instanceof Node ? child : String(child));
  }
}

export function replace(element, ...children) {
  element.replaceChildren();
  append(element, children);
}

let uniqueId = 0;
export const newId = (prefix) => `${prefix}-${++uniqueId}`;

/** A labelled input with a hint area the field is described by (validation hints go there). */
export function field(label, input, help) {
  input.id ||= newId("field");
  const hint = h("p", { class: "hint", id: `${input.id}-hint`, hidden: true });
  const helpText = help ? h("p", { class: "help", id: `${input.id}-help` }, help) : null;
  input.setAttribute(
    "aria-describedby",
    [helpText?.id, hint.id].filter(Boolean).join(" "),
  );
  const wrapper = h("div", { class: "field" },
    h("label", { for: input.id }, label), input, helpText, hint);
  wrapper.input = input;
  wrapper.showHint = (title, detail) => {
    replace(hint, h("strong", {}, title), " ", detail);
    hint.hidden = false;
    input.setAttribute("aria-invalid", "true");
  };
  wrapper.clearHint = () => {
    hint.hidden = true;
    input.removeAttribute("aria-invalid");
  };
  return wrapper;
}

/** A message region that screen readers announce when it changes. */
export function status() {
  const element = h("p", { class: "status", role: "status" });
  element.say = (text, kind = "") => {
    element.className = `status ${kind}`;
    element.textContent = text;
  };
  return element;
}

export function announce(text) {
  const announcer = document.getElementById("announcer");
  announcer.textContent = "";
  setTimeout(() => { announcer.textContent = text; }, 50);
}

const UNITS = [["year", 31536000], ["month", 2592000], ["day", 86400], ["hour", 3600], ["minute", 60], ["second", 1]];
const relativeFormat = new Intl.RelativeTimeFormat("en", { numeric: "auto" });

/** "3 minutes ago", with the exact timestamp on hover and for assistive technology. */
export function timeAgo(iso) {
  if (!iso) return h("span", {}, "never");
  const date = new Date(iso);
  const seconds = Math.round((date.getTime() - Date.now()) / 1000);
  const [unit, size] = UNITS.find(([, s]) => Math.abs(seconds) >= s) || ["second", 1];
  const text = relativeFormat.format(Math.round(seconds / size), unit);
  return h("time", { datetime: date.toISOString(), title: date.toISOString() }, text);
}

export function severityBadge(severity) {
  return h("span", { class: `severity severity-${severity}` }, severity);
}

export function select(options, value) {
  const element = h("select", {});
  for (const [optionValue, text] of options) {
    element.append(h("option", { value: optionValue, selected: optionValue === value }, text));
  }
  return element;
}

export function pretty(value) {
  return JSON.stringify(value, null, 2);
}
