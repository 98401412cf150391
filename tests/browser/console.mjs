// The web console's journey in headless Chromium (Debian's chromium, driven by playwright-core),
// with axe-core on every page. Run by tests/service/console.rs, which boots the service and two
// simulated Okta orgs and passes them in the environment:
//   BASE_URL, ADMIN_TOKEN, VIEWER_TOKEN, SCENARIO_FILE (the demo scenario's LogEvents),
//   ORG_A_URL/ORG_A_CLIENT_ID/ORG_A_CLIENT_SECRET, ORG_B_URL/ORG_B_CLIENT_ID/ORG_B_CLIENT_SECRET,
//   SCREENSHOT_DIR (optional: a PNG of each page goes there).
// Exits non-zero with the failed step's message.

import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

const require = createRequire(import.meta.url);
const AXE_SOURCE = readFileSync(require.resolve("axe-core/axe.min.js"), "utf8");
const env = (name) => {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is not set`);
  return value;
};
const BASE = env("BASE_URL");
const ADMIN = env("ADMIN_TOKEN");
const VIEWER = env("VIEWER_TOKEN");
const ORG_A = { url: env("ORG_A_URL"), id: env("ORG_A_CLIENT_ID"), secret: env("ORG_A_CLIENT_SECRET") };
const ORG_B = { url: env("ORG_B_URL"), id: env("ORG_B_CLIENT_ID"), secret: env("ORG_B_CLIENT_SECRET") };
const SCENARIO = JSON.parse(readFileSync(env("SCENARIO_FILE"), "utf8"));
const SHOTS = process.env.SCREENSHOT_DIR;
const TIMEOUT = 20_000;

let step = "start";
const errors = [];
let mainPage = null;
const log = (text) => { step = text; console.log(`- ${text}`); };

function check(condition, message) {
  if (!condition) throw new Error(message);
}

async function apiCall(method, path, body, token = ADMIN) {
  const response = await fetch(`${BASE}/api/v1${path}`, {
    method,
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
    body: body === undefined ? undefined : JSON.stringify(body),
  });
  const text = await response.text();
  return { status: response.status, body: text ? JSON.parse(text) : null };
}

async function deliver(orgUrl, events) {
  const response = await fetch(`${orgUrl}/sim/deliver`, {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify({ events }),
  });
  check(response.ok, `the simulator refused the delivery: ${response.status}`);
}

async function until(what, probe, ms = TIMEOUT) {
  const deadline = Date.now() + ms;
  for (;;) {
    const value = await probe();
    if (value) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((resolve) => setTimeout(resolve, 200));
  }
}

/** axe-core on the page as it is: no serious or critical violation. */
async function accessible(page, name) {
  // Evaluated through the DevTools protocol: the console's CSP refuses inline script tags.
  if (!(await page.evaluate(() => Boolean(window.axe)))) await page.evaluate(AXE_SOURCE);
  const results = await page.evaluate(async () => window.axe.run(document, { resultTypes: ["violations"] }));
  const bad = results.violations.filter((v) => v.impact === "serious" || v.impact === "critical");
  check(!bad.length, `${name}: accessibility violations:\n${bad.map((v) =>
    `  ${v.impact} ${v.id}: ${v.help} (${v.nodes.map((n) => n.target.join(" ")).slice(0, 3).join(", ")})`).join("\n")}`);
}

async function screenshot(page, name) {
  if (SHOTS) await page.screenshot({ path: join(SHOTS, `${name}.png`) });
}

async function signIn(page, token) {
  await page.goto(`${BASE}/`);
  await page.getByLabel("API token").fill(token);
  await page.getByRole("button", { name: "Sign in" }).click();
  await page.getByRole("navigation", { name: "Sections" }).waitFor();
}

async function openWizard(page, path) {
  await page.getByRole("button", { name: "Add Integration" }).click();
  await page.getByRole("radio", { name: path }).check();
}

async function validateAlreadyInstalled(page, org, secret) {
  await openWizard(page, "Already installed the API Service Integration");
  await page.getByLabel("Client Secret").fill(secret);
  await page.getByLabel("Okta Domain").fill(org.url);
  await page.getByLabel("Client ID").fill(org.id);
  await page.getByRole("button", { name: "Validate", exact: true }).click();
}

async function completeWizard(page, domain, coverage) {
  if (coverage === "extended") await page.getByLabel(/^Extended/).check();
  await page.getByRole("button", { name: "Complete" }).click();
  const row = page.getByRole("row", { name: new RegExp(escape(domain)) });
  await row.locator(".pill-active").waitFor();
  const shown = await row.innerText();
  check(coverage === "extended" ? shown.includes("Extended") : shown.includes("Standard"), `coverage shown: ${shown}`);
}

const escape = (text) => text.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
const domainOf = (url) => url.replace(/^https?:\/\//, "");

async function wizardPaths(page) {
  log("a wrong secret shows its hint next to the Client Secret");
  await validateAlreadyInstalled(page, ORG_B, "not-the-secret");
  const secretHint = page.locator("#" + await page.getByLabel("Client Secret").getAttribute("id") + "-hint");
  await secretHint.waitFor();
  const hint = await secretHint.innerText();
  check(hint.includes("Sysdig") && /reinstall/i.test(hint) && /other side/i.test(hint), `the hint says: ${hint}`);
  check(await page.getByLabel("Client Secret").getAttribute("aria-invalid") === "true", "the secret field is not marked invalid");
  await accessible(page, "wizard with a hint");
  await screenshot(page, "wizard-hint");
  await page.getByRole("button", { name: "Cancel" }).click();

  log("connect org A through 'Start here': Launch Okta, secret, client id, validate, complete");
  await openWizard(page, "Start here");
  await page.getByLabel("Okta org name or URL").fill(ORG_A.url);
  await page.getByRole("button", { name: "Continue" }).click();
  const launch = page.getByRole("link", { name: "Launch Okta" });
  await launch.waitFor();
  check(await launch.getAttribute("target") === "_blank", "Launch Okta does not open a new tab");
  check((await launch.getAttribute("href")).startsWith("http"), "Launch Okta has no install URL");
  await page.getByLabel("Client Secret").fill(ORG_A.secret);
  await page.getByLabel("Client ID").fill(ORG_A.id);
  await page.getByRole("button", { name: "Validate Connection" }).click();
  await completeWizard(page, domainOf(ORG_A.url));

  log("connect org B through 'Already installed': secret, domain, client id, validate, complete");
  await validateAlreadyInstalled(page, ORG_B, ORG_B.secret);
  await completeWizard(page, domainOf(ORG_B.url), "extended");
  await accessible(page, "integrations");

  log("rotate org B's credentials: a wrong secret is refused at its field, the right one replaces");
  const rowB = page.getByRole("row", { name: new RegExp(escape(domainOf(ORG_B.url))) });
  await rowB.getByRole("button", { name: "Rotate credentials" }).click();
  const rotate = page.getByRole("form", { name: `Rotate credentials of ${domainOf(ORG_B.url)}` });
  await rotate.getByLabel("New Client Secret").fill("stale-secret");
  await rotate.getByRole("button", { name: "Validate and replace" }).click();
  await rotate.getByText("Okta rejected the Client Secret or Client ID.").waitFor();
  await accessible(page, "rotation with a hint");
  await rotate.getByLabel("New Client Secret").fill(ORG_B.secret);
  await rotate.getByRole("button", { name: "Validate and replace" }).click();
  await until("the rotation form to close", async () => (await rotate.count()) === 0);
}

async function feed(page) {
  log("the demo scenario arrives; search 'okta' and open a detection");
  await deliver(ORG_A.url, SCENARIO);
  await until("the scenario's detections", async () =>
    (await apiCall("GET", "/events?q=okta&limit=500")).body.items.length >= 10);
  await page.getByRole("link", { name: "Events" }).click();
  await page.getByRole("searchbox", { name: "Search" }).fill("okta");
  await page.getByRole("button", { name: "Search", exact: true }).click();
  const detection = page.getByRole("button", { name: /Okta Brute Force Against a User/ }).first();
  await detection.click();
  const pane = page.getByRole("complementary", { name: "Runtime event detail" });
  await pane.getByRole("heading", { name: "Okta Brute Force Against a User" }).waitFor();
  await pane.getByRole("heading", { name: "Raw Okta event" }).waitFor();
  const raw = await pane.getByLabel("Raw Okta event JSON").innerText();
  check(raw.includes('"eventType": "user.session.start"'), "the raw Okta event is not shown");
  check(await pane.getByRole("rowheader", { name: "client.ip" }).count() === 1, "normalized fields are not shown");
  const time = page.locator(".feed time").first();
  check(/^\d{4}-\d{2}-\d{2}T/.test(await time.getAttribute("title")), "no exact timestamp on hover");
  await accessible(page, "event feed");
  await screenshot(page, "event-feed");
}

async function filterChangedWhileLoading(page) {
  log("a filter changed while the previous one still loads shows the last filter's events");
  const counts = {};
  for (const severity of ["high", "medium", "low", "info"]) {
    counts[severity] = (await apiCall("GET", `/events?severity=${severity}&limit=500`)).body.items.length;
  }
  const [first, last] = Object.keys(counts).filter((s) => counts[s] > 0);
  check(first && last, `two severities with events: ${JSON.stringify(counts)}`);
  await page.getByRole("searchbox", { name: "Search" }).fill("");
  const slow = /\/api\/v1\/events\?/;
  await page.route(slow, async (route) => { await new Promise((r) => setTimeout(r, 700)); await route.continue(); });
  await page.getByLabel("Severity").selectOption(first);
  await page.getByLabel("Severity").selectOption(last);
  await page.waitForTimeout(2000);
  await page.unroute(slow);
  const shown = await page.locator(".feed .severity").allInnerTexts();
  check(shown.length > 0 && shown.every((s) => s.toLowerCase() === last), `filtered to ${last}, the feed shows ${[...new Set(shown)]}`);
}

async function managedPolicy(page) {
  log("disable a managed policy, filtered to Managed and type Okta");
  await page.getByRole("link", { name: "Policies" }).click();
  await page.getByLabel("Show").selectOption("true");
  await page.getByLabel("Type").selectOption("okta");
  const { body } = await apiCall("GET", "/policies?managed=true&type=okta");
  const target = body.items[0];
  await until("the managed list", async () => (await page.getByRole("row").count()) === body.items.length + 1);
  await page.getByRole("switch", { name: `Enable ${target.name}` }).uncheck();
  await until("the switch to be saved", async () =>
    (await apiCall("GET", `/policies/${target.id}`)).body.enabled === false);
  await page.getByRole("button", { name: target.name }).click();
  await page.getByRole("heading", { name: target.name, level: 2 }).waitFor();
  const firstRule = page.locator("table.rules tbody tr").first();
  const condition = await firstRule.locator("code").first().innerText();
  check(condition.length > 3 && condition !== "—", `the rule's condition is not shown: ${condition}`);
  await accessible(page, "policies");
  await screenshot(page, "runtime-policies");
}

