// End-to-end tests of the web page in a real headless Chromium (Debian's, driven by
// playwright-core), against real processes: a log filled by `urne demo` (RocksDB in a
// temporary directory, fresh key) with two real witnesses (`urne witness`, quorum 2),
// and a mirror (`urne mirror`). Nothing is mocked; where a test needs a lying server,
// it alters the real server's answer in transit (Playwright's route interception).
//
// Screenshots of every page (desktop and phone width) go to test-artifacts/web/ at the
// repository root (or URNE_SHOTS): the tests' output, not committed.
//
// Needs: the `urne` binary (URNE_BIN, or $CARGO_TARGET_DIR/debug/urne), Chromium
// (CHROMIUM, default /usr/bin/chromium). `bash scripts/test.sh` provides both.

import { test, before, after } from "node:test";
import assert from "node:assert/strict";
import { spawn, execFileSync } from "node:child_process";
import { mkdtempSync, mkdirSync, rmSync, existsSync, cpSync, renameSync } from "node:fs";
import { tmpdir, homedir } from "node:os";
import { join, dirname } from "node:path";
import { fileURLToPath } from "node:url";
import { randomBytes, createHash, createPrivateKey, createPublicKey, sign as edSign } from "node:crypto";
import { chromium } from "playwright-core";

const HERE = dirname(fileURLToPath(import.meta.url));
const ROOT = join(HERE, "..", "..");
const SHOTS = process.env.URNE_SHOTS || join(ROOT, "test-artifacts", "web");
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
  // What the check does not prove is said; no placeholder leaks into the page.
  const all = await page.locator("#receipt-result").innerText();
  assert.match(all, /Ce qu'elle ne prouve pas : le contenu de votre vote/);
  assert.doesNotMatch(all, /\bnull\b|undefined|\{\w+\}/);
  await page.screenshot({ path: join(SHOTS, "verifier-ok.png"), fullPage: true });

  // The offline receipt (C2SP tlog-proof) can be downloaded.
  const href = await page.locator("a[download]").getAttribute("href");
  assert.match(href, /^blob:/);
  assert.doesNotMatch(await page.locator("a[download]").getAttribute("download"), new RegExp(demo.receipts[0].slice(0, 6)));

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

test("the dashboard shows the election's seal in French: sealed with each witness's time, awaited, not yet", async () => {
  // The real answer first: the demo's election closed without a sealing delay.
  const { context, page, errors } = await newPage({ viewport: { width: 1200, height: 900 } });
  const seal = () => page.locator(`section.election[data-election="cse-2026-acme"] [data-seal]`).getAttribute("data-seal");
  await page.goto(`${log.url}/#/tableau`);
  await page.locator('section.election[data-election="cse-2026-acme"]').waitFor({ timeout: 30_000 });
  assert.equal(await seal(), "no-grace");
  await context.close();

  // The real cosigned checkpoint, with its witnesses' names and timestamps read from
  // their cosignature lines (C2SP tlog-cosignature: key ID, 8-byte timestamp, signature).
  const note = await (await fetch(`${log.url}/checkpoint`)).text();
  const [, size, root64] = note.split("\n");
  const rootHex = Buffer.from(root64, "base64").toString("hex");
  const witnesses = note
    .split("\n")
    .filter((l) => l.startsWith("— temoin-"))
    .map((l) => {
      const [, name, sig] = l.split(" ");
      const ts = Number(Buffer.from(sig, "base64").readBigUInt64BE(4));
      return { name, timestamp: ts, time: new Date(ts * 1000).toISOString().replace(/\.000Z$/, "Z") };
    });
  assert.equal(witnesses.length, 2, note);
  const variants = [
    ["sealed", (e) => {
      e.sealed_after = "2026-03-12T17:30:00Z";
      e.seal = { sealed_after: e.sealed_after, close_index: Number(size) - 1, size: Number(size), root: rootHex, witnesses, checkpoint: note };
    }],
    ["awaiting", (e) => {
      e.sealed_after = "2026-03-12T17:30:00Z";
      e.seal = null;
    }],
    ["unsealed", (e) => {
      e.state.closed = null;
      e.sealed_after = null;
      e.seal = null;
    }],
  ];
  for (const [want, alter] of variants) {
    const { context, page, errors } = await newPage({ viewport: { width: 1200, height: 900 } });
    // The real server's answer, altered in transit to show each state.
    await page.route("**/v1/elections", async (route) => {
      const response = await route.fetch();
      const body = await response.json();
      for (const e of body.elections) if (e.id === "cse-2026-acme") alter(e);
      await route.fulfill({ response, json: body });
    });
    await page.goto(`${log.url}/#/tableau`);
    const box = page.locator('section.election[data-election="cse-2026-acme"] [data-seal]');
    await box.waitFor({ timeout: 30_000 });
    assert.equal(await box.getAttribute("data-seal"), want);
    const text = await box.innerText();
    if (want === "sealed") {
      assert.match(text, /^Urne scellée le 12 mars 2026 à 18:30:00, empreinte [0-9a-f]{64} \([\d\u202f ]+ entrées du registre\), témoins : /);
      assert.ok(text.includes(rootHex), text);
      for (const w of witnesses) {
        const d = new Date(w.timestamp * 1000);
        const day = new Intl.DateTimeFormat("fr-FR", { dateStyle: "long", timeZone: "Europe/Paris" }).format(d);
        const clock = new Intl.DateTimeFormat("fr-FR", { timeStyle: "medium", timeZone: "Europe/Paris" }).format(d);
        assert.ok(text.includes(`${w.name} (le ${day} à ${clock})`), `${w.name} ${day} ${clock} in ${text}`);
      }
      await page.screenshot({ path: join(SHOTS, "tableau-scellee.png"), fullPage: true });
    } else if (want === "awaiting") {
      assert.match(text, /^Fermée, scellement attendu : l'urne est scellée automatiquement le 12 mars 2026 à 18:30:00/);
    } else {
      assert.match(text, /^Pas encore scellée/);
    }
    assert.deepEqual(errors, []);
    await context.close();
  }
  assert.deepEqual(errors, []);
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
  assert.match(v.text, /Attention : quelqu'un a peut-être voté à votre place/);
  // No failure icon next to "vérifié" anywhere on the page.
  assert.doesNotMatch(await page.locator("#history-result").innerText(), /✖[^\n]*vérifié/);
  assert.doesNotMatch(await page.locator("#history-result").innerText(), /\bnull\b|undefined|\{\w+\}/);
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
  // Verified; a batch reissue after the leak is a point to review, not an alarm.
  assert.match(text, /Historique vérifié : rien d'anormal|Historique à examiner/);
  assert.doesNotMatch(text, /Attention/);
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
  assert.match(h.text, /Attention : quelqu'un a peut-être voté à votre place/);
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

  // A policy that needs no witness: the receipt is never shown all green without one.
  await page.goto(`${log.url}/#/confiance`);
  await page.fill("#policy", `log ${log.key}\nquorum none\n`);
  await page.click("#policy-form button[type=submit]");
  await page.locator("#policy-message [data-verdict=ok]").waitFor();
  const none = await checkReceipt(page, log.url, demo.receipts[0]);
  assert.equal(none.kind, "warn", none.text);
  assert.match(none.text, /Enregistré, sans témoin indépendant/);
  assert.match(none.text, /Aucun témoin indépendant ne l'a contresigné/);

  await page.goto(`${log.url}/#/confiance`);
  await page.fill("#policy", "log not-a-key\nquorum none\n");
  await page.click("#policy-form button[type=submit]");
  const bad = await verdictOf(page, "#policy-message");
  assert.equal(bad.kind, "fail");
  assert.match(bad.text, /Politique refusée/);
  await page.screenshot({ path: join(SHOTS, "confiance.png"), fullPage: true });
  await context.close();
});

test("reset: a browser that proved a receipt on the larger tree says the restored log contradicts it; the mirror too", async () => {
  // A log of its own: a first demo election, then a copy of its data directory (the
  // operator's "backup"), then a second election whose receipt this browser proves,
  // on the log and on a mirror that copies it.
  const data = join(dir, "reset");
  const backup = join(dir, "reset-backup");
  const first = await start(["demo", "--data", data, "--listen", "127.0.0.1:0", "--voters", "10", "--exit"], /receipt: +\S+\/v1\/receipts\/[0-9a-f]{64}/s, { timeoutMs: 300_000 });
  await new Promise((resolve) => (first.proc.exitCode !== null ? resolve() : first.proc.on("exit", resolve)));
  cpSync(data, backup, { recursive: true });
  const second = await start(["demo", "--data", data, "--listen", "127.0.0.1:0", "--voters", "10"], /The log keeps running at (http:\/\/\S+?)\/ /, { timeoutMs: 300_000 });
  const url = second.match[1];
  const receipt = /receipt: +\S+\/v1\/receipts\/([0-9a-f]{64})/.exec(second.output())[1];
  const logKey = (await (await fetch(`${url}/v1/log`)).json()).verifier_key;
  const m = await start(["mirror", "--of", url, "--key", logKey, "--data", join(dir, "reset-mirror"), "--listen", "127.0.0.1:0"], /serving on: (http:\/\/\S+?)\//);
  const mirrorUrl = m.match[1];
  const sizeAt = async (base) => (await (await fetch(`${base}/checkpoint`)).text()).split("\n")[1];
  await waitFor(async () => (await sizeAt(mirrorUrl)) === (await sizeAt(url)), "the mirror's copy of the log", 120_000);
  const { context, page, errors } = await newPage();
  // This log has no witness: recorded, said without independent witness (never all green).
  let v = await checkReceipt(page, url, receipt);
  assert.equal(v.kind, "warn", v.text);
  assert.match(v.text, /Enregistré, sans témoin indépendant/);
  const onMirror = await newPage();
  v = await checkReceipt(onMirror.page, mirrorUrl, receipt);
  assert.equal(v.kind, "warn", v.text);
  assert.match(v.text, /Enregistré, sans témoin indépendant/);

  // The restore: the log stops, the older copy replaces its data, it starts again on
  // the same address (the browser's memory is per origin).
  await stop(second.proc);
  rmSync(data, { recursive: true, force: true });
  renameSync(backup, data);
  const board = execFileSync(URNE, ["demo", "--print-board-key"]).toString().trim().split("\n");
  await start(["serve", "--data", data, "--listen", url.replace(/^http:\/\//, ""), ...board.flatMap((k) => ["--allow-board", k])], /serving on:/);

  // This browser proved the ballot on the larger tree: the log contradicts it.
  v = await checkReceipt(page, url, receipt);
  assert.equal(v.kind, "fail", v.text);
  assert.match(v.text, /Registre incohérent : ce reçu a pu être effacé/);
  assert.match(v.text, /remis en arrière/);
  await page.screenshot({ path: join(SHOTS, "reset-contradicted.png"), fullPage: true });

  // A fresh browser has nothing to compare with: the receipt is simply not there.
  const fresh = await newPage();
  v = await checkReceipt(fresh.page, url, receipt);
  assert.equal(v.kind, "fail", v.text);
  assert.match(v.text, /Ce reçu n'est pas dans le registre/);
  await fresh.context.close();

  // The operator keeps appending, past the old size: another history than the one
  // the mirror copied. The mirror keeps its copy and holds one proof of the fork;
  // its page, which holds the ballot, says the log contradicts it.
  execFileSync(URNE, ["demo", "--log", url, "--voters", "100"], { stdio: "ignore" });
  const evidence = await waitFor(async () => {
    const list = await (await fetch(`${mirrorUrl}/v1/gossip/equivocations`)).json();
    return list.length > 0 ? list : null;
  }, "the mirror's evidence of the fork", 120_000);
  assert.equal(evidence.length, 1, JSON.stringify(evidence));
  v = await checkReceipt(onMirror.page, mirrorUrl, receipt);
  assert.equal(v.kind, "fail", v.text);
  assert.match(v.text, /le registre a signé deux historiques incompatibles \(l'arbre de [\d\s\u202f]+ entrées ne prolonge pas celui de [\d\s\u202f]+ entrées/);
  await onMirror.page.screenshot({ path: join(SHOTS, "reset-mirror-contradicted.png"), fullPage: true });
  // And the browser that proved it on the log, before and after: still contradicted.
  v = await checkReceipt(page, url, receipt);
  assert.equal(v.kind, "fail", v.text);
  assert.deepEqual(errors, []);
  assert.deepEqual(onMirror.errors, []);
  await context.close();
  await onMirror.context.close();
});

// ---------------------------------------------------------------------------------
// Charts: each bar spans its hour; suspensions are shaded over exactly their hours.

/**
 * Reads one chart's drawing: the plotting area (uPlot's overlay) in canvas pixels,
 * the x scale it states, and the runs of bar-coloured pixels along a row near the
 * bottom and of band-coloured pixels along a row near the top.
 */
async function chartGeometry(page, id, barRgb, probeTimes = []) {
  return page.evaluate(
    ({ id, barRgb, probeTimes }) => {
      const box = document.getElementById(id);
      const canvas = box.querySelector("canvas");
      const over = box.querySelector(".u-over").getBoundingClientRect();
      const c = canvas.getBoundingClientRect();
      const k = canvas.width / c.width;
      const left = (over.left - c.left) * k;
      const width = over.width * k;
      const top = (over.top - c.top) * k;
      const height = over.height * k;
      const ctx = canvas.getContext("2d");
      const min = Number(box.dataset.xMin);
      const max = Number(box.dataset.xMax);
      const probe = probeTimes.map((t) => left + ((t - min) / (max - min)) * width);
      // A column is "on" when a pixel of one of the rows `ys` passes `test`.
      const runs = (ys, test) => {
        const rows = ys.map((y) => ctx.getImageData(0, Math.round(y), canvas.width, 1).data);
        const out = [];
        let start = null;
        for (let x = 0; x <= canvas.width; x++) {
          const on = x < canvas.width && rows.some((d) => test(d[4 * x], d[4 * x + 1], d[4 * x + 2], d[4 * x + 3]));
          if (on && start === null) start = x;
          if (!on && start !== null) {
            out.push([start, x]);
            start = null;
          }
        }
        // Merge runs split by a grid line (1–2 px).
        return out.reduce((acc, r) => {
          const last = acc[acc.length - 1];
          if (last && r[0] - last[1] <= 3 && test === bandTest) last[1] = r[1];
          else acc.push(r);
          return acc;
        }, []);
      };
      // Translucent red (getImageData un-premultiplies: a red hue at low alpha; a grid
      // line over it darkens it a little).
      const bandTest = (r, g, b, a) => a > 10 && a < 160 && r > 110 && r - g > 60 && r - b > 50;
      const near = (a, b) => Math.abs(a - b) <= 40;
      return {
        left,
        width,
        min: Number(box.dataset.xMin),
        max: Number(box.dataset.xMax),
        bars: runs([top + height - 2 * k], (r, g, b, a) => a > 200 && near(r, barRgb[0]) && near(g, barRgb[1]) && near(b, barRgb[2])),
        // The band, along the top tenth of the plot (above the tallest bar, which the
        // y range keeps below 87 % of the height).
        band: runs(Array.from({ length: Math.max(1, Math.floor(height / 10 - 2 * k)) }, (_, i) => top + 2 * k + i), bandTest),
        probe: probe.map((x) => Array.from(ctx.getImageData(Math.round(x), Math.round(top), 1, Math.round(height / 4)).data).join(",")),
      };
    },
    { id, barRgb, probeTimes },
  );
}

test("the ballot chart: each bar spans its hour, the suspension band covers exactly its hours", async () => {
  const { context, page, errors } = await newPage({ viewport: { width: 1200, height: 900 } });
  const info = await (await fetch(`${log.url}/v1/elections/cse-2026-acme`)).json();
  const stats = info.stats;
  const susp = stats.timeline.find((e) => e.kind === "suspend");
  const resume = stats.timeline.find((e) => e.kind === "resume" && e.index > susp.index);
  const [s0, s1] = [Date.parse(susp.time) / 1000, Date.parse(resume.time) / 1000];
  await page.goto(`${log.url}/#/tableau`);
  await page.waitForFunction(() => document.querySelector('[id="ballots-cse-2026-acme"] canvas'));
  const hours = Object.entries(stats.ballots_per_hour).filter(([, n]) => n > 0).map(([h]) => Number(h));
  // The canvas exists before uPlot has drawn into it (its first draw, and each redraw
  // when the dashboard refreshes, clear it first): read it until the bars and the band
  // are drawn, as a person looking at it would, then judge that drawing.
  let g;
  for (const until = Date.now() + 60_000; ; ) {
    g = await chartGeometry(page, "ballots-cse-2026-acme", [0x1f, 0x6f, 0xeb], [(s0 + s1) / 2]);
    if ((g.bars.length === hours.length && g.band.length > 0) || Date.now() > until) break;
    await new Promise((ok) => setTimeout(ok, 250));
  }
  const pos = (t) => g.left + ((t - g.min) / (g.max - g.min)) * g.width;
  const hourPx = pos(3600) - pos(0);
  assert.ok(hourPx > 20, `an hour is ${hourPx}px wide`);

  // Every hour with ballots has one bar from its start to its end (2 px gap at most 4).
  assert.equal(g.bars.length, hours.length, `bars ${JSON.stringify(g.bars)} for hours ${hours}`);
  for (const h of hours) {
    const bar = g.bars.find(([a]) => Math.abs(a - pos(h)) <= 1.5);
    assert.ok(bar, `no bar starts at the hour ${new Date(h * 1000).toISOString()} (x=${pos(h)}): ${JSON.stringify(g.bars)}`);
    assert.ok(bar[1] <= pos(h + 3600) + 1 && bar[1] >= pos(h + 3600) - 5, `bar of ${h} ends at ${bar[1]}, its hour at ${pos(h + 3600)}`);
  }

  // The band: from the suspension to the resumption, at their true times.
  assert.equal(g.band.length, 1, `band runs ${JSON.stringify(g.band)}; pixels down the band's middle: ${g.probe[0]}`);
  const [b0, b1] = g.band[0];
  assert.ok(Math.abs(b0 - pos(s0)) <= 1.5 && Math.abs(b1 - pos(s1)) <= 2.5, `band ${b0}–${b1}, suspension ${pos(s0)}–${pos(s1)}`);
  // It overlaps exactly the bars of the hours it covers, and no other, at the
  // resolution of a pixel: a suspension covering a few seconds of an hour (less than
  // the bar's 2 px gap and a pixel of rounding) may or may not touch its bar.
  for (const h of hours) {
    const bar = g.bars.find(([a]) => Math.abs(a - pos(h)) <= 1.5);
    const overlapPx = Math.min(b1, bar[1]) - Math.max(b0, bar[0]);
    const coveredPx = (Math.max(0, Math.min(s1, h + 3600) - Math.max(s0, h)) / 3600) * hourPx;
    const at = new Date(h * 1000).toISOString();
    if (coveredPx >= 4) assert.ok(overlapPx > 0, `hour ${at} covered ${coveredPx}px, band does not overlap its bar`);
    if (coveredPx === 0) assert.ok(overlapPx <= 1, `hour ${at} not covered, band overlaps its bar by ${overlapPx}px`);
  }
  // Its legend is real, with the total and the band's key; the chart has a text
  // alternative naming the suspension.
  const figure = page.locator('figure:has([id="ballots-cse-2026-acme"])');
  const legend = await figure.locator(".legend").innerText();
  assert.match(legend, /Bulletins par heure \([\d\u202f ]+ au total\)/);
  assert.match(legend, /Vote suspendu/);
  assert.doesNotMatch(legend, /--|–/);
  const alt = await page.getAttribute('[id="ballots-cse-2026-acme"]', "aria-label");
  assert.match(alt, /^Bulletins par heure, du .* au .* : [\d\u202f ]+ au total ; au plus [\d\u202f ]+, entre .* Vote suspendu du .* au /);
  assert.deepEqual(errors, []);
  await context.close();
});

test("the dashboard: helpdesk reissues readable next to the batch, turnout, suspensions with their duration, the rate alarm", async () => {
  const { context, page, errors } = await newPage({ viewport: { width: 1200, height: 900 } });
  const info = await (await fetch(`${log.url}/v1/elections/cse-2026-acme`)).json();
  const s = info.stats;
  await page.goto(`${log.url}/#/tableau`);
  const card = page.locator('section.election[data-election="cse-2026-acme"]');
  await page.waitForFunction(() => document.querySelectorAll('section.election[data-election="cse-2026-acme"] .uplot canvas').length >= 3);
  // One chart per channel, each on its own scale: the helpdesk's few reissues draw
  // a bar as tall as the batch's hundreds (the tallest bar of each reaches near the top).
  const heights = {};
  for (const ch of ["batch", "helpdesk"]) {
    heights[ch] = await page.evaluate((id) => {
      const box = document.getElementById(id);
      const canvas = box.querySelector("canvas");
      const ctx = canvas.getContext("2d");
      const d = ctx.getImageData(0, 0, canvas.width, canvas.height).data;
      let top = canvas.height;
      for (let y = 0; y < canvas.height; y++)
        for (let x = 0; x < canvas.width; x++) {
          const i = 4 * (y * canvas.width + x);
          if (d[i + 3] > 200 && (d[i] > 150 || d[i + 2] > 60) && Math.abs(d[i] - d[i + 1]) + Math.abs(d[i + 1] - d[i + 2]) > 20) {
            top = Math.min(top, y);
          }
        }
      return canvas.height - top;
    }, `reissues-${ch}-cse-2026-acme`);
  }
  assert.ok(heights.helpdesk > 80, `the helpdesk's tallest bar is ${heights.helpdesk}px high`);
  const text = await card.innerText();
  assert.match(text, /Réémissions par assistance téléphonique \(\d+ au total\)/);
  assert.doesNotMatch(await page.locator("#dashboard-result").innerText(), /\bnull\b|undefined|NaN|\{\w+\}/);
  assert.match(text, /Réémissions par envoi groupé \([\d\u202f ]+ au total\)/);
  // Counts: credentials are voters, not reissues; suspensions with their total duration.
  const count = async (k) => (await card.locator(`[data-count="${k}"] dd`).innerText()).replace(/\D/g, "");
  const reissues = Object.values(s.reissues_per_hour).reduce((a, c) => a + Object.values(c).reduce((x, y) => x + y, 0), 0);
  assert.equal(Number(await count("credentials")), s.counts.credential - reissues);
  assert.equal(Number(await count("electorate")), 300);
  assert.match(await card.locator('[data-count="suspensions"] dd').innerText(), /^1 \(\d+ min au total\)$/);
  // Turnout per scrutin, against the sealed roll.
  for (const [sc, n] of Object.entries(s.ballots_per_scrutin)) {
    const line = await card.locator(`.turnout [data-scrutin="${sc}"]`).innerText();
    assert.match(line, new RegExp(`${sc} : ${n} bulletins pour 300 inscrits, soit [\\d,]+[\\s\u202f]%`));
  }
  // The interventions are listed, in French.
  assert.match(await card.locator(".interventions").innerText(), /platform support : mass reissue of credentials .*annonce [\d\u202f ]+ réémissions/);
  // The ballot rate fell during the incident hours: flagged, with the rule stated.
  assert.match(await card.locator(".rate-drops").innerText(), /bulletins par heure de vote, contre \d+ en moyenne avant/);
  assert.match(await page.locator(".alerts").innerText(), /le vote s'est effondré \(.*\) : \d+ bulletins par heure de vote, contre \d+ en moyenne/);
  // The burst alert says its share of the electorate (the page's threshold is high:
  // the demo's batch of 300 voters stays under it, so it is not asserted here).
  assert.deepEqual(errors, []);
  for (const [name, viewport] of [["bureau", { width: 1200, height: 900 }], ["telephone", { width: 390, height: 844 }]]) {
    await page.setViewportSize(viewport);
    await page.waitForTimeout(500);
    await page.waitForFunction(() => document.querySelectorAll(".uplot canvas").length >= 3);
    await page.screenshot({ path: join(SHOTS, `tableau-${name}.png`), fullPage: true });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `${name}: horizontal overflow ${overflow}px`);
  }
  await context.close();
});

// ---------------------------------------------------------------------------------
// What people paste, and what the browser keeps

test("a receipt pasted with spaces, a line break and upper case, or as the whole link, verifies; a bad one is explained", async () => {
  const { context, page } = await newPage();
  const code = demo.receipts[0];
  const messy = `  ${code.slice(0, 20).toUpperCase()} ${code.slice(20, 41)}\n${code.slice(41)}  `;
  const v = await checkReceipt(page, log.url, messy);
  assert.equal(v.kind, "ok", v.text);
  assert.equal(await page.inputValue("#receipt"), code);
  const link = await checkReceipt(page, log.url, `Votre reçu :\n${log.url}/v1/receipts/${code.slice(0, 30)}\n${code.slice(30)}\nMerci.`);
  assert.equal(link.kind, "ok", link.text);
  // Too short: says how many characters it found; the field is marked invalid.
  const short = await checkReceipt(page, log.url, code.slice(0, 50));
  assert.equal(short.kind, "fail");
  assert.match(short.text, /contient 50 chiffres ou lettres de a à f à la suite, au lieu de 64/);
  assert.equal(await page.getAttribute("#receipt", "aria-invalid"), "true");
  const foreign = await checkReceipt(page, log.url, `${code.slice(0, 63)}g`);
  assert.match(foreign.text, /Le caractère « g » ne peut pas figurer dans un code/);
  await context.close();
});

test("privacy: after visiting a receipt and a voter tag, neither the address, the history nor the storage holds a code", async () => {
  const { context, page } = await newPage();
  const code = demo.receipts[1];
  // An old-style link carrying the code: the page takes it and rewrites the address.
  await page.goto(`${log.url}/#/verifier`);
  await page.goto(`${log.url}/#/verifier/${code}`);
  const v = await verdictOf(page, "#receipt-result");
  assert.equal(v.kind, "ok", v.text);
  assert.doesNotMatch(page.url(), new RegExp(code));
  // Pasted in the form, then the history page, then a tag.
  await page.fill("#receipt", demo.receipts[2]);
  await page.click("#receipt-form button[type=submit]");
  await page.locator('#receipt-result [data-verdict="ok"]').waitFor({ timeout: 60_000 });
  await page.click('nav a[data-tab="identifiant"]');
  await page.fill("#voter", demo.helpdesk);
  await page.click("#voter-form button[type=submit]");
  await verdictOf(page, "#history-result");
  const secrets = [code, demo.receipts[2], demo.helpdesk];
  const kept = await page.evaluate(() => JSON.stringify([location.href, { ...localStorage }, { ...sessionStorage }, history.length]));
  for (const x of secrets) assert.ok(!kept.includes(x), `${x} kept: ${kept}`);
  // Walk the whole session history back: no entry's address holds a code.
  const urls = [page.url()];
  for (let i = 0; i < 10; i++) {
    const r = await page.goBack({ waitUntil: "commit" }).catch(() => null);
    if (!r && urls.includes(page.url())) break;
    urls.push(page.url());
  }
  for (const u of urls) for (const x of secrets) assert.ok(!u.includes(x), `history entry ${u}`);
  await context.close();
});

test("'Tout oublier' asks first; cancelling keeps the evidence; a bad policy is explained in French", async () => {
  const { context, page } = await newPage();
  await checkReceipt(page, log.url, demo.receipts[0]);
  await page.goto(`${log.url}/#/confiance`);
  const stored = () => page.evaluate(() => Object.keys(localStorage).filter((k) => k !== "urne.lang").sort());
  assert.deepEqual(await stored(), ["urne.seen.v1", "urne.trust.v1"]);
  assert.match(await page.locator(".kept").innerText(), /Jamais votre code de reçu ni votre étiquette d'électeur/);
  await page.click("#trust-reset");
  await page.locator("#reset-confirm").waitFor({ state: "visible" });
  assert.match(await page.locator("#reset-confirm").innerText(), /ne pourra plus montrer qu'un registre a été remis en arrière/);
  await page.click("#reset-cancel");
  assert.equal(await page.locator("#reset-confirm").isVisible(), false);
  assert.deepEqual(await stored(), ["urne.seen.v1", "urne.trust.v1"]);
  await page.click("#trust-reset");
  await page.click("#reset-yes");
  await page.locator("#reset-message [data-verdict]").waitFor();
  // renderTrust pins the server's keys again at once; the checkpoint seen is gone.
  assert.ok(!(await stored()).includes("urne.seen.v1"));

  await page.fill("#policy", `log ${log.key}\nquorum g\n`);
  await page.click("#policy-form button[type=submit]");
  const bad = await verdictOf(page, "#policy-message");
  assert.equal(bad.kind, "fail");
  assert.match(bad.text, /Politique mal formée, ligne 2 : le nom « g » n'est défini par aucune ligne « witness » ou « group » au-dessus/);
  assert.equal(await page.getAttribute("#policy", "aria-invalid"), "true");
  await page.fill("#policy", `log ${log.key}\n`);
  await page.click("#policy-form button[type=submit]");
  assert.match((await verdictOf(page, "#policy-message")).text, /Politique incomplète : il manque la ligne « quorum »/);
  await context.close();
});

// ---------------------------------------------------------------------------------
// Live: an identity page left open shows what the log appends afterwards

/** The demo registrar's signer (keys derived from the demo's public seed, as `urne demo`). */
function demoSigner(name) {
  const seed = createHash("sha256").update(`urne demo key\nurne-demo\n${name}`).digest();
  const key = createPrivateKey({ key: Buffer.concat([Buffer.from("302e020100300506032b657004220420", "hex"), seed]), format: "der", type: "pkcs8" });
  const pub = createPublicKey(key).export({ format: "der", type: "spki" }).subarray(-32);
  const id = createHash("sha256").update(Buffer.concat([Buffer.from(`${name}\n`), Buffer.of(1), pub])).digest().subarray(0, 4);
  return (text) => `${text}\n\u2014 ${name} ${Buffer.concat([id, edSign(null, Buffer.from(text), key)]).toString("base64")}\n`;
}

async function submit(text) {
  const r = await fetch(`${log.url}/v1/statements`, { method: "POST", body: text, headers: { "content-type": "text/plain" } });
  assert.ok(r.status === 201 || r.status === 200, `${r.status} ${await r.text()}\n${text}`);
}

test("an identity page left open shows a reissue appended after it loaded", async () => {
  // An open election of the demo's authorities (`urne load` seals and opens one).
  execFileSync(URNE, ["load", "--log", log.url, "--ballots", "3", "--concurrency", "1"], { stdio: "ignore" });
  const list = await (await fetch(`${log.url}/v1/elections`)).json();
  const election = list.elections.find((e) => e.id.startsWith("load-") && e.state.phase === "open").id;
  const registrar = demoSigner("registrar.demo");
  const now = () => new Date().toISOString().replace(/\.\d+Z$/, "Z");
  const voter = randomBytes(32).toString("hex");
  const credential = (channel, reason) =>
    registrar(`urne/v1 credential\nelection ${election}\ntime ${now()}\nvoter ${voter}\ncredential ${randomBytes(32).toString("hex")}\nchannel ${channel}\nreason ${reason}\n`);
  await submit(credential("mail", "initial"));

  const { context, page, errors } = await newPage();
  await page.goto(`${log.url}/#/identifiant`);
  await page.fill("#voter", voter);
  await page.click("#voter-form button[type=submit]");
  const first = await verdictOf(page, "#history-result");
  assert.equal(first.kind, "ok", first.text);
  assert.equal(await page.locator("table.history tbody tr").count(), 1);

  // A receipt page left open beside it, in the same browser.
  const receiptPage = await context.newPage();
  await checkReceipt(receiptPage, log.url, demo.receipts[0]);

  // The helpdesk reissues this voter's credential while the page is open.
  await submit(credential("helpdesk", "reissue-helpdesk"));
  await page.locator("#history-result [data-live=changed]").waitFor({ timeout: 120_000 });
  const live = await page.locator("#history-result .live").innerText();
  assert.match(live, /Revérifié le .* dans le nouveau point de contrôle de taille/);
  assert.match(live, /Nouveau : Identifiant réémis le .*assistance téléphonique/);
  assert.equal(await page.locator("table.history tbody tr").count(), 2);
  assert.equal(await page.locator("table.history tbody tr.fresh").count(), 1);
  const v = await verdictOf(page, "#history-result");
  assert.equal(v.kind, "fail", v.text);
  assert.match(v.text, /Attention : l'assistance a émis un identifiant à votre nom/);
  assert.match(await page.locator(".warnings").innerText(), /un nouvel identifiant a été émis par l'assistance/);
  await page.screenshot({ path: join(SHOTS, "identifiant-direct.png"), fullPage: true });
  // The receipt page re-checked it in the new checkpoint: still there.
  await receiptPage.locator("#receipt-result [data-live]").waitFor({ timeout: 120_000 });
  assert.match(await receiptPage.locator("#receipt-result .live").innerText(), /Votre bulletin y figure toujours/);
  assert.equal((await verdictOf(receiptPage, "#receipt-result")).kind, "ok");
  assert.deepEqual(errors, []);
  await context.close();
});

test("screenshots: every page at desktop and phone width", async () => {
  for (const [name, viewport] of [["bureau", { width: 1200, height: 900 }], ["telephone", { width: 390, height: 844 }]]) {
    const { context, page } = await newPage({ viewport });
    await checkReceipt(page, log.url, demo.receipts[0]);
    await page.screenshot({ path: join(SHOTS, `verifier-${name}.png`), fullPage: true });
    await page.click('nav a[data-tab="identifiant"]');
    await page.fill("#voter", demo.helpdesk);
    await page.click("#voter-form button[type=submit]");
    await verdictOf(page, "#history-result");
    await page.screenshot({ path: join(SHOTS, `identifiant-${name}.png`), fullPage: true });
    await page.goto(`${log.url}/#/confiance`);
    await page.locator("#trust-result dl").waitFor();
    await page.screenshot({ path: join(SHOTS, `confiance-${name}.png`), fullPage: true });
    const overflow = await page.evaluate(() => document.documentElement.scrollWidth - window.innerWidth);
    assert.ok(overflow <= 0, `${name}: horizontal overflow ${overflow}px`);
    await context.close();
  }
});

// ---------------------------------------------------------------------------------
// The monitor's report, in French, for the bureau's procès-verbal

test("the monitor's French report: counts as the log's, every alert in it, bursts with their share, aligned charts; screenshots", async () => {
  const client = process.env.URNE_CLIENT_BIN || join(dirname(URNE), "urne-client");
  assert.ok(existsSync(client), `urne-client is needed at ${client} (cargo build)`);
  // The log's statistics and its checkpoint cover the same entries.
  let list;
  await waitFor(async () => {
    list = await (await fetch(`${log.url}/v1/elections`)).json();
    const cp = await fetch(`${log.url}/checkpoint`).then((r) => r.text());
    return cp.split("\n")[1] === String(list.tree_size);
  }, "a checkpoint of the whole log", 120_000);
  const state = join(dir, "monitor-report");
  const env = { ...process.env, XDG_STATE_HOME: join(dir, "xdg"), XDG_CONFIG_HOME: join(dir, "xdg"), RUST_LOG: "warn" };
  execFileSync(client, ["monitor", "--log", log.url, "--key", log.key, "--state", state, "--once", "--quiet"], { env, stdio: "ignore" });
  const html = join(dir, "rapport.html");
  execFileSync(client, ["monitor", "report", "--state", state, "--out", html], { env, stdio: "ignore" });
  const alerts = (await import("node:fs")).readFileSync(join(state, "alerts.jsonl"), "utf8").trim().split("\n").map((l) => JSON.parse(l));
  assert.ok(alerts.some((a) => a.kind === "reissue_burst") && alerts.some((a) => a.kind === "ballot_rate"), JSON.stringify(alerts.map((a) => a.kind)));

  const { context, page, errors } = await newPage({ viewport: { width: 1200, height: 900 } });
  await page.goto(`file://${html}`);
  assert.equal(await page.getAttribute("html", "lang"), "fr");
  assert.equal(await page.locator("[data-count=entries]").innerText().then((t) => Number(t.replace(/\D/g, ""))), list.tree_size);
  // Per election, the report's counts are the log's.
  for (const e of list.elections) {
    const s = e.stats;
    const sec = page.locator(`section.election[data-election="${e.id}"]`);
    const count = async (k) => Number((await sec.locator(`[data-count="${k}"]`).innerText()).split("(")[0].replace(/\D/g, ""));
    const reissues = Object.values(s.reissues_per_hour).reduce((a, c) => a + Object.values(c).reduce((x, y) => x + y, 0), 0);
    assert.equal(await count("ballot"), s.counts.ballot || 0, `${e.id} ballots`);
    assert.equal(await count("credential"), (s.counts.credential || 0) - reissues, `${e.id} voters`);
    assert.equal(await count("reissue"), reissues, `${e.id} reissues`);
    assert.equal(await count("revoke"), s.counts.revoke || 0, `${e.id} revocations`);
    assert.equal(await count("suspend"), s.counts.suspend || 0, `${e.id} suspensions`);
    assert.equal(await count("intervention"), s.counts.intervention || 0, `${e.id} interventions`);
    assert.equal(await count("violations"), 0);
    for (const [sc, n] of Object.entries(s.ballots_per_scrutin || {})) {
      if (s.electorate) assert.match(await sec.locator(`.turnout [data-scrutin="${sc}"]`).innerText(), new RegExp(`: ${n} bulletins pour ${s.electorate} inscrits, soit [\\d,]+\\s%`));
    }
  }
  // Every alert of the monitor is in the report.
  for (const a of alerts) {
    const n = await page.locator(`tr[data-alert="${a.kind}"][data-index="${a.index ?? ""}"]`).count();
    assert.ok(n >= 1, `alert missing from the report: ${JSON.stringify(a)}`);
  }
  // The burst states its count (the whole batch) and its share of the electorate.
  const acme = list.elections.find((e) => e.id === "cse-2026-acme").stats;
  const batch = Object.values(acme.reissues_per_hour).reduce((a, c) => a + (c.batch || 0), 0);
  const burst = await page.locator('section[data-election="cse-2026-acme"] tr[data-alert="reissue_burst"]').innerText();
  assert.match(burst, new RegExp(`${batch} réémissions d'identifiants (le|du) .*, soit [\\d,]+\\s% des inscrits, sur 300\\. Seuil de la surveillance : 50 par heure glissante`));
  // The timeline says each suspension's reason and duration; results; the checkpoint's witnesses.
  const tl = await page.locator('section[data-election="cse-2026-acme"] table.timeline').innerText();
  assert.match(tl, /Suspension\s+platform unavailable .* — durée \d+ min/);
  assert.match(tl, /Résultats\s+titulaires-college-1 : \d+ bulletins/);
  assert.match(await page.locator("table.meta").nth(1).innerText(), /temoin-cgt\.example .*temoin-cfdt\.example|temoin-cfdt\.example .*temoin-cgt\.example/);
  // Charts: each bar spans its hour; the band overlaps exactly the bars of its hours.
  const geo = await page.evaluate(() => {
    const svg = document.querySelector('svg[aria-labelledby="ballots-cse-2026-acme-t"]');
    const num = (el, a) => Number(el.getAttribute(a));
    return {
      min: num(svg, "data-x-min"),
      max: num(svg, "data-x-max"),
      left: num(svg, "data-plot-left"),
      width: num(svg, "data-plot-width"),
      bars: [...svg.querySelectorAll("rect.bar")].map((r) => ({ h: num(r, "data-hour"), x0: num(r, "x"), x1: num(r, "x") + num(r, "width") })),
      band: [...svg.querySelectorAll("rect.band")].map((r) => [num(r, "x"), num(r, "x") + num(r, "width")]),
    };
  });
  const susp = acme.timeline.find((e) => e.kind === "suspend");
  const resume = acme.timeline.find((e) => e.kind === "resume" && e.index > susp.index);
  const [s0, s1] = [Date.parse(susp.time) / 1000, Date.parse(resume.time) / 1000];
  // The SVG's coordinates are written to 0.1 unit.
  const x = (t) => geo.left + ((t - geo.min) / (geo.max - geo.min)) * geo.width;
  assert.equal(geo.band.length, 1);
  const [b0, b1] = geo.band[0];
  assert.ok(Math.abs(b0 - x(s0)) <= 0.1 && Math.abs(b1 - x(s1)) <= 0.2, `band ${b0}–${b1}, suspension ${x(s0)}–${x(s1)}`);
  const ballotHours = Object.entries(acme.ballots_per_hour).filter(([, n]) => n > 0).map(([h]) => Number(h));
  assert.deepEqual(geo.bars.map((b) => b.h).sort(), ballotHours.sort());
  for (const b of geo.bars) {
    assert.ok(Math.abs(b.x0 - x(b.h)) <= 0.1, `bar of ${b.h} at ${b.x0}, its hour at ${x(b.h)}`);
    assert.ok(Math.abs(b.x1 - (x(b.h + 3600) - 2)) <= 0.2, `bar of ${b.h} ends at ${b.x1}, its hour at ${x(b.h + 3600)}`);
    // The band overlaps the bar iff the suspension covers part of the hour before the
    // bar's 2-unit gap at its end. Coordinates are written to 0.1 unit, so a
    // suspension that starts just before the gap, or ends a few seconds after the
    // hour began (its band then ends where the bar starts), is too close to call:
    // only overlaps wider or gaps wider than 0.3 unit are judged.
    const covers = s0 < Math.min(s1, b.h + 3600) && s1 > b.h && x(Math.max(s0, b.h)) < x(b.h + 3600) - 2;
    const overlaps = b.x0 < b1 && b0 < b.x1;
    const shared = Math.min(x(s1), x(b.h + 3600) - 2) - Math.max(x(s0), x(b.h));
    if (Math.abs(shared) > 0.3) assert.equal(overlaps, covers, `hour ${b.h}: overlap ${overlaps}, ${shared} units shared`);
  }
  // French throughout, outside the technical details.
  const words = await page.evaluate(() => {
    const clone = document.body.cloneNode(true);
    for (const d of clone.querySelectorAll("details, code, pre")) d.remove();
    return clone.innerText;
  });
  assert.doesNotMatch(words, /\b(Ballots|Timeline|Alerts|Election|credential reissues|ballots per hour)\b/);
  // Accessible as the page is: axe-core finds no violation (charts have text alternatives).
  await page.addScriptTag({ path: AXE });
  const violations = await page.evaluate(async () =>
    // eslint-disable-next-line no-undef
    (await axe.run(document, { runOnly: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa"] })).violations.map((v) => `${v.id} (${v.impact})`),
  );
  assert.deepEqual(violations, []);
  for (const [name, viewport] of [["bureau", { width: 1200, height: 900 }], ["telephone", { width: 390, height: 844 }]]) {
    await page.setViewportSize(viewport);
    await page.screenshot({ path: join(SHOTS, `rapport-${name}.png`), fullPage: true });
  }
  await page.emulateMedia({ media: "print" });
  await page.pdf?.({ path: join(SHOTS, "rapport.pdf"), format: "A4" }).catch(() => {});
  assert.deepEqual(errors, []);
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
