// urne — the web page: check my receipt, my credential history, the public dashboard.
//
// Owns: the page's views, routing (`#/verifier/<code>`, `#/identifiant/<tag>`,
// `#/tableau`, `#/confiance`), the trust anchors kept in this browser (the log key,
// the witness keys and quorum: from a union's C2SP tlog-policy file, or pinned on
// first visit from what the server announces), the last checkpoint seen (for the
// consistency check on the next visit), and the charts (uPlot).
// Does not own: any verification logic (verify.js) or wording (i18n.js).
//
// It never trusts a verdict of the server: every answer is checked here with
// verify.js against the pinned keys. Nothing personal is stored: not the receipt code,
// not the voter tag; only keys and checkpoints, which are public.

import * as v from "./verify.js";
import { t, lang, setLang, applyStatic, formatTime, formatNumber } from "./i18n.js";

const TRUST_KEY = "urne.trust.v1";
const SEEN_KEY = "urne.seen.v1";
const EVIDENCE_KEY = "urne.evidence.v1";
/** A ballot this soon after a reissue of the voter's credential is flagged. */
const REISSUE_THEN_VOTE_MINUTES = 30;
/** More reissues than this in one hour of one election is flagged (as the monitor). */
const REISSUE_BURST_PER_HOUR = 300;
/** How often the dashboard refreshes. */
const DASHBOARD_REFRESH_MS = 5000;

// ---------------------------------------------------------------------------------
// Small DOM helpers: text is always set as text (never as HTML), so nothing the log
// holds can inject markup into the page.

function el(tag, attrs = {}, ...children) {
  const e = document.createElement(tag);
  for (const [k, val] of Object.entries(attrs)) {
    if (val === undefined || val === null || val === false) continue;
    if (k === "class") e.className = val;
    else if (k === "text") e.textContent = val;
    else if (k.startsWith("on")) e.addEventListener(k.slice(2), val);
    else e.setAttribute(k, val === true ? "" : val);
  }
  for (const c of children.flat()) {
    if (c === null || c === undefined || c === false) continue;
    e.append(c instanceof Node ? c : document.createTextNode(String(c)));
  }
  return e;
}

const $ = (sel) => document.querySelector(sel);

// ---------------------------------------------------------------------------------
// Fetching: every failure becomes a VerifyError with a code the page can explain.

async function fetchRaw(path) {
  let r;
  try {
    r = await fetch(path, { cache: "no-store", headers: { accept: "application/json, text/plain" } });
  } catch (e) {
    throw new v.VerifyError("network", `${path}: ${e.message}`);
  }
  return r;
}

async function getJSON(path, { allow = [] } = {}) {
  const r = await fetchRaw(path);
  let body = null;
  try {
    body = await r.json();
  } catch {
    body = null;
  }
  if (!r.ok && !allow.includes(r.status)) {
    throw new v.VerifyError(
      "server_error",
      `${path}: HTTP ${r.status} ${body && body.error ? body.error : ""}`,
      { status: r.status, error: body && body.error },
    );
  }
  if (body === null && r.ok) throw new v.VerifyError("malformed", `${path}: not JSON`);
  return { status: r.status, body };
}

async function getText(path) {
  const r = await fetchRaw(path);
  if (!r.ok) throw new v.VerifyError("server_error", `${path}: HTTP ${r.status}`, { status: r.status });
  return r.text();
}

// ---------------------------------------------------------------------------------
// Trust anchors

function readStore(key) {
  try {
    return JSON.parse(localStorage.getItem(key) || "null");
  } catch {
    return null;
  }
}

function writeStore(key, value) {
  try {
    if (value === null) localStorage.removeItem(key);
    else localStorage.setItem(key, JSON.stringify(value));
  } catch {
    // Private browsing without storage: the page still verifies, it only forgets.
  }
}

let announcedCache = null;

/** GET /v1/log once per page load: what the server says about itself. */
async function announced() {
  if (!announcedCache) announcedCache = getJSON("/v1/log").then((r) => r.body);
  return announcedCache;
}

function serverTrust(info) {
  return {
    source: "server",
    since: new Date().toISOString(),
    log: info.verifier_key,
    witnesses: (info.witnesses || []).map((w) => ({ local: w.name, vkey: w.vkey })),
    quorum: info.witness_quorum || 0,
  };
}

/**
 * The trust anchors of this browser, parsed: {source, since, logKey, witnesses:
 * [{local, key}], policy (quorum tree over local names), quorumText, keyChanged}.
 * First visit: pins what the server announces (trust on first use), unless the user
 * loaded a union's policy file on the trust page.
 */
async function loadTrust() {
  const info = await announced();
  let stored = readStore(TRUST_KEY);
  if (!stored || !stored.log) {
    stored = serverTrust(info);
    writeStore(TRUST_KEY, stored);
  } else if (
    stored.source === "server" &&
    stored.log === info.verifier_key &&
    JSON.stringify(stored.witnesses) !== JSON.stringify(serverTrust(info).witnesses)
  ) {
    // Same log key, new witness set announced: follow it (witnesses come and go),
    // never lowering the quorum pinned before.
    stored = { ...serverTrust(info), since: stored.since, quorum: Math.max(stored.quorum, info.witness_quorum || 0) };
    writeStore(TRUST_KEY, stored);
  }
  const logKey = await v.parseVerifierKey(stored.log);
  const witnesses = [];
  for (const w of stored.witnesses) {
    try {
      witnesses.push({ local: w.local, key: await v.parseVerifierKey(w.vkey) });
    } catch {
      // A malformed announced witness key is ignored (and cannot count towards a quorum).
    }
  }
  let policy;
  if (stored.source === "policy") {
    policy = v.parsePolicy(stored.policyText).quorum;
  } else {
    policy = v.thresholdPolicy(witnesses.map((w) => w.local), stored.quorum);
  }
  return {
    ...stored,
    logKey,
    witnesses,
    policy,
    keyChanged: info.verifier_key !== stored.log ? info.verifier_key : null,
  };
}

/** Opens a checkpoint note with the trust anchors; adds the quorum verdict. */
async function openWithTrust(trust, note) {
  const cp = await v.openCheckpoint(note, trust.logKey, trust.witnesses.map((w) => w.key));
  const local = cp.cosigners.map((c) => trust.witnesses.find((w) => w.key === c.key)?.local);
  cp.quorumMet = v.quorumMet(trust.policy, local);
  cp.required = requiredCount(trust.policy);
  return cp;
}

