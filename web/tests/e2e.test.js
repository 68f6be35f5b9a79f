// End-to-end tests of the web page in a real headless Chromium (Debian's, driven by
// playwright-core), against real processes: a log filled by `urne demo` (RocksDB in a
// temporary directory, fresh key) with two real witnesses (`urne witness`, quorum 2),
// and a mirror (`urne mirror`). Nothing is mocked; where a test needs a lying server,
// it alters the real server's answer in transit (Playwright's route interception).
//
// Screenshots of every page go to test-artifacts/web/ at the repository root.
//
// Needs: the `urne` binary (URNE_BIN, or $CARGO_TARGET_DIR/debug/urne), Chromium
// (CHROMIUM, default /usr/bin/chromium). `bash scripts/test.sh` provides both.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, mkdirSync, rmSync, existsSync } from "node:fs";
import { tmpdir, homedir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { randomBytes } from "node:crypto";
import { chromium } from "playwright-core";

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, "..", "..");
const SHOTS = join(ROOT, "test-artifacts", "web");
const TARGET = process.env.CARGO_TARGET_DIR || join(homedir(), ".cache", "urne-target");
const URNE = process.env.URNE_BIN || join(TARGET, "debug", "urne");
const CHROMIUM = process.env.CHROMIUM || "/usr/bin/chromium";
const AXE = join(HERE, "..", "node_modules", "axe-core", "axe.min.js");

const procs = [];
let dir;
let browser;
let log; // {url, key}
let mirror;
let demo; // {receipts, voters, helpdesk}

/** Starts a child process and waits until a line of its stdout matches `re`. */
function start(args, re, { timeoutMs = 120_000 } = {}) {
  return new Promise((resolve, reject) => {
    const p = spawn(URNE, args, { stdio: ["ignore", "pipe", "pipe"], env: { ...process.env, RUST_LOG: "warn" } });
    procs.push(p);
    let out = "";
    let err = "";
    const timer = setTimeout(() => reject(new Error(`timeout waiting for ${re} from urne ${args.join(" ")}\n${out}\n${err}`)), timeoutMs);
    p.stdout.on("data", (d) => {
      out += d;
      const m = re.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ proc: p, match: m, output: () => out });
      }
    });
    p.stderr.on("data", (d) => {
      err += d;
    });
    p.on("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`urne ${args.join(" ")} exited with ${code}\n${out}\n${err}`));
    });
  });
}

function stop(p) {
  return new Promise((resolve) => {
    if (p.exitCode !== null) return resolve();
    p.removeAllListeners("exit");
    p.on("exit", () => resolve());
    p.kill("SIGTERM");
  });
}

async function waitFor(fn, what, timeoutMs = 30_000) {
  const end = Date.now() + timeoutMs;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v;
    } catch {
      // not yet
    }
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

const cosignatures = (note) => note.split("\n").filter((l) => l.startsWith("— ")).length - 1;