const BAD_RULES = `- rule: Locked accounts
  desc: every account lock
  condition: okta.evt.type = user.account.lock and
  output: "locked %okta.actor.alternateid"
  priority: WARNING
  source: okta
`;
const GOOD_RULES = BAD_RULES.replace(" and\n", "\n");

async function customPolicy(page) {
  log("a custom policy with an error shows it at its line and column");
  await page.getByRole("button", { name: "New custom policy" }).click();
  await page.getByLabel("Name").fill("Locked accounts");
  await page.getByLabel("Rules (Falco rules file, source: okta)").fill(BAD_RULES);
  await page.getByRole("button", { name: "Save" }).click();
  const rulesField = page.getByLabel("Rules (Falco rules file, source: okta)");
  const hint = page.locator("#" + await rulesField.getAttribute("id") + "-hint");
  await hint.waitFor();
  const text = await hint.innerText();
  check(/Line 3, column \d+/.test(text), `the error is not at line 3: ${text}`);
  await accessible(page, "policy editor with an error");
  await screenshot(page, "policy-editor-error");

  log("test against recent events writes nothing and lists what would fire");
  await rulesField.fill(GOOD_RULES);
  await page.getByRole("button", { name: "Test against recent events" }).click();
  await page.getByRole("heading", { name: "Test results" }).waitFor();

  log("the valid policy saves and fires on the next delivery");
  await page.getByRole("button", { name: "Save" }).click();
  await page.getByRole("heading", { name: "Locked accounts", level: 2 }).waitFor();
  // The feed is open before the event arrives: it must show up by itself (polling).
  await page.getByRole("link", { name: "Events" }).click();
  await page.getByRole("button", { name: /Okta Brute Force Against a User/ }).first().waitFor();
  await deliver(ORG_A.url, [{
    uuid: `console-lock-${Date.now()}`, published: new Date().toISOString(), eventType: "user.account.lock",
    outcome: { result: "SUCCESS" }, actor: { id: "00u1", type: "User", alternateId: "zoe@acme.example" },
  }]);
  await until("the custom policy's detection in the feed", async () =>
    (await page.getByRole("button", { name: /locked zoe@acme\.example/ }).count()) > 0);
}