function requiredCount(policy) {
  if (!policy) return 0;
  if (policy.witness !== undefined) return 1;
  return policy.members
    .map(requiredCount)
    .sort((a, b) => a - b)
    .slice(0, policy.k)
    .reduce((a, b) => a + b, 0);
}

// ---------------------------------------------------------------------------------
// The election's authorities, read from its sealing statement through the tiles

const authoritiesCache = new Map();

/**
 * The authorities of election `id`, proved in checkpoint `cp`: the `election`
 * statement is read from its C2SP entry bundle, its inclusion proof checked, and its
 * `authority` lines parsed. Returns {index, authorities}.
 */
async function provedAuthorities(id, cp) {
  const cacheKey = `${id}@${cp.size}`;
  if (authoritiesCache.has(cacheKey)) return authoritiesCache.get(cacheKey);
  const info = await getJSON(`/v1/elections/${encodeURIComponent(id)}`);
  const index = BigInt(info.body.state.sealed_at_index);
  if (index >= cp.size) throw new v.VerifyError("malformed", `election sealed at ${index}, beyond ${cp.size}`);
  const r = await fetchRaw(v.entryBundlePath(index, cp.size));
  if (!r.ok) throw new v.VerifyError("server_error", `entry bundle: HTTP ${r.status}`, { status: r.status });
  const entries = v.parseEntryBundle(new Uint8Array(await r.arrayBuffer()));
  const entry = entries[Number(index % 256n)];
  if (!entry) throw new v.VerifyError("malformed", "entry bundle too short");
  const p = await getJSON(`/v1/proof/inclusion?index=${index}&size=${cp.size}`);
  const proof = p.body.inclusion_proof.map(v.fromBase64);
  if (!(await v.verifyInclusion(index, cp.size, await v.leafHash(entry), proof, cp.root))) {
    throw new v.VerifyError("bad_inclusion_proof", `election statement ${index}`, { index: index.toString() });
  }
  const st = v.parseStatement(new TextDecoder().decode(entry));
  if (st.type !== "election" || st.fields.election !== id) {
    throw new v.VerifyError("malformed", `entry ${index} is not the sealing of ${id}`);
  }
  const out = { index, authorities: await v.electionAuthorities(st) };
  authoritiesCache.set(cacheKey, out);
  return out;
}

async function authorityStep(st, cp) {
  const { index, authorities } = await provedAuthorities(st.fields.election, cp);
  const signers = await v.verifyAuthority(st, authorities);
  return {
    ok: true,
    text: t("step.authority", {
      role: t(`role.${signers[0].role}`),
      name: signers.map((s) => s.name).join(", "),
      index: formatNumber(index),
    }),
  };
}

// ---------------------------------------------------------------------------------
// The last checkpoint seen, and consistency with it

/**
 * Checks that `cp` (verified) is consistent with the last checkpoint this browser
 * saw of the same log, by the one decision of urne-client (`v.decideConsistency`,
 * pinned by testdata/consistency); remembers the larger.
 * Returns {status: first|same|consistent|inconsistent|unverified, previous, detail}.
 */
async function checkSeen(cp, trust) {
  const seen = readStore(SEEN_KEY);
  const remember = () =>
    writeStore(SEEN_KEY, {
      origin: cp.origin,
      size: cp.size.toString(),
      root: v.toBase64(cp.root),
      note: cp.note,
      at: new Date().toISOString(),
    });
  if (!seen || seen.origin !== cp.origin || !seen.note) {
    remember();
    return { status: "first" };
  }
  const prevSize = BigInt(seen.size);
  const evidence = (detail, ev) => {
    writeStore(EVIDENCE_KEY, { at: new Date().toISOString(), detail, seen: seen.note, shown: cp.note, evidence: ev });
    return { status: "inconsistent", previous: seen, detail };
  };
  let refused = false;
  let d;
  try {
    // "elsewhere": a mirror may lag behind the log this browser saw, so a smaller
    // tree is judged by a proof that it is a prefix, which a rolled-back log cannot
    // give. The cosignatures were checked when `cp` was opened.
    d = await v.decideConsistency({ logKey: trust.logKey, witnessKeys: [], policy: null }, seen.note, cp.note, "elsewhere", async (o, n) => {
      const r = await getJSON(`/v1/proof/consistency?old=${o}&new=${n}`, { allow: [400] });
      if (r.status === 400) {
        refused = true;
        return null;
      }
      try {
        return r.body.consistency_proof.map(v.fromBase64);
      } catch {
        return [];
      }
    });
  } catch (e) {
    return { status: "unverified", previous: seen, detail: e.code };
  }
  if (d.outcome === "consistent" || d.outcome === "quorum_not_met") {
    if (cp.size > prevSize) remember();
    return { status: cp.size === prevSize ? "same" : "consistent", previous: seen };
  }
  // The log no longer has the larger tree this browser saw: it rolled back.
  if (refused) return evidence("rollback", d.evidence);
  if (cp.size === prevSize) return evidence("fork_same_size", d.evidence);
  return evidence("bad_consistency_proof", d.evidence);
}

// ---------------------------------------------------------------------------------
// Verdict rendering

function verdictBox(kind, title, sentence, steps = [], extra = []) {
  const icon = { ok: "✔", fail: "✖", warn: "⚠", info: "ℹ" }[kind];
  return el(
    "div",
    { class: `verdict ${kind}`, "data-verdict": kind },
    el("p", { class: "verdict-title" }, el("span", { class: "icon", "aria-hidden": "true" }, icon), " ", title),
    sentence ? el("p", { class: "verdict-sentence" }, sentence) : null,
    steps.length
      ? el(
          "ul",
          { class: "steps", "aria-label": t("steps.label") },
          steps.map((s) =>
            el(
              "li",
              { class: s.ok === true ? "ok" : s.ok === false ? "fail" : "warn" },
              el("span", { class: "icon", "aria-hidden": "true" }, s.ok === true ? "✔" : s.ok === false ? "✖" : "⚠"),
              " ",
              s.text,
            ),
          ),
        )
      : null,
    extra,
  );
}

function errorText(e) {
  if (e instanceof v.VerifyError) {
    const key = `err.${e.code}`;
    const msg = t(key, e.params);
    return msg === key ? t("err.generic", { detail: e.detail }) : msg;
  }
  return t("err.generic", { detail: String(e && e.message ? e.message : e) });
}