before(async () => {
  assert.ok(existsSync(URNE), `the urne binary is needed at ${URNE} (cargo build)`);
  assert.ok(existsSync(CHROMIUM), `Chromium is needed at ${CHROMIUM} (bash scripts/setup.sh)`);
  mkdirSync(SHOTS, { recursive: true });
  dir = mkdtempSync(join(tmpdir(), "urne-e2e-"));
  const data = join(dir, "log");

  // The log's key is made on its first start; the witnesses need it before the log
  // asks them, so start the log once, read its key, and stop it.
  const first = await start(["serve", "--data", data, "--listen", "127.0.0.1:0"], /verifier key: (\S+)/);
  const logKey = first.match[1];
  await stop(first.proc);

  const witnesses = [];
  for (const name of ["temoin-cgt.example", "temoin-cfdt.example"]) {
    const keyFile = join(dir, `${name}.key`);
    const vkey = execFileSync(URNE, ["keygen", "--witness", "--name", name, "--out", keyFile], { stdio: ["ignore", "pipe", "ignore"] })
      .toString()
      .trim();
    const w = await start(
      ["witness", "--data", join(dir, name), "--listen", "127.0.0.1:0", "--key", keyFile, "--log", logKey],
      /serving on: (http:\/\/[^/\s]+)\//,
    );
    witnesses.push(`${w.match[1]}=${vkey}`);
  }

  // The demo election, spread over the past 10 hours, on that log, witnessed 2 of 2.
  const d = await start(
    ["demo", "--data", data, "--listen", "127.0.0.1:0", "--voters", "300", "--hours", "10",
      ...witnesses.flatMap((w) => ["--witness", w]), "--witness-quorum", "2"],
    /The log keeps running at (http:\/\/\S+?)\/ /,
    { timeoutMs: 300_000 },
  );
  const out = d.output();
  log = { url: d.match[1], key: logKey };
  demo = {
    receipts: [...out.matchAll(/receipt: +\S+\/v1\/receipts\/([0-9a-f]{64})/g)].map((m) => m[1]),
    voters: [...out.matchAll(/voter: +\S+\/v1\/voters\/([0-9a-f]{64})/g)].map((m) => m[1]),
    helpdesk: /reissued by the helpdesk: \S+\/v1\/voters\/([0-9a-f]{64})/.exec(out)?.[1],
  };
  assert.ok(demo.receipts.length >= 3 && demo.voters.length >= 1 && demo.helpdesk, `demo summary:\n${out}`);
  // Wait until the served checkpoint covers the whole demo with both cosignatures.
  await waitFor(async () => {
    const [cp, stats] = await Promise.all([
      fetch(`${log.url}/checkpoint`).then((r) => r.text()),
      fetch(`${log.url}/v1/stats`).then((r) => r.json()),
    ]);
    return cp.split("\n")[1] === String(stats.tree_size) && cosignatures(cp) >= 2;
  }, "a cosigned checkpoint of the whole demo");

  const m = await start(["mirror", "--of", log.url, "--key", logKey, "--data", join(dir, "mirror"), "--listen", "127.0.0.1:0"], /serving on: (http:\/\/\S+?)\//);
  mirror = { url: m.match[1] };

  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
      "--disable-component-update", "--disable-sync"],
  });
});

after(async () => {
  if (browser) await browser.close();
  await Promise.all(procs.map(stop));
  if (dir) rmSync(dir, { recursive: true, force: true });
});

async function newPage(opts = {}) {
  const context = await browser.newContext({ locale: "fr-FR", timezoneId: "Europe/Paris", ...opts });
  const page = await context.newPage();
  const errors = [];
  page.on("pageerror", (e) => errors.push(e.message));
  page.on("console", (m) => {
    if (m.type() === "error" && !/Failed to load resource/.test(m.text())) errors.push(m.text());
  });
  return { context, page, errors };
}

async function verdictOf(page, within) {
  const box = page.locator(`${within} [data-verdict]`).last();
  await box.waitFor({ timeout: 30_000 });
  return { kind: await box.getAttribute("data-verdict"), text: await box.innerText() };
}

/**
 * A voter of the demo whose credentials never went through the helpdesk, read from the
 * log's first entry bundle (C2SP tlog-tiles): its first entries are initial credentials.
 */
async function ordinaryVoter() {
  const bundle = new Uint8Array(await (await fetch(`${log.url}/tile/entries/000`)).arrayBuffer());
  for (let at = 0; at < bundle.length; ) {
    const n = (bundle[at] << 8) | bundle[at + 1];
    const text = Buffer.from(bundle.subarray(at + 2, at + 2 + n)).toString();
    at += 2 + n;
    const voter = /^voter ([0-9a-f]{64})$/m.exec(text)?.[1];
    if (!voter) continue;
    const history = await (await fetch(`${log.url}/v1/voters/${voter}`)).json();
    if (!history.entries.some((e) => /^channel helpdesk$/m.test(e.entry))) return voter;
  }
  throw new Error("no ordinary voter in the first tile");
}

async function checkReceipt(page, base, code) {
  await page.goto(`${base}/#/verifier`);
  await page.fill("#receipt", code);
  await page.click("#receipt-form button[type=submit]");
  return verdictOf(page, "#receipt-result");
}