async function viewer(context) {
  log("a viewer token sees no write controls");
  // A tab of its own: session storage, and so the token, is per tab.
  const page = await context.newPage();
  await signIn(page, VIEWER);
  await page.getByRole("table").waitFor();
  check(await page.getByRole("button", { name: "Add Integration" }).count() === 0, "viewer sees Add Integration");
  check(await page.getByRole("button", { name: /Delete|Rotate credentials/ }).count() === 0, "viewer sees Delete or Rotate");
  await page.getByRole("link", { name: "Policies" }).click();
  await page.getByRole("table").waitFor();
  check(await page.getByRole("switch").count() === 0, "viewer sees policy switches");
  check(await page.getByRole("button", { name: "New custom policy" }).count() === 0, "viewer sees New custom policy");
  await page.getByRole("button", { name: "Locked accounts" }).click();
  await page.getByRole("heading", { name: "Locked accounts", level: 2 }).waitFor();
  check(await page.getByRole("button", { name: /^(Edit|Delete)$/ }).count() === 0, "viewer sees Edit or Delete");
  await accessible(page, "viewer policies");
  await page.close();
}

async function deleteIntegration(page) {
  log("delete an integration: the confirmation says runtime events remain, and they do");
  const before = (await apiCall("GET", "/events?limit=500")).body.items.length;
  await page.getByRole("link", { name: "Integrations" }).click();
  await screenshot(page, "integrations");
  const row = page.getByRole("row", { name: new RegExp(escape(domainOf(ORG_A.url))) });
  await row.getByRole("button", { name: "Delete" }).click();
  const dialog = page.getByRole("dialog");
  check((await dialog.innerText()).includes("Runtime events remain"), "the confirmation does not say runtime events remain");
  await accessible(page, "delete confirmation");
  await dialog.getByRole("button", { name: "Delete integration" }).click();
  await until("the row to go", async () => (await row.count()) === 0);
  await page.getByRole("link", { name: "Events" }).click();
  await page.getByRole("button", { name: /Okta Brute Force Against a User/ }).first().waitFor();
  const after = (await apiCall("GET", "/events?limit=500")).body.items.length;
  check(after === before, `runtime events before ${before}, after ${after}`);
}