function seenStep(seen) {
  switch (seen.status) {
    case "first":
      return { ok: true, text: t("seen.first") };
    case "same":
      return { ok: true, text: t("seen.same", { at: formatTime(seen.previous.at) }) };
    case "consistent":
      return { ok: true, text: t("seen.consistent", { size: formatNumber(seen.previous.size), at: formatTime(seen.previous.at) }) };
    case "unverified":
      return { ok: null, text: t("seen.unverified") };
    default:
      return { ok: false, text: t(`seen.${seen.detail}`, { size: formatNumber(seen.previous.size), at: formatTime(seen.previous.at) }) };
  }
}

function witnessStep(cp) {
  const names = cp.cosigners.map((c) => c.name).join(", ");
  if (cp.required === 0 && cp.cosigners.length === 0) return { ok: true, text: t("step.no_witness_needed") };
  return {
    ok: cp.quorumMet ? true : null,
    text: t(cp.quorumMet ? "step.witnesses" : "step.witnesses_missing", {
      n: cp.cosigners.length,
      required: cp.required,
      names: names || "—",
    }),
  };
}

function checkpointDetails(cp) {
  return el(
    "details",
    { class: "checkpoint" },
    el("summary", { text: t("details.checkpoint", { size: formatNumber(cp.size) }) }),
    el("pre", { text: cp.note }),
    cp.cosigners.length
      ? el(
          "ul",
          {},
          cp.cosigners.map((c) =>
            el("li", { text: t("details.cosigned", { name: c.name, at: formatTime(new Date(c.time * 1000)) }) }),
          ),
        )
      : null,
  );
}

function trustBanner(trust) {
  if (trust.keyChanged) {
    return verdictBox("fail", t("trust.changed.title"), t("trust.changed.text", { key: trust.keyChanged }));
  }
  return null;
}

// ---------------------------------------------------------------------------------
// View: check my receipt

let lastReceipt = null;

async function verifyReceipt(code) {
  const steps = [];
  const trust = await loadTrust();
  const r = await getJSON(`/v1/receipts/${code}`, { allow: [404] });
  if (r.status === 404) return { kind: "not_found", trust };
  const a = r.body;
  // 1. The checkpoint: the log's signature and the witnesses' cosignatures.
  const cp = await openWithTrust(trust, a.checkpoint);
  steps.push({ ok: true, text: t("step.log_signature", { origin: cp.origin, size: formatNumber(cp.size) }) });
  steps.push(witnessStep(cp));
  // 2. The entry is in that tree: leaf hash of the bytes, RFC 9162 inclusion proof.
  if (typeof a.entry !== "string" || !Number.isSafeInteger(a.index)) throw new v.VerifyError("malformed", "answer without entry or index");
  const entry = v.utf8(a.entry);
  const leaf = await v.leafHash(entry);
  let proof;
  try {
    proof = a.inclusion_proof.map(v.fromBase64);
  } catch {
    throw new v.VerifyError("bad_inclusion_proof", "proof is not base64 hashes");
  }
  if (!(await v.verifyInclusion(a.index, cp.size, leaf, proof, cp.root))) {
    throw new v.VerifyError("bad_inclusion_proof", `leaf ${a.index} not in tree ${cp.size}`, { index: a.index });
  }
  steps.push({ ok: true, text: t("step.inclusion", { index: formatNumber(a.index), n: proof.length }) });
  // 3. The entry says what the receipt says.
  const st = v.parseStatement(a.entry);
  if (st.type !== "ballot" || st.fields.receipt !== code) {
    throw new v.VerifyError("wrong_entry", `entry ${a.index} is a ${st.type} without this receipt`, { index: a.index });
  }
  steps.push({ ok: true, text: t("step.ballot", { election: st.fields.election, scrutin: st.fields.scrutin }) });
  // 3b. Revoting (`revote last`): a later ballot of the voter supersedes this one.
  const superseded = a.superseded_by ? await v.checkSuperseded(a.superseded_by, a.index, st, cp) : null;
  if (superseded) {
    steps.push({
      ok: false,
      text: t("step.superseded", { index: formatNumber(superseded.index), time: formatTime(superseded.time) }),
    });
  }
  // 4. Signed by the voting platform's key that the sealed election names.
  steps.push(await authorityStep(st, cp));
  // 5. Consistent with what this browser saw before.
  const seen = await checkSeen(cp, trust);
  steps.push(seenStep(seen));
  return { kind: "found", trust, cp, steps, seen, index: a.index, st, tlogProof: a.tlog_proof, code, superseded };
}

function renderReceipt(res) {
  const out = $("#receipt-result");
  out.replaceChildren();
  if (!res) return;
  const banner = res.trust ? trustBanner(res.trust) : null;
  if (res.kind === "invalid") {
    out.append(verdictBox("fail", t("verify.invalid.title"), t("verify.invalid.text")));
  } else if (res.kind === "not_found") {
    out.append(verdictBox("fail", t("verify.not_found.title"), t("verify.not_found.text", { code: res.code })));
  } else if (res.kind === "error") {
    out.append(verdictBox("fail", t("verify.failed.title"), errorText(res.error), res.steps || []));
  } else {
    const witnessed = res.cp.quorumMet;
    const inconsistent = res.seen.status === "inconsistent";
    const kind = inconsistent ? "fail" : witnessed && !res.superseded ? "ok" : "warn";
    const title = inconsistent
      ? t("verify.inconsistent.title")
      : res.superseded
        ? t("verify.superseded.title")
        : witnessed
          ? t("verify.ok.title")
          : t("verify.pending.title");
    const sentence = t(witnessed ? "verify.ok.sentence" : "verify.pending.sentence", {
      index: formatNumber(res.index),
      size: formatNumber(res.cp.size),
      k: res.cp.cosigners.length,
      time: formatTime(res.st.fields.time),
      scrutin: res.st.fields.scrutin,
    });
    const download = res.tlogProof
      ? el(
          "p",
          {},
          el("a", {
            class: "button-link",
            download: `urne-recu-${res.code.slice(0, 12)}.tlog-proof`,
            href: URL.createObjectURL(new Blob([res.tlogProof], { type: "text/plain" })),
            text: t("verify.download"),
          }),
          " ",
          el("span", { class: "help", text: t("verify.download.help") }),
        )
      : null;
    out.append(verdictBox(kind, title, sentence, res.steps, [download, checkpointDetails(res.cp)]));
  }
  if (banner) out.prepend(banner);
}