test("a real receipt is verified in the browser: log signature, 2 witnesses, inclusion proof", async () => {
  const { context, page, errors } = await newPage();
  const v = await checkReceipt(page, log.url, demo.receipts[0]);
  assert.equal(v.kind, "ok", v.text);
  assert.match(v.text, /Votre bulletin est enregistré/);
  assert.match(v.text, /Enregistré à la position [\d\u202f ]+ du registre/);
  assert.match(v.text, /signé par le registre et 2 témoin\(s\)/);
  assert.match(v.text, /Contresigné par 2 témoin\(s\) \(temoin-cgt\.example, temoin-cfdt\.example|Contresigné par 2 témoin\(s\) \(temoin-cfdt\.example, temoin-cgt\.example/);
  assert.match(v.text, /Preuve d'inclusion de l'entrée [\d\u202f ]+ vérifiée/);
  assert.match(v.text, /Signé par la plateforme de vote \(platform\.demo\), clé nommée par l'élection scellée à la position 0/);
  assert.match(v.text, /Premier point de contrôle vu par ce navigateur/);
  await page.screenshot({ path: join(SHOTS, "verifier-ok.png"), fullPage: true });

  // The offline receipt (C2SP tlog-proof) can be downloaded.
  const href = await page.locator("a[download]").getAttribute("href");
  assert.match(href, /^blob:/);

  // Second check in the same browser: the remembered checkpoint is compared.
  const again = await checkReceipt(page, log.url, demo.receipts[1]);
  assert.equal(again.kind, "ok", again.text);
  assert.match(again.text, /Identique au point de contrôle vu le|Cohérent avec le point de contrôle/);
  assert.deepEqual(errors, []);
  await context.close();
});

test("a receipt that is not in the log is reported as such; a malformed code too", async () => {
  const { context, page } = await newPage();
  const code = randomBytes(32).toString("hex");
  const v = await checkReceipt(page, log.url, code);
  assert.equal(v.kind, "fail");
  assert.match(v.text, /Ce reçu n'est pas dans le registre/);
  assert.match(v.text, new RegExp(code));
  await page.screenshot({ path: join(SHOTS, "verifier-not-found.png"), fullPage: true });

  const bad = await checkReceipt(page, log.url, "1234-not-a-receipt");
  assert.equal(bad.kind, "fail");
  assert.match(bad.text, /Ce n'est pas un code de reçu/);
  await context.close();
});

test("a proof tampered in transit makes the page say verification failed", async () => {
  const { context, page } = await newPage();
  // Flip one bit of the first hash of the inclusion proof in the real server's answer.
  await page.route("**/v1/receipts/**", async (route) => {
    const response = await route.fetch();
    const body = await response.json();
    const raw = Buffer.from(body.inclusion_proof[0], "base64");
    raw[7] ^= 0x10;
    body.inclusion_proof[0] = raw.toString("base64");
    await route.fulfill({ response, json: body });
  });
  const v = await checkReceipt(page, log.url, demo.receipts[2]);
  assert.equal(v.kind, "fail", v.text);
  assert.match(v.text, /La vérification a échoué/);
  assert.match(v.text, /La preuve d'inclusion de l'entrée [\d\u202f ]+ ne mène pas à la racine signée/);
  await page.screenshot({ path: join(SHOTS, "verifier-tampered.png"), fullPage: true });
  await context.close();
});

test("a checkpoint altered in transit (root or cosignature) is refused", async () => {
  const { context, page } = await newPage();
  let mode = "root";
  await page.route("**/v1/receipts/**", async (route) => {
    const response = await route.fetch();
    const body = await response.json();
    const lines = body.checkpoint.split("\n");
    if (mode === "root") {
      // Another root: the log's signature no longer covers the text.
      const root = Buffer.from(lines[2], "base64");
      root[0] ^= 1;
      lines[2] = root.toString("base64");
    } else {
      // Corrupt the last cosignature's signature bytes (a known witness's line).
      const i = lines.length - 2;
      const [dash, name, b64] = lines[i].split(" ");
      const raw = Buffer.from(b64, "base64");
      raw[raw.length - 1] ^= 1;
      lines[i] = [dash, name, raw.toString("base64")].join(" ");
    }
    body.checkpoint = lines.join("\n");
    await route.fulfill({ response, json: body });
  });
  const v = await checkReceipt(page, log.url, demo.receipts[0]);
  assert.equal(v.kind, "fail", v.text);
  assert.match(v.text, /signature du registre est fausse/);
  mode = "cosignature";
  const w = await checkReceipt(page, log.url, demo.receipts[1]);
  assert.equal(w.kind, "fail", w.text);
  assert.match(w.text, /contresignature de témoin est fausse/);
  await context.close();
});

test("the next visit checks consistency: a real proof passes, a tampered one raises the alarm", async () => {
  const { context, page } = await newPage();
  const first = await checkReceipt(page, log.url, demo.receipts[0]);
  assert.equal(first.kind, "ok", first.text);
  const before = await (await fetch(`${log.url}/v1/stats`)).json();

  // The log grows: a second election by the demo's authorities.
  execFileSync(URNE, ["demo", "--log", log.url, "--election", `e2e-${Date.now()}`, "--voters", "40"], { stdio: "ignore" });
  await waitFor(async () => {
    const cp = await fetch(`${log.url}/checkpoint`).then((r) => r.text());
    return Number(cp.split("\n")[1]) > before.tree_size && cosignatures(cp) >= 2;
  }, "a larger cosigned checkpoint");

  // A tampered consistency proof: the page must say the log is inconsistent.
  await page.route("**/v1/proof/consistency**", async (route) => {
    const response = await route.fetch();
    const body = await response.json();
    const raw = Buffer.from(body.consistency_proof[0], "base64");
    raw[0] ^= 0x80;
    body.consistency_proof[0] = raw.toString("base64");
    await route.fulfill({ response, json: body });
  });
  const lied = await checkReceipt(page, log.url, demo.receipts[1]);
  assert.equal(lied.kind, "fail", lied.text);
  assert.match(lied.text, /Registre incohérent/);
  assert.match(lied.text, /preuve de cohérence avec le point de contrôle de taille [\d\u202f ]+ vu le .* est fausse/);
  await page.screenshot({ path: join(SHOTS, "verifier-inconsistent.png"), fullPage: true });

  // The real proof from the real log verifies.
  await page.unroute("**/v1/proof/consistency**");
  const honest = await checkReceipt(page, log.url, demo.receipts[1]);
  assert.equal(honest.kind, "ok", honest.text);
  assert.match(honest.text, /Cohérent avec le point de contrôle de taille [\d\u202f ]+ vu le .*preuve de cohérence vérifiée/);
  await context.close();
});

test("credential history: a helpdesk reissue followed by a ballot is flagged", async () => {
  const { context, page, errors } = await newPage();
  await page.goto(`${log.url}/#/identifiant/${demo.helpdesk}`);
  const v = await verdictOf(page, "#history-result");
  assert.equal(v.kind, "fail", v.text);
  assert.match(v.text, /Historique vérifié : à examiner/);
  const warnings = await page.locator(".warnings").innerText();
  assert.match(warnings, /émis par l'assistance \(assistance téléphonique/);
  assert.match(warnings, /Un bulletin a été déposé \d+ min après cette réémission/);
  const rows = await page.locator("table.history tbody tr").evaluateAll((trs) => trs.map((tr) => tr.dataset.type));
  assert.deepEqual(rows.slice(0, 1), ["credential"]);
  assert.ok(rows.includes("ballot"), `rows ${rows}`);
  assert.ok(rows.filter((r) => r === "credential").length >= 2, `rows ${rows}`);
  await page.screenshot({ path: join(SHOTS, "identifiant-helpdesk.png"), fullPage: true });

  // An ordinary voter: credentials, maybe a reissue after the leak, no impostor pattern.
  const ordinary = await ordinaryVoter();
  await page.goto(`${log.url}/#/identifiant/${ordinary}`);
  await page.waitForFunction(() => document.querySelector("#history-result [data-verdict]"));
  const text = await page.locator("#history-result").innerText();
  assert.match(text, /Historique vérifié/);
  assert.doesNotMatch(text, /Un bulletin a été déposé \d+ min après/);

  // A tag the log does not know: an empty, verified answer.
  await page.goto(`${log.url}/#/identifiant/${randomBytes(32).toString("hex")}`);
  const none = await verdictOf(page, "#history-result");
  assert.match(none.text, /Aucune entrée pour cette étiquette/);
  assert.deepEqual(errors, []);
  await context.close();
});

test("credential history: an entry about another voter slipped in by the server is refused", async () => {
  const { context, page } = await newPage();
  const other = await (await fetch(`${log.url}/v1/voters/${demo.helpdesk}`)).json();
  await page.route("**/v1/voters/**", async (route) => {
    const response = await route.fetch();
    const body = await response.json();
    // A real, proved entry, but not about this voter.
    body.entries.push(other.entries[0]);
    await route.fulfill({ response, json: body });
  });
  const ordinary = await ordinaryVoter();
  assert.notEqual(ordinary, demo.helpdesk);
  await page.goto(`${log.url}/#/identifiant/${ordinary}`);
  const v = await verdictOf(page, "#history-result");
  assert.equal(v.kind, "fail");
  assert.match(v.text, /ne concerne pas cette étiquette/);
  await context.close();
});

test("credential history: every page is followed, and a list that does not say it is complete is refused", async () => {
  const helpdesk = demo.helpdesk;
  const whole = await (await fetch(`${log.url}/v1/voters/${helpdesk}`)).json();
  assert.equal(whole.next, null, "one page holds the demo voter's history");
  assert.ok(whole.entries.length >= 2);
  // The log's answer split in two pages: the page follows `next`.
  {
    const { context, page } = await newPage();
    const requested = [];
    await page.route("**/v1/voters/**", async (route) => {
      const url = new URL(route.request().url());
      const cursor = Number(url.searchParams.get("cursor") || "0");
      requested.push(cursor);
      const response = await route.fetch();
      const body = await response.json();
      const split = whole.entries[1].index;
      if (cursor < split) {
        body.entries = body.entries.filter((e) => e.index < split);
        body.next = split;
      } else {
        body.entries = body.entries.filter((e) => e.index >= split);
      }
      await route.fulfill({ response, json: body });
    });
    await page.goto(`${log.url}/#/identifiant/${helpdesk}`);
    const v = await verdictOf(page, "#history-result");
    // Verified (its warnings are the demo's helpdesk pattern), with every entry.
    assert.match(v.text, new RegExp(`✔ ${whole.entries.length} entrée\\(s\\)`), v.text);
    assert.deepEqual(requested, [0, whole.entries[1].index]);
    await context.close();
  }
  // An answer without `next` (a log that does not say where its list ends).
  {
    const { context, page } = await newPage();
    await page.route("**/v1/voters/**", async (route) => {
      const response = await route.fetch();
      const body = await response.json();
      delete body.next;
      await route.fulfill({ response, json: body });
    });
    await page.goto(`${log.url}/#/identifiant/${helpdesk}`);
    const v = await verdictOf(page, "#history-result");
    assert.equal(v.kind, "fail");
    assert.match(v.text, /ne prouve pas que cette liste d'entrées est complète/);
    await context.close();
  }
});

test("the dashboard renders its charts, the suspension timeline and the witnesses", async () => {
  const { context, page, errors } = await newPage({ viewport: { width: 1200, height: 900 } });
  await page.goto(`${log.url}/#/tableau`);
  const election = page.locator('section.election[data-election="cse-2026-acme"]');
  await election.waitFor({ timeout: 30_000 });
  // uPlot draws on canvases: one chart of ballots, one of reissues by channel.
  await page.waitForFunction(() => document.querySelectorAll('section.election[data-election="cse-2026-acme"] .uplot canvas').length >= 2);
  const sizes = await election.locator(".uplot canvas").evaluateAll((cs) => cs.map((c) => [c.width, c.height]));
  assert.ok(sizes.every(([w, h]) => w > 200 && h > 100), JSON.stringify(sizes));
  // The charts drew something: some non-blank pixels in the plotting area.
  const inked = await election.locator(".uplot canvas").first().evaluate((c) => {
    const d = c.getContext("2d").getImageData(0, 0, c.width, c.height).data;
    let n = 0;
    for (let i = 3; i < d.length; i += 4) if (d[i] > 0) n++;
    return n;
  });
  assert.ok(inked > 500, `ballot chart pixels drawn: ${inked}`);
  assert.equal(await election.locator("[data-phase]").getAttribute("data-phase"), "closed");
  const text = await election.innerText();
  assert.match(text, /Suspension/);
  assert.match(text, /Reprise/);
  assert.match(text, /platform unavailable/);
  assert.match(text, /Réémissions d'identifiants par heure, par canal/);
  // The legend names the reissue channels of the demo: the leak (batch) and the helpdesk.
  assert.match(text, /envoi groupé/);
  assert.match(text, /assistance téléphonique/);
  const head = await page.locator(".log-head").innerText();
  assert.match(head, /Contresigné par 2 témoin\(s\)/);
  const alerts = await page.locator(".alerts").innerText();
  assert.match(alerts, /vote suspendu du .* au .*platform unavailable/);
  await page.screenshot({ path: join(SHOTS, "tableau.png"), fullPage: true });
  assert.deepEqual(errors, []);
  await context.close();
});

test("the page works when served by a mirror", async () => {
  await waitFor(async () => {
    const [a, b] = await Promise.all([
      fetch(`${mirror.url}/checkpoint`).then((r) => (r.ok ? r.text() : "")),
      fetch(`${log.url}/checkpoint`).then((r) => r.text()),
    ]);
    // The same note, cosignatures included: the mirror relays the log's witnesses.
    return a === b;
  }, "the mirror to catch up", 60_000);
  const { context, page, errors } = await newPage();
  const v = await checkReceipt(page, mirror.url, demo.receipts[0]);
  assert.equal(v.kind, "ok", v.text);
  assert.match(v.text, /Votre bulletin est enregistré/);
  assert.match(v.text, /signé par le registre et 2 témoin\(s\)/);
  await page.screenshot({ path: join(SHOTS, "miroir-verifier.png"), fullPage: true });
  await page.goto(`${mirror.url}/#/identifiant/${demo.helpdesk}`);
  const h = await verdictOf(page, "#history-result");
  assert.match(h.text, /Historique vérifié/);
  await page.goto(`${mirror.url}/#/tableau`);
  await page.waitForFunction(() => document.querySelectorAll(".uplot canvas").length >= 2);
  await page.screenshot({ path: join(SHOTS, "miroir-tableau.png"), fullPage: true });
  assert.deepEqual(errors, []);
  await context.close();
});

test("English switch, phone width, keyboard only", async () => {
  const { context, page } = await newPage({ viewport: { width: 390, height: 844 }, isMobile: true, hasTouch: true });
  await page.goto(`${log.url}/#/verifier`);
  await page.click("#lang");
  assert.equal(await page.getAttribute("html", "lang"), "en");
  assert.equal(await page.locator("#verify-title").innerText(), "Check my receipt");
  // Nothing overflows sideways on a phone.
  const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
  assert.ok(overflow <= 0, `horizontal overflow ${overflow}px`);
  // Keyboard, on a fresh load (the language choice is remembered): the first Tab
  // reaches the skip link; the form submits with Enter.
  await page.reload();
  assert.equal(await page.locator("#verify-title").innerText(), "Check my receipt");
  await page.keyboard.press("Tab");
  assert.equal(await page.evaluate(() => document.activeElement.className), "skip");
  await page.focus("#receipt");
  await page.keyboard.type(demo.receipts[0]);
  await page.keyboard.press("Enter");
  const v = await verdictOf(page, "#receipt-result");
  assert.equal(v.kind, "ok", v.text);
  assert.match(v.text, /Your ballot is recorded/);
  await page.screenshot({ path: join(SHOTS, "phone-en-verifier.png"), fullPage: true });
  await context.close();
});

test("accessibility: axe-core finds no serious or critical violation on any page", async () => {
  // axe is injected into the page; the page's own CSP forbids foreign scripts, so this
  // test context bypasses it (the others keep it, which also proves the CSP lets the
  // page itself run).
  const { context, page } = await newPage({ bypassCSP: true });
  for (const route of [`#/verifier/${demo.receipts[0]}`, `#/identifiant/${demo.helpdesk}`, "#/tableau", "#/confiance"]) {
    await page.goto(`${log.url}/${route}`);
    await page.waitForLoadState("networkidle");
    if (route.startsWith("#/tableau")) await page.waitForFunction(() => document.querySelectorAll(".uplot canvas").length >= 2);
    else if (!route.startsWith("#/confiance")) await page.waitForFunction(() => document.querySelector("[data-verdict]"));
    await page.addScriptTag({ path: AXE });
    const result = await page.evaluate(async () => {
      // eslint-disable-next-line no-undef
      const r = await axe.run(document, { runOnly: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] });
      return r.violations.map((v) => ({ id: v.id, impact: v.impact, nodes: v.nodes.length, help: v.help }));
    });
    const serious = result.filter((v) => v.impact === "serious" || v.impact === "critical");
    assert.deepEqual(serious, [], `${route}: ${JSON.stringify(serious)}`);
  }
  await context.close();
});

test("the trust page loads a union's tlog-policy and refuses a bad one", async () => {
  const { context, page } = await newPage();
  const info = await (await fetch(`${log.url}/v1/log`)).json();
  const ws = info.witnesses.map((w, i) => `witness w${i} ${w.vkey}`).join("\n");
  await page.goto(`${log.url}/#/confiance`);
  await page.fill("#policy", `log ${log.key}\n${ws}\ngroup g 2 w0 w1\nquorum g\n`);
  await page.click("#policy-form button[type=submit]");
  await page.locator("#policy-message [data-verdict=ok]").waitFor();
  assert.match(await page.locator("#trust-result").innerText(), /politique chargée le/);
  const v = await checkReceipt(page, log.url, demo.receipts[0]);
  assert.equal(v.kind, "ok", v.text);
  assert.match(v.text, /2 requis/);

  // A policy whose witnesses are strangers: the quorum can never be met.
  await page.goto(`${log.url}/#/confiance`);
  const stranger = execFileSync(URNE, ["keygen", "--witness", "--name", "inconnu.example", "--out", join(dir, "stranger.key")]).toString().trim();
  await page.fill("#policy", `log ${log.key}\nwitness x ${stranger}\nquorum x\n`);
  await page.click("#policy-form button[type=submit]");
  await page.locator("#policy-message [data-verdict=ok]").waitFor();
  const w = await checkReceipt(page, log.url, demo.receipts[0]);
  assert.equal(w.kind, "warn", w.text);
  assert.match(w.text, /en attente des témoins/);

  await page.goto(`${log.url}/#/confiance`);
  await page.fill("#policy", "log not-a-key\nquorum none\n");
  await page.click("#policy-form button[type=submit]");
  const bad = await verdictOf(page, "#policy-message");
  assert.equal(bad.kind, "fail");
  assert.match(bad.text, /Politique refusée/);
  await page.screenshot({ path: join(SHOTS, "confiance.png"), fullPage: true });
  await context.close();
});

test("a receipt pasted as a Belenios tracker (base64) is the same receipt; a superseded ballot is shown only when proved", async () => {
  const { context, page, errors } = await newPage();
  // Belenios shows the same 32 bytes in base64 without padding (it may start with `/`).
  const tracker = Buffer.from(demo.receipts[0], "hex").toString("base64").replace(/=+$/, "");
  const v = await checkReceipt(page, log.url, tracker);
  assert.equal(v.kind, "ok", v.text);
  assert.match(v.text, /Votre bulletin est enregistré/);

  // Two demo ballots of one scrutin (three receipts, two scrutins): the server's answer
  // about the earlier one is given a `superseded_by` naming the later one, proved in
  // the same tree, as a log does for `revote last`; then the same with a proof that
  // does not hold.
  const answers = [];
  for (const r of demo.receipts) {
    const a = await (await fetch(`${log.url}/v1/receipts/${r}`)).json();
    answers.push({ r, a, scrutin: /^scrutin (\S+)$/m.exec(a.entry)[1] });
  }
  answers.sort((x, y) => x.a.index - y.a.index);
  let pair = null;
  for (let i = 0; i < answers.length && !pair; i++) {
    for (let j = i + 1; j < answers.length && !pair; j++) {
      if (answers[i].scrutin === answers[j].scrutin) pair = [answers[i], answers[j]];
    }
  }
  assert.ok(pair, "two demo ballots of one scrutin");
  const [earlier, later] = pair;
  let tamper = false;
  await page.route("**/v1/receipts/**", async (route) => {
    const response = await route.fetch();
    const body = await response.json();
    const next = await (await fetch(`${log.url}/v1/receipts/${later.r}`)).json();
    if (next.tree_size !== body.tree_size) {
      // Not proved in the same tree: leave the answer as it is (the test then fails).
      await route.fulfill({ response, json: body });
      return;
    }
    const superseded = { index: next.index, entry: next.entry, inclusion_proof: [...next.inclusion_proof] };
    if (tamper) {
      const raw = Buffer.from(superseded.inclusion_proof[0], "base64");
      raw[3] ^= 0x01;
      superseded.inclusion_proof[0] = raw.toString("base64");
    }
    body.superseded_by = superseded;
    await route.fulfill({ response, json: body });
  });
  const s = await checkReceipt(page, log.url, earlier.r);
  assert.equal(s.kind, "warn", s.text);
  assert.match(s.text, /Ce bulletin a été remplacé par un vote ultérieur/);
  assert.match(s.text, /Vous avez revoté/);
  tamper = true;
  const t = await checkReceipt(page, log.url, earlier.r);
  assert.equal(t.kind, "fail", t.text);
  assert.match(t.text, /ne le prouve pas/);
  assert.deepEqual(errors, []);
  await context.close();
});