/** Last: the burst fills the feed's first pages. */
async function burstBetweenPolls(page) {
  log("a burst of more than a page of detections between two polls shows up whole");
  const burst = Array.from({ length: 120 }, (_, i) => ({
    uuid: `console-burst-${Date.now()}-${i}`, published: new Date().toISOString(), eventType: "user.account.lock",
    outcome: { result: "SUCCESS" }, actor: { id: `00b${i}`, type: "User", alternateId: `burst-${i}@acme.example` },
  }));
  await deliver(ORG_B.url, burst);
  await until("all 120 detections of the burst in the feed", async () =>
    (await page.getByRole("button", { name: /locked burst-\d+@acme\.example/ }).count()) === burst.length);
}

async function revokedWhileOpen(context) {
  log("a token revoked while the console is open signs the console out at its next poll");
  const created = await apiCall("POST", "/tokens", { role: "viewer" });
  check(created.status === 201, `no token: ${created.status}`);
  const page = await context.newPage();
  await signIn(page, created.body.token);
  await page.getByRole("link", { name: "Events" }).click();
  await page.getByRole("heading", { name: "Event Feed" }).waitFor();
  const revoked = await apiCall("DELETE", `/tokens/${created.body.token_id}`);
  check(revoked.status === 204, `not revoked: ${revoked.status}`);
  await page.getByRole("heading", { name: "Sign in" }).waitFor();
  check((await page.getByRole("status").first().innerText()).includes("no longer valid"), "the sign-in page does not say why");
  await page.close();
}