async function runReceipt(raw) {
  // Hex, or the voting system's own form (a Belenios tracker may start with `/`).
  let code = null;
  try {
    code = v.parseReceipt(raw || "").hex;
  } catch {
    code = null;
  }
  const out = $("#receipt-result");
  if (!code || !v.isTag(code)) {
    lastReceipt = { kind: "invalid" };
    renderReceipt(lastReceipt);
    return;
  }
  out.replaceChildren(el("p", { class: "busy", text: t("busy") }));
  out.setAttribute("aria-busy", "true");
  try {
    lastReceipt = await verifyReceipt(code);
    lastReceipt.code = code;
    // A ballot just recorded may wait a few seconds for the witnesses' cosignatures.
    for (let i = 0; i < 3 && lastReceipt.kind === "found" && !lastReceipt.cp.quorumMet; i++) {
      await new Promise((ok) => setTimeout(ok, 2000));
      lastReceipt = { ...(await verifyReceipt(code)), code };
    }
  } catch (e) {
    lastReceipt = { kind: "error", error: e, code };
  }
  out.removeAttribute("aria-busy");
  renderReceipt(lastReceipt);
}

// ---------------------------------------------------------------------------------
// View: my credential history

let lastHistory = null;

// Pages of a voter's history the page follows before it gives up (each page scans up
// to 1,000 entries filed under the tag): a longer history is reported as incomplete,
// never shown as complete.
const MAX_HISTORY_PAGES = 50;

async function voterHistory(tag) {
  const trust = await loadTrust();
  // The log lists a voter's entries a page at a time; `next` is where the following
  // page starts, `null` after the last. Every page is followed: a list that does not
  // say it is complete is an error, never a history shown as whole.
  const pages = [];
  let cursor = 0;
  for (;;) {
    if (pages.length >= MAX_HISTORY_PAGES) {
      throw new v.VerifyError("incomplete_history", `more than ${MAX_HISTORY_PAGES} pages of entries for this voter`, {
        detail: `> ${MAX_HISTORY_PAGES} pages`,
      });
    }
    const r = await getJSON(`/v1/voters/${tag}?cursor=${cursor}`);
    const page = r.body;
    pages.push(page);
    if (!("next" in page)) {
      throw new v.VerifyError("incomplete_history", "the log does not say whether the list of entries is complete", {
        detail: "no next",
      });
    }
    if (page.next === null) break;
    if (typeof page.next !== "number" || page.next <= cursor) {
      throw new v.VerifyError("incomplete_history", `the log's next page (${page.next}) does not move past ${cursor}`, {
        detail: `next ${page.next}`,
      });
    }
    cursor = page.next;
  }
  // Every page's checkpoint is verified; the largest is the one shown, and each
  // other one must be consistent with it (checked by checkSeen below for the shown).
  let cp = null;
  const listed = [];
  for (const page of pages) {
    const pcp = await openWithTrust(trust, page.checkpoint);
    for (const e of page.entries || []) listed.push({ e, cp: pcp });
    if (!cp || pcp.size > cp.size) cp = pcp;
  }
  for (const { cp: pcp } of listed) {
    if (pcp.size < cp.size) {
      const c = await getJSON(`/v1/proof/consistency?old=${pcp.size}&new=${cp.size}`);
      const proof = (c.body.consistency_proof || []).map(v.fromBase64);
      if (!(await v.verifyConsistency(pcp.size, cp.size, proof, pcp.root, cp.root))) {
        throw new v.VerifyError("inconsistent", `checkpoints ${pcp.size} and ${cp.size} of one history disagree`);
      }
    }
  }
  const steps = [{ ok: true, text: t("step.log_signature", { origin: cp.origin, size: formatNumber(cp.size) }) }, witnessStep(cp)];
  const creds = new Set();
  // Voters with a credential, per election: a second one is a reissue whatever its
  // stated reason (the log's rules say the same).
  const issued = new Set();
  const events = [];
  let lastIndex = -1;
  for (const { e, cp: pcp } of listed) {
    const leaf = await v.leafHash(v.utf8(e.entry));
    const proof = e.inclusion_proof.map(v.fromBase64);
    if (!(await v.verifyInclusion(e.index, pcp.size, leaf, proof, pcp.root))) {
      throw new v.VerifyError("bad_inclusion_proof", `leaf ${e.index} not in tree ${pcp.size}`, { index: e.index });
    }
    const st = v.parseStatement(e.entry);
    const f = st.fields;
    let reissue = false;
    if (st.type === "credential" && f.voter === tag) {
      const key = `${f.election}\n${f.voter}`;
      reissue = issued.has(key);
      issued.add(key);
    }
    // Every entry listed must be about this voter: a credential issued to the tag, or
    // a revocation or ballot of one of those credentials (listed after its issue).
    if (st.type === "credential" && f.voter === tag) creds.add(f.credential);
    else if (!((st.type === "revoke" || st.type === "ballot") && creds.has(f.credential))) {
      throw new v.VerifyError("foreign_entry", `entry ${e.index} is not about this voter`, { index: e.index });
    }
    // Pages follow each other: an entry listed twice or out of order is a log that
    // does not give one complete list.
    if (e.index <= lastIndex) {
      throw new v.VerifyError("incomplete_history", `entry ${e.index} listed out of order`, { detail: `entry ${e.index}` });
    }
    lastIndex = e.index;
    const { authorities } = await provedAuthorities(f.election, cp);
    await v.verifyAuthority(st, authorities);
    events.push({ index: e.index, type: st.type, f, time: Date.parse(f.time), reissue });
  }
  steps.push({ ok: true, text: t("step.history_proofs", { n: events.length }) });
  // Warnings: what the voter may not have done.
  const warnings = [];
  let lastReissue = null;
  for (const ev of events) {
    if (ev.type === "credential" && (ev.reissue || ev.f.reason !== "initial")) {
      lastReissue = ev;
      warnings.push({
        kind: ev.f.channel === "helpdesk" ? "fail" : "warn",
        text: t(ev.f.channel === "helpdesk" ? "history.warn.helpdesk" : "history.warn.reissue", {
          time: formatTime(ev.f.time),
          channel: t(`channel.${ev.f.channel}`),
          reason: t(`reason.${ev.f.reason}`),
        }),
      });
    }
    if (ev.type === "ballot" && lastReissue && ev.f.credential === lastReissue.f.credential) {
      const minutes = (ev.time - lastReissue.time) / 60000;
      if (minutes >= 0 && minutes <= REISSUE_THEN_VOTE_MINUTES) {
        warnings.push({
          kind: "fail",
          text: t("history.warn.vote_after_reissue", {
            minutes: Math.round(minutes),
            time: formatTime(ev.f.time),
            scrutin: ev.f.scrutin,
          }),
        });
      }
    }
  }
  const seen = await checkSeen(cp, trust);
  steps.push(seenStep(seen));
  return { trust, cp, steps, events, warnings, seen, tag };
}

function eventRow(ev) {
  const f = ev.f;
  let what;
  let detail;
  if (ev.type === "credential") {
    what = t(f.reason === "initial" && !ev.reissue ? "event.credential" : "event.reissue");
    detail = `${t(`channel.${f.channel}`)} — ${t(`reason.${f.reason}`)}`;
  } else if (ev.type === "revoke") {
    what = t("event.revoke");
    detail = f.reason;
  } else {
    what = t("event.ballot");
    detail = t("event.ballot.detail", { scrutin: f.scrutin });
  }
  return el(
    "tr",
    { "data-type": ev.type },
    el("td", { text: formatTime(f.time) }),
    el("td", { text: what }),
    el("td", { text: detail }),
    el("td", { class: "num", text: formatNumber(ev.index) }),
    el("td", { class: "mono nowrap", title: f.credential, text: `${f.credential.slice(0, 10)}…` }),
  );
}

function renderHistory(res) {
  const out = $("#history-result");
  out.replaceChildren();
  if (!res) return;
  if (res.kind === "invalid") {
    out.append(verdictBox("fail", t("history.invalid.title"), t("history.invalid.text")));
    return;
  }
  if (res.kind === "error") {
    out.append(verdictBox("fail", t("history.failed.title"), errorText(res.error)));
    return;
  }
  const banner = trustBanner(res.trust);
  if (banner) out.append(banner);
  const inconsistent = res.seen.status === "inconsistent";
  if (res.events.length === 0) {
    out.append(verdictBox(inconsistent ? "fail" : "info", t("history.empty.title"), t("history.empty.text"), res.steps));
    return;
  }
  const kind = inconsistent ? "fail" : res.warnings.some((w) => w.kind === "fail") ? "fail" : res.warnings.length ? "warn" : "ok";
  const credentials = res.events.filter((e) => e.type === "credential").length;
  const ballots = res.events.filter((e) => e.type === "ballot").length;
  out.append(
    verdictBox(
      kind,
      t(kind === "ok" ? "history.ok.title" : "history.warn.title"),
      t("history.sentence", { credentials, ballots, size: formatNumber(res.cp.size), k: res.cp.cosigners.length }),
      res.steps,
      [checkpointDetails(res.cp)],
    ),
  );
  if (res.warnings.length) {
    out.append(
      el(
        "div",
        { class: "warnings", role: "alert" },
        el("h2", { text: t("history.warnings") }),
        el("ul", {}, res.warnings.map((w) => el("li", { class: w.kind, text: w.text }))),
        el("p", { class: "help", text: t("history.warn.advice") }),
      ),
    );
  }
  out.append(
    el("h2", { text: t("history.table.title") }),
    el(
      "div",
      { class: "table-wrap" },
      el(
        "table",
        { class: "history" },
        el("caption", { class: "sr-only", text: t("history.table.caption") }),
        el(
          "thead",
          {},
          el(
            "tr",
            {},
            ["col.time", "col.event", "col.detail", "col.index", "col.credential"].map((k) => el("th", { scope: "col", text: t(k) })),
          ),
        ),
        el("tbody", {}, res.events.map(eventRow)),
      ),
    ),
    el("p", { class: "help", text: t("history.completeness") }),
  );
}

async function runHistory(raw) {
  const tag = (raw || "").trim().toLowerCase();
  const out = $("#history-result");
  if (!v.isTag(tag)) {
    lastHistory = { kind: "invalid" };
    renderHistory(lastHistory);
    return;
  }
  out.replaceChildren(el("p", { class: "busy", text: t("busy") }));
  out.setAttribute("aria-busy", "true");
  try {
    lastHistory = await voterHistory(tag);
  } catch (e) {
    lastHistory = { kind: "error", error: e };
  }
  out.removeAttribute("aria-busy");
  renderHistory(lastHistory);
}

// ---------------------------------------------------------------------------------
// View: dashboard

let dashboardTimer = null;
let lastDashboard = null;
const charts = [];

async function loadDashboard() {
  const trust = await loadTrust();
  const [note, info, list, equivocations] = await Promise.all([
    getText("/checkpoint"),
    getJSON("/v1/log").then((r) => r.body),
    getJSON("/v1/elections").then((r) => r.body),
    getJSON("/v1/gossip/equivocations", { allow: [404] }).then((r) => (r.status === 404 ? null : r.body)),
  ]);
  const cp = await openWithTrust(trust, note);
  const seen = await checkSeen(cp, trust);
  const alerts = [];
  if (trust.keyChanged) alerts.push({ kind: "fail", text: t("trust.changed.text", { key: trust.keyChanged }) });
  if (seen.status === "inconsistent") {
    alerts.push({ kind: "fail", text: t(`seen.${seen.detail}`, { size: formatNumber(seen.previous.size), at: formatTime(seen.previous.at) }) });
  }
  for (const ev of equivocations || []) {
    try {
      await v.verifyEquivocation(ev, trust.logKey);
      alerts.push({ kind: "fail", text: t("alert.equivocation", { reason: ev.reason, source: ev.source }), evidence: ev });
    } catch {
      alerts.push({ kind: "warn", text: t("alert.bad_evidence", { source: ev.source || "?" }) });
    }
  }
  for (const w of info.witnesses || []) {
    if (w.last_error) alerts.push({ kind: "warn", text: t("alert.witness_down", { name: w.name, error: w.last_error }) });
  }
  if (!cp.quorumMet) alerts.push({ kind: "warn", text: t("alert.quorum", { n: cp.cosigners.length, required: cp.required }) });
  const elections = (list.elections || []).map((e) => electionSummary(e));
  for (const e of elections) {
    for (const [hour, n] of e.reissueHours) {
      if (n > REISSUE_BURST_PER_HOUR) {
        alerts.push({ kind: "warn", text: t("alert.burst", { election: e.id, n, hour: formatTime(new Date(hour * 1000)) }) });
      }
    }
    for (const s of e.suspensions) {
      alerts.push({
        kind: "info",
        text: s.end
          ? t("alert.suspension", { election: e.id, from: formatTime(s.start), to: formatTime(s.end), reason: s.reason || "" })
          : t("alert.suspended_now", { election: e.id, from: formatTime(s.start), reason: s.reason || "" }),
      });
    }
  }
  return { trust, cp, seen, info, treeSize: list.tree_size, elections, alerts, equivocationsServed: equivocations !== null };
}