async function proxyError(context) {
  log("an answer that is not JSON (a proxy's error page) is shown as its HTTP status");
  const page = await context.newPage();
  await signIn(page, ADMIN);
  const policies = /\/api\/v1\/policies/;
  await page.route(policies, (route) => route.fulfill({ status: 502, contentType: "text/html", body: "<html><body>Bad Gateway</body></html>" }));
  await page.getByRole("link", { name: "Policies" }).click();
  const error = page.locator(".status.error").first();
  await error.waitFor();
  const text = await error.innerText();
  check(text.includes("502") && !text.includes("JSON"), `the error shown: ${text}`);
  await page.unroute(policies);
  await page.close();
}

async function keyboard(page) {
  log("keyboard: sign-in reachable and usable with Tab and Enter");
  await page.getByLabel("API token").waitFor();
  const focused = () => page.evaluate(() => document.activeElement?.outerHTML.slice(0, 60));
  check((await focused()).includes('name="token"'), `the token field has no focus: ${await focused()}`);
  await page.keyboard.press("Tab");
  check((await focused()).includes("Sign in"), `Tab does not reach Sign in: ${await focused()}`);
  await page.keyboard.press("Shift+Tab");
}

async function main() {
  const profile = mkdtempSync(join(tmpdir(), "console-chromium-"));
  // A fresh profile (playwright passes it as --user-data-dir).
  const context = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync"],
    viewport: { width: 1280, height: 800 },
  });
  try {
    context.setDefaultTimeout(TIMEOUT);
    const page = await context.newPage();
    mainPage = page;
    // 4xx answers to the API are the journey's own (a wrong secret, invalid rules); anything
    // else failing is not.
    page.on("response", (response) => {
      const url = new URL(response.url());
      const expected = url.pathname.startsWith("/api/v1/") && response.status() < 500;
      if (response.status() >= 400 && !expected && url.pathname !== "/favicon.ico") errors.push(`${response.status()} ${response.url()}`);
    });
    page.on("pageerror", (error) => errors.push(String(error)));
    page.on("console", (message) => { if (message.type() === "error") errors.push(message.text()); });

    log("sign-in page");
    await page.goto(`${BASE}/`);
    await keyboard(page);
    await accessible(page, "sign-in");
    await screenshot(page, "sign-in");
    log("sign in as admin");
    await page.getByLabel("API token").fill(ADMIN);
    await page.keyboard.press("Enter");
    await page.getByRole("navigation", { name: "Sections" }).waitFor();
    check(!(await page.url()).includes(ADMIN), "the token is in the URL");

    await wizardPaths(page);
    await feed(page);
    await filterChangedWhileLoading(page);
    await managedPolicy(page);
    await customPolicy(page);
    await viewer(context);
    await deleteIntegration(page);
    await burstBetweenPolls(page);
    await revokedWhileOpen(context);
    await proxyError(context);
    const unexpected = errors.filter((e) => !e.startsWith("Failed to load resource"));
    check(!unexpected.length, `errors in the page: ${unexpected.join("; ")}`);
    console.log("console journey: ok");
  } catch (error) {
    const shot = join(tmpdir(), "okta-ingest-console-failure.png");
    await mainPage?.screenshot({ path: shot, fullPage: true }).catch(() => {});
    console.error(`the page at the failure: ${shot}`);
    throw error;
  } finally {
    await context.close();
    rmSync(profile, { recursive: true, force: true });
  }
}

main().catch((error) => {
  console.error(`FAILED at "${step}": ${error.stack || error}`);
  if (errors.length) console.error(`errors in the page:\n${errors.join("\n")}`);
  process.exit(1);
});