function electionSummary(e) {
  const s = e.stats || {};
  const timeline = s.timeline || [];
  const suspensions = [];
  for (const ev of timeline) {
    if (ev.kind === "suspend") suspensions.push({ start: ev.time, reason: ev.reason, end: null });
    if (ev.kind === "resume" && suspensions.length && !suspensions[suspensions.length - 1].end) {
      suspensions[suspensions.length - 1].end = ev.time;
    }
  }
  const reissueHours = Object.entries(s.reissues_per_hour || {}).map(([h, chans]) => [
    Number(h),
    Object.values(chans).reduce((a, b) => a + b, 0),
  ]);
  const title = timeline.find((ev) => ev.kind === "election")?.reason || e.id;
  return { id: e.id, title, phase: e.state.phase, counts: s.counts || {}, stats: s, timeline, suspensions, reissueHours, state: e.state };
}

function destroyCharts() {
  while (charts.length) charts.pop().destroy();
}

/** Hourly buckets from the first to the last hour present, zeros filled in. */
function hourAxis(...maps) {
  const hours = maps.flatMap((m) => Object.keys(m || {}).map(Number));
  if (hours.length === 0) return [];
  const lo = Math.min(...hours);
  const hi = Math.max(...hours);
  const xs = [];
  for (let h = lo; h <= hi && xs.length < 24 * 60; h += 3600) xs.push(h);
  return xs;
}

const CHANNEL_COLORS = {
  mail: "#1f6feb",
  postal: "#8250df",
  sms: "#1a7f37",
  helpdesk: "#cf222e",
  "in-person": "#9a6700",
  batch: "#57606a",
};

function suspensionBands(suspensions) {
  // Shades each suspension interval behind the series: when the ballot was stopped.
  return {
    drawClear: [
      (u) => {
        const { ctx } = u;
        ctx.save();
        ctx.fillStyle = "rgba(207, 34, 46, 0.12)";
        for (const s of suspensions) {
          const a = Date.parse(s.start) / 1000;
          const b = s.end ? Date.parse(s.end) / 1000 : u.scales.x.max;
          const x0 = u.valToPos(a, "x", true);
          const x1 = u.valToPos(b, "x", true);
          ctx.fillRect(x0, u.bbox.top, Math.max(2, x1 - x0), u.bbox.height);
        }
        ctx.restore();
      },
    ],
  };
}

function chartBox(id, titleKey, descKey, table) {
  return el(
    "figure",
    { class: "chart" },
    el("figcaption", { id: `${id}-title`, text: t(titleKey) }),
    el("div", { id, class: "chart-canvas", role: "img", "aria-labelledby": `${id}-title`, "aria-describedby": `${id}-desc` }),
    el("p", { id: `${id}-desc`, class: "help", text: t(descKey) }),
    table,
  );
}

function dataTable(captionKey, headers, rows) {
  return el(
    "details",
    { class: "data" },
    el("summary", { text: t("chart.data") }),
    el(
      "div",
      { class: "table-wrap" },
      el(
        "table",
        {},
        el("caption", { text: t(captionKey) }),
        el("thead", {}, el("tr", {}, headers.map((h) => el("th", { scope: "col", text: h })))),
        el("tbody", {}, rows.map((r) => el("tr", {}, r.map((c, i) => el("td", { class: i ? "num" : "", text: c }))))),
      ),
    ),
  );
}

function plot(container, opts, data) {
  if (typeof uPlot === "undefined") {
    container.append(el("p", { class: "help", text: t("chart.unavailable") }));
    return;
  }
  const width = Math.max(280, container.clientWidth || 600);
  const u = new uPlot({ width, height: 220, ...opts }, data, container);
  charts.push(u);
}

function renderElection(e) {
  const s = e.stats;
  const ballotsId = `ballots-${e.id}`;
  const reissuesId = `reissues-${e.id}`;
  const xsB = hourAxis(s.ballots_per_hour, s.reissues_per_hour);
  const ballots = xsB.map((h) => s.ballots_per_hour?.[h] || 0);
  const channels = [...new Set(Object.values(s.reissues_per_hour || {}).flatMap((c) => Object.keys(c)))].sort();
  const perChannel = channels.map((ch) => xsB.map((h) => s.reissues_per_hour?.[h]?.[ch] || 0));
  const hourLabel = (h) => formatTime(new Date(h * 1000));
  const count = (k) => formatNumber(e.counts[k] || 0);
  const reissues = Object.values(s.reissues_per_hour || {}).reduce((a, c) => a + Object.values(c).reduce((x, y) => x + y, 0), 0);

  const card = el(
    "section",
    { class: "election", "aria-labelledby": `title-${e.id}`, "data-election": e.id },
    el(
      "header",
      {},
      el("h2", { id: `title-${e.id}`, text: e.title }),
      el("span", { class: `phase phase-${e.phase}`, "data-phase": e.phase, text: t(`phase.${e.phase}`) }),
    ),
    el("p", { class: "help mono", text: e.id }),
    el(
      "dl",
      { class: "counts" },
      [
        ["count.ballots", count("ballot")],
        ["count.credentials", count("credential")],
        ["count.reissues", formatNumber(reissues)],
        ["count.revocations", count("revoke")],
        ["count.suspensions", count("suspend")],
        ["count.interventions", count("intervention")],
      ].map(([k, n]) => el("div", {}, el("dt", { text: t(k) }), el("dd", { text: n }))),
    ),
    chartBox(
      ballotsId,
      "chart.ballots",
      "chart.ballots.desc",
      dataTable("chart.ballots", [t("col.hour"), t("count.ballots")], xsB.map((h, i) => [hourLabel(h), formatNumber(ballots[i])])),
    ),
    chartBox(
      reissuesId,
      "chart.reissues",
      "chart.reissues.desc",
      dataTable(
        "chart.reissues",
        [t("col.hour"), ...channels.map((c) => t(`channel.${c}`))],
        xsB.map((h, i) => [hourLabel(h), ...perChannel.map((p) => formatNumber(p[i]))]),
      ),
    ),
    el("h3", { text: t("timeline.title") }),
    el(
      "ol",
      { class: "timeline" },
      e.timeline.map((ev) =>
        el(
          "li",
          { class: `tl-${ev.kind}` },
          el("time", { datetime: ev.time, text: formatTime(ev.time) }),
          " ",
          el("strong", { text: t(`kind.${ev.kind}`) }),
          ev.reason ? ` — ${ev.reason}` : "",
          el("span", { class: "help", text: ` (#${formatNumber(ev.index)})` }),
        ),
      ),
    ),
  );
  return {
    card,
    draw: () => {
      if (xsB.length === 0) return;
      const bars = typeof uPlot !== "undefined" ? uPlot.paths.bars({ size: [0.8, 40] }) : undefined;
      plot(
        card.querySelector(`[id="${ballotsId}"]`),
        {
          hooks: suspensionBands(e.suspensions),
          scales: { x: { time: true, range: hourRange(xsB) } },
          axes: timeAxes(),
          series: [
            timeSeries(),
            { label: t("count.ballots"), stroke: "#1f6feb", fill: "rgba(31,111,235,0.35)", paths: bars, points: { show: false } },
          ],
        },
        [xsB, ballots],
      );
      if (channels.length) {
        // Stacked bars: series k is the sum of channels k..n, drawn from the tallest,
        // so each channel shows as its own band; the legend shows each channel's own count.
        const stacked = perChannel.map((_, k) => xsB.map((_, i) => perChannel.slice(k).reduce((a, p) => a + p[i], 0)));
        plot(
          card.querySelector(`[id="${reissuesId}"]`),
          {
            hooks: suspensionBands(e.suspensions),
            scales: { x: { time: true, range: hourRange(xsB) } },
            axes: timeAxes(),
            series: [
              timeSeries(),
              ...channels.map((c, k) => ({
                label: t(`channel.${c}`),
                stroke: CHANNEL_COLORS[c] || "#444",
                fill: CHANNEL_COLORS[c] || "#444",
                paths: bars,
                points: { show: false },
                value: (u, v, si, i) => (i === null || i === undefined ? "–" : formatNumber(perChannel[k][i])),
              })),
            ],
          },
          [xsB, ...stacked],
        );
      } else {
        card.querySelector(`[id="${reissuesId}"]`).append(el("p", { class: "help", text: t("chart.no_reissue") }));
      }
    },
  };
}

/** The x range of an hourly chart: the hours shown, half an hour each side, and at
 * least six hours wide (uPlot would otherwise zoom a single hour out to years). */
function hourRange(xs) {
  const lo = xs[0] - 1800;
  const hi = Math.max(xs[xs.length - 1] + 1800, lo + 6 * 3600);
  return [lo, hi];
}

const localeTag = () => (lang() === "fr" ? "fr-FR" : "en-GB");

/** Time axis labels in the page's language and the browser's time zone. */
function timeAxes() {
  const hm = new Intl.DateTimeFormat(localeTag(), { hour: "2-digit", minute: "2-digit" });
  const dm = new Intl.DateTimeFormat(localeTag(), { day: "numeric", month: "short" });
  return [
    {
      values: (u, vals) =>
        vals.map((v, i) => {
          const d = new Date(v * 1000);
          const prev = i > 0 ? new Date(vals[i - 1] * 1000) : null;
          return !prev || prev.toDateString() !== d.toDateString() ? `${hm.format(d)}\n${dm.format(d)}` : hm.format(d);
        }),
    },
    {},
  ];
}

function timeSeries() {
  return { label: t("col.hour"), value: (u, v) => (v === null || v === undefined ? "–" : formatTime(new Date(v * 1000))) };
}

function renderDashboard(res) {
  const out = $("#dashboard-result");
  destroyCharts();
  out.replaceChildren();
  if (!res) return;
  if (res.kind === "error") {
    out.append(verdictBox("fail", t("dashboard.failed.title"), errorText(res.error)));
    return;
  }
  const cp = res.cp;
  out.append(
    el(
      "section",
      { class: "log-head", "aria-labelledby": "log-head-title" },
      el("h2", { id: "log-head-title", text: t("dashboard.log") }),
      el(
        "dl",
        { class: "counts" },
        el("div", {}, el("dt", { text: t("dashboard.tree_size") }), el("dd", { id: "tree-size", text: formatNumber(res.treeSize) })),
        el("div", {}, el("dt", { text: t("dashboard.checkpoint_size") }), el("dd", { text: formatNumber(cp.size) })),
        el("div", {}, el("dt", { text: t("dashboard.witnesses") }), el("dd", { id: "witness-count", text: `${cp.cosigners.length} / ${cp.required}` })),
      ),
      el("p", {}, witnessStep(cp).text),
      el("p", {}, seenStep(res.seen).text),
      checkpointDetails(cp),
    ),
    el(
      "section",
      { class: "alerts", "aria-labelledby": "alerts-title" },
      el("h2", { id: "alerts-title", text: t("dashboard.alerts") }),
      res.alerts.length
        ? el("ul", {}, res.alerts.map((a) => el("li", { class: a.kind, "data-alert": a.kind }, a.text, a.evidence ? el("details", {}, el("summary", { text: t("alert.evidence") }), el("pre", { text: `${a.evidence.note_a}\n${a.evidence.note_b}` })) : null)))
        : el("p", { text: t("dashboard.no_alert") }),
      el("p", { class: "help", text: t(res.equivocationsServed ? "dashboard.gossip" : "dashboard.no_gossip") }),
      el("p", { class: "help", text: t("dashboard.stats_note") }),
    ),
  );
  if (res.elections.length === 0) out.append(el("p", { text: t("dashboard.no_election") }));
  const drawn = res.elections.map(renderElection);
  for (const d of drawn) out.append(d.card);
  for (const d of drawn) d.draw();
}

async function refreshDashboard(full) {
  try {
    if (full || !lastDashboard || lastDashboard.kind === "error") {
      lastDashboard = await loadDashboard();
      renderDashboard(lastDashboard);
    } else {
      // Live: the tree size every few seconds; everything else when it changed.
      const s = await getJSON("/v1/stats");
      if (s.body.tree_size !== lastDashboard.treeSize) {
        lastDashboard = await loadDashboard();
        renderDashboard(lastDashboard);
      }
    }
  } catch (e) {
    lastDashboard = { kind: "error", error: e };
    renderDashboard(lastDashboard);
  }
}

// ---------------------------------------------------------------------------------
// View: trust anchors

async function renderTrust() {
  const out = $("#trust-result");
  out.replaceChildren();
  let trust;
  try {
    trust = await loadTrust();
  } catch (e) {
    out.append(verdictBox("fail", t("trust.failed"), errorText(e)));
    return;
  }
  const seen = readStore(SEEN_KEY);
  const evidence = readStore(EVIDENCE_KEY);
  out.append(
    trustBanner(trust) || "",
    el(
      "dl",
      { class: "trust" },
      el("dt", { text: t("trust.source") }),
      el("dd", { text: t(`trust.source.${trust.source}`, { since: formatTime(trust.since) }) }),
      el("dt", { text: t("trust.log_key") }),
      el("dd", { class: "mono", text: trust.logKey.text }),
      el("dt", { text: t("trust.witnesses") }),
      el(
        "dd",
        {},
        trust.witnesses.length ? el("ul", {}, trust.witnesses.map((w) => el("li", { class: "mono", text: w.key.text }))) : t("trust.no_witness"),
      ),
      el("dt", { text: t("trust.quorum") }),
      el("dd", { text: String(requiredCount(trust.policy)) }),
      el("dt", { text: t("trust.seen") }),
      el("dd", { text: seen ? t("trust.seen.value", { size: formatNumber(seen.size), at: formatTime(seen.at) }) : "—" }),
    ),
    evidence
      ? el(
          "div",
          { class: "verdict fail" },
          el("p", { class: "verdict-title", text: t("trust.evidence", { at: formatTime(evidence.at) }) }),
          el("pre", { text: `${evidence.seen}\n${evidence.shown}` }),
        )
      : "",
  );
}

async function applyPolicy(text) {
  const msg = $("#policy-message");
  try {
    const p = v.parsePolicy(text);
    if (p.logs.length === 0) throw new v.VerifyError("bad_policy", "no log line", {});
    const info = await announced();
    const logVkey = p.logs.find((l) => l.split("+")[0] === info.origin) || p.logs[0];
    await v.parseVerifierKey(logVkey);
    for (const w of p.witnesses) await v.parseVerifierKey(w.vkey);
    writeStore(TRUST_KEY, {
      source: "policy",
      since: new Date().toISOString(),
      log: logVkey,
      witnesses: p.witnesses.map((w) => ({ local: w.name, vkey: w.vkey })),
      policyText: text,
    });
    msg.replaceChildren(verdictBox("ok", t("trust.policy.ok"), ""));
  } catch (e) {
    msg.replaceChildren(verdictBox("fail", t("trust.policy.bad"), errorText(e)));
  }
  renderTrust();
}

// ---------------------------------------------------------------------------------
// Routing

const VIEWS = ["verifier", "identifiant", "tableau", "confiance"];

function route() {
  const [, view = "verifier", arg = ""] = (location.hash || "#/verifier").split("/");
  const name = VIEWS.includes(view) ? view : "verifier";
  for (const n of VIEWS) {
    $(`#view-${n}`).hidden = n !== name;
    const link = document.querySelector(`nav a[data-tab="${n}"]`);
    if (n === name) link.setAttribute("aria-current", "page");
    else link.removeAttribute("aria-current");
  }
  clearInterval(dashboardTimer);
  dashboardTimer = null;
  document.title = `${t(`tab.${name}`)} — urne`;
  if (name === "verifier" && arg) {
    const code = decodeURIComponent(arg);
    $("#receipt").value = code;
    runReceipt(code);
  } else if (name === "identifiant" && arg) {
    const tag = decodeURIComponent(arg);
    $("#voter").value = tag;
    runHistory(tag);
  } else if (name === "tableau") {
    refreshDashboard(true);
    dashboardTimer = setInterval(() => refreshDashboard(false), DASHBOARD_REFRESH_MS);
  } else if (name === "confiance") {
    renderTrust();
  }
}

function rerender() {
  applyStatic();
  $("#lang").textContent = lang() === "fr" ? "English" : "Français";
  $("#lang").setAttribute("lang", lang() === "fr" ? "en" : "fr");
  renderReceipt(lastReceipt);
  renderHistory(lastHistory);
  if (!$("#view-tableau").hidden) renderDashboard(lastDashboard);
  if (!$("#view-confiance").hidden) renderTrust();
}

function init() {
  rerender();
  $("#lang").addEventListener("click", () => {
    setLang(lang() === "fr" ? "en" : "fr");
    rerender();
  });
  $("#receipt-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    // A tracker in the voting system's form (base64, may hold `/`) goes to the URL
    // as its hex: one address per receipt, no `/` in the route.
    let code = $("#receipt").value.trim();
    try {
      code = v.parseReceipt(code).hex;
    } catch {
      code = code.toLowerCase();
    }
    if (location.hash === `#/verifier/${code}`) runReceipt(code);
    else location.hash = `#/verifier/${code}`;
  });
  $("#voter-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    const tag = $("#voter").value.trim().toLowerCase();
    if (location.hash === `#/identifiant/${tag}`) runHistory(tag);
    else location.hash = `#/identifiant/${tag}`;
  });
  $("#policy-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    applyPolicy($("#policy").value);
  });
  $("#trust-reset").addEventListener("click", () => {
    writeStore(TRUST_KEY, null);
    writeStore(SEEN_KEY, null);
    writeStore(EVIDENCE_KEY, null);
    $("#policy-message").replaceChildren(verdictBox("info", t("trust.reset.done"), ""));
    renderTrust();
  });
  let resizeTimer;
  window.addEventListener("resize", () => {
    clearTimeout(resizeTimer);
    resizeTimer = setTimeout(() => {
      if (!$("#view-tableau").hidden && lastDashboard) renderDashboard(lastDashboard);
    }, 200);
  });
  window.addEventListener("hashchange", route);
  route();
}

init();
