// urne — the web page: check my receipt, my credential history, the public dashboard.
//
// Owns: the page's views, routing (`#/verifier`, `#/identifiant`, `#/tableau`,
// `#/confiance`), the trust anchors kept in this browser (the log key, the witness
// keys and quorum: from a union's C2SP tlog-policy file, or pinned on first visit from
// what the server announces), the last checkpoint seen (for the consistency check on
// the next visit), live re-checks of an open receipt or history, and the charts (uPlot).
// Does not own: any verification logic (verify.js) or wording (i18n.js).
//
// It never trusts a verdict of the server: every answer is checked here with
// verify.js against the pinned keys. Nothing personal is kept: the receipt code and
// the voter tag live in the page's memory while it is open, never in the address (a
// link that carries one is rewritten at once), the browser's history or its storage;
// only keys, checkpoints and the language choice are stored, which are public.

import * as v from "./verify.js";
import { t, lang, setLang, applyStatic, formatTime, formatDay, formatClock, formatNumber } from "./i18n.js";

const TRUST_KEY = "urne.trust.v1";
const SEEN_KEY = "urne.seen.v1";
const EVIDENCE_KEY = "urne.evidence.v1";
/** How often the dashboard refreshes. */
const DASHBOARD_REFRESH_MS = 5000;
/** How often an open receipt or history looks for a new checkpoint to re-check. */
const LIVE_REFRESH_MS = 5000;

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
    sentence ? el(Array.isArray(sentence) ? "div" : "p", { class: "verdict-sentence" }, sentence) : null,
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

/** A failure in the reader's words, with the technical detail (English) folded away. */
function errorText(e) {
  const technical = (detail) =>
    detail ? el("details", { class: "technical" }, el("summary", { text: t("err.technical") }), el("pre", { lang: "en", text: detail })) : null;
  if (e instanceof v.VerifyError) {
    if (e.code === "bad_policy") {
      const what = t(`policy.${e.params.why || "syntax"}`, e.params);
      return [t(e.params.line ? "err.bad_policy" : "err.bad_policy.file", { line: e.params.line, what }), technical(e.detail)];
    }
    const key = `err.${e.code}`;
    const msg = t(key, e.params);
    return [msg === key ? t("err.generic") : msg, technical(e.detail)];
  }
  return [t("err.generic"), technical(String(e && e.message ? e.message : e))];
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

/**
 * What verified equivocation evidence shows, worded from its two notes in the page's
 * language (the evidence's own `reason` is the finder's sentence, in English).
 */
function evidenceWhat(a, b) {
  if (a.size === b.size) return t("evidence.two_roots", { size: formatNumber(a.size) });
  if (a.size === 0n) return t("evidence.empty_root");
  return t("evidence.not_prefix", { small: formatNumber(a.size), large: formatNumber(b.size) });
}

/**
 * The equivocation evidence this server publishes (a mirror or witness that caught
 * the log signing two histories), each verified here with the log key; evidence that
 * does not verify is left out (the dashboard reports it).
 */
async function provedEquivocations(trust) {
  let list = [];
  try {
    const r = await getJSON("/v1/gossip/equivocations", { allow: [404] });
    list = r.status === 404 || !Array.isArray(r.body) ? [] : r.body;
  } catch {
    return [];
  }
  const out = [];
  for (const ev of list) {
    try {
      const { a, b } = await v.verifyEquivocation(ev, trust.logKey);
      out.push({ ev, what: evidenceWhat(a, b) });
    } catch {
      // Not evidence: proves nothing.
    }
  }
  return out;
}

// ---------------------------------------------------------------------------------
// View: check my receipt

let lastReceipt = null;

async function verifyReceipt(code) {
  const steps = [];
  const trust = await loadTrust();
  const r = await getJSON(`/v1/receipts/${code}`, { allow: [404] });
  if (r.status === 404) {
    // Not found: still judge the log's current checkpoint against the one this
    // browser saw. A log rolled back behind a tree this browser saw (where this
    // ballot may have been proved) is said as such, not as a plain "not found".
    let seen = null;
    try {
      seen = await checkSeen(await openWithTrust(trust, await getText("/checkpoint")), trust);
    } catch {
      seen = null;
    }
    return { kind: "not_found", trust, seen };
  }
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
  // 6. Not contradicted by proof, held by this server (a mirror), that the log
  // signed two histories: the ballot is in one of them, the log shows another.
  const forks = await provedEquivocations(trust);
  for (const f of forks) steps.push({ ok: false, text: t("step.equivocation", { reason: f.what, source: f.ev.source || "?" }) });
  return { kind: "found", trust, cp, steps, seen, forks, index: a.index, st, tlogProof: a.tlog_proof, code, superseded };
}

function renderReceipt(res) {
  const out = $("#receipt-result");
  out.replaceChildren();
  if (!res) return;
  const banner = res.trust ? trustBanner(res.trust) : null;
  if (res.kind === "invalid") {
    out.append(verdictBox("fail", t("verify.invalid.title"), [codeProblem(res.found), " ", t("verify.invalid.text")]));
  } else if (res.kind === "not_found") {
    if (res.seen && res.seen.status === "inconsistent") {
      out.append(
        verdictBox("fail", t("verify.erased.title"), t("verify.erased.text", { code: res.code }), [seenStep(res.seen)]),
      );
    } else {
      out.append(verdictBox("fail", t("verify.not_found.title"), t("verify.not_found.text", { code: res.code })));
    }
  } else if (res.kind === "error") {
    out.append(verdictBox("fail", t("verify.failed.title"), errorText(res.error), res.steps || []));
  } else {
    const witnessed = res.cp.quorumMet;
    const unwitnessed = witnessed && res.cp.cosigners.length === 0;
    const inconsistent = res.seen.status === "inconsistent" || res.forks.length > 0;
    const kind = inconsistent ? "fail" : witnessed && !unwitnessed && !res.superseded ? "ok" : "warn";
    const title = inconsistent
      ? t("verify.inconsistent.title")
      : res.superseded
        ? t("verify.superseded.title")
        : unwitnessed
          ? t("verify.unwitnessed.title")
          : witnessed
            ? t("verify.ok.title")
            : t("verify.pending.title");
    const sentence = t(unwitnessed ? "verify.unwitnessed.sentence" : witnessed ? "verify.ok.sentence" : "verify.pending.sentence", {
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
            // No part of the code in the name: the browser's download list keeps it.
            download: "urne-recu.tlog-proof",
            href: URL.createObjectURL(new Blob([res.tlogProof], { type: "text/plain" })),
            text: t("verify.download"),
          }),
          " ",
          el("span", { class: "help", text: t("verify.download.help") }),
        )
      : null;
    out.append(
      liveNotice(res) || "",
      verdictBox(kind, title, sentence, res.steps, [
        el("p", { class: "limits", text: t("verify.limits") }),
        download,
        checkpointDetails(res.cp),
      ]),
    );
  }
  if (banner) out.prepend(banner);
}

/** Marks a code field as refused (or accepted), so that assistive technology says why. */
function markField(input, errorId, bad) {
  if (bad) {
    input.setAttribute("aria-invalid", "true");
    input.setAttribute("aria-errormessage", errorId);
  } else {
    input.removeAttribute("aria-invalid");
    input.removeAttribute("aria-errormessage");
  }
}

/** Why a pasted code was refused, in the reader's words. */
const codeProblem = (found) => t(`code.${found.problem}`, { found: found.found });

// ---------------------------------------------------------------------------------
// Live: an open receipt or history is re-checked at each new checkpoint

let liveTimer = null;

function stopLive() {
  clearInterval(liveTimer);
  liveTimer = null;
}

/** The size and root of a checkpoint note (its cosignatures may change alone). */
const treeOf = (note) => note.split("\n").slice(1, 3).join(" ");

/**
 * Polls the checkpoint while the view is open; when the tree changed, runs `recheck`
 * (which verifies everything again and renders, saying what changed).
 */
function startLive(view, current, recheck) {
  stopLive();
  liveTimer = setInterval(async () => {
    if (document.hidden || $(`#view-${view}`).hidden) return;
    const res = current();
    if (!res || !res.cp) return;
    let note;
    try {
      note = await getText("/checkpoint");
    } catch {
      return;
    }
    if (treeOf(note) === treeOf(res.cp.note)) return;
    await recheck(res);
  }, LIVE_REFRESH_MS);
}

/** "Re-checked at …" and what changed since the page was loaded. */
function liveNotice(res) {
  if (!res.live) return null;
  const l = res.live;
  return el(
    "div",
    { class: "live", "data-live": l.changes.length ? "changed" : "same" },
    el("p", {}, t("live.rechecked", { at: formatTime(l.at), size: formatNumber(res.cp.size), before: formatNumber(l.before) })),
    l.changes.length
      ? el("ul", {}, l.changes.map((c) => el("li", { class: c.kind || "", text: c.text })))
      : el("p", { class: "help", text: t(res.events ? "live.nothing_new" : "live.still_there") }),
  );
}

async function runReceipt(raw) {
  stopLive();
  let found = v.findCode(raw);
  if (!found.code) {
    // The voting system's own form: a Belenios tracker (base64, may start with `/`).
    try {
      const hex = v.parseReceipt(String(raw ?? "").trim()).hex;
      if (v.isTag(hex)) found = { code: hex };
    } catch {
      // Neither a hex code nor a tracker: `found` says what is wrong.
    }
  }
  const out = $("#receipt-result");
  const input = $("#receipt");
  markField(input, "receipt-result", !found.code);
  if (!found.code) {
    lastReceipt = { kind: "invalid", found };
    renderReceipt(lastReceipt);
    return;
  }
  const code = found.code;
  input.value = code;
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
  if (lastReceipt.kind === "found") {
    startLive(
      "verifier",
      () => lastReceipt,
      async (prev) => {
        let next;
        try {
          next = { ...(await verifyReceipt(prev.code)), code: prev.code };
        } catch (e) {
          next = { kind: "error", error: e, code: prev.code };
        }
        if (lastReceipt !== prev) return; // another code was asked meanwhile
        if (next.kind === "found") next.live = { at: new Date(), before: prev.cp.size, changes: [] };
        else if (next.kind === "not_found") next = { kind: "error", error: new v.VerifyError("vanished", "the receipt is no longer found") };
        lastReceipt = next;
        renderReceipt(lastReceipt);
        if (next.kind !== "found") stopLive();
      },
    );
  }
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
  // Warnings: what the voter may not have done, read as urne-client reads them
  // (verify.js readVoterHistory, checked against testdata/voter/).
  const warnings = [];
  const history = events.map((ev) => ({ ...ev.f, index: ev.index, time: ev.f.time, type: ev.type, reissue: ev.reissue }));
  const reads = v.readVoterHistory(history);
  reads.forEach((r, i) => {
    const key = v.VOTER_WARNING_WORDS[r.meaning];
    if (!key) return;
    const f = events[i].f;
    const urgent = r.meaning === "helpdesk_reissue" || r.meaning === "reissue_then_vote";
    warnings.push({
      kind: urgent ? "fail" : "warn",
      meaning: r.meaning,
      voted: r.meaning === "reissue_then_vote",
      text: t(key, {
        time: formatTime(f.time),
        channel: t(`channel.${f.channel}`),
        reason: r.meaning === "revocation" ? f.reason : t(`reason.${f.reason}`),
        minutes: r.minutes,
        scrutin: f.scrutin,
      }),
    });
  });
  const seen = await checkSeen(cp, trust);
  steps.push(seenStep(seen));
  return { trust, cp, steps, events, warnings, seen, tag };
}

function eventRow(ev, fresh) {
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
    { "data-type": ev.type, "data-index": ev.index, class: fresh ? "fresh" : null },
    el("td", { text: formatTime(f.time) }),
    el("td", {}, what, fresh ? el("span", { class: "badge", text: t("live.new") }) : null),
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
    out.append(verdictBox("fail", t("history.invalid.title"), [codeProblem(res.found), " ", t("history.invalid.text")]));
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
  const alarm = res.warnings.some((w) => w.kind === "fail");
  const votedAfter = res.warnings.some((w) => w.voted);
  const kind = inconsistent || alarm ? "fail" : res.warnings.length ? "warn" : "ok";
  const credentials = res.events.filter((e) => e.type === "credential").length;
  const ballots = res.events.filter((e) => e.type === "ballot").length;
  out.append(
    liveNotice(res) || "",
    verdictBox(
      kind,
      t(inconsistent ? "verify.inconsistent.title" : alarm ? (votedAfter ? "history.alarm.voted.title" : "history.alarm.title") : kind === "warn" ? "history.warn.title" : "history.ok.title"),
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
      { class: "table-wrap", tabindex: "0", role: "region", "aria-label": t("history.table.caption") },
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
        el("tbody", {}, res.events.map((ev) => eventRow(ev, res.live?.fresh?.has(ev.index)))),
      ),
    ),
    el("p", { class: "help", text: t("history.completeness") }),
  );
}

async function runHistory(raw) {
  stopLive();
  const found = v.findCode(raw);
  const out = $("#history-result");
  const input = $("#voter");
  markField(input, "history-result", !found.code);
  if (!found.code) {
    lastHistory = { kind: "invalid", found };
    renderHistory(lastHistory);
    return;
  }
  const tag = found.code;
  input.value = tag;
  out.replaceChildren(el("p", { class: "busy", text: t("busy") }));
  out.setAttribute("aria-busy", "true");
  try {
    lastHistory = await voterHistory(tag);
  } catch (e) {
    lastHistory = { kind: "error", error: e };
  }
  out.removeAttribute("aria-busy");
  renderHistory(lastHistory);
  if (lastHistory.cp) {
    startLive(
      "identifiant",
      () => lastHistory,
      async (prev) => {
        let next;
        try {
          next = await voterHistory(prev.tag);
        } catch (e) {
          next = { kind: "error", error: e };
        }
        if (lastHistory !== prev) return;
        if (next.cp) next.live = historyChanges(prev, next);
        lastHistory = next;
        renderHistory(lastHistory);
        if (!next.cp) stopLive();
      },
    );
  }
}

/** What changed in a history since the previous check: new entries, vanished ones. */
function historyChanges(prev, next) {
  const before = new Set(prev.events.map((e) => e.index));
  const after = new Set(next.events.map((e) => e.index));
  const fresh = new Set([...after].filter((i) => !before.has(i)));
  const changes = [];
  for (const ev of next.events.filter((e) => fresh.has(e.index))) {
    const row = eventRow(ev);
    const cells = [...row.children].map((c) => c.textContent);
    changes.push({ kind: ev.type === "ballot" ? "" : "warn", text: t("live.entry", { time: cells[0], what: cells[1], detail: cells[2] }) });
  }
  for (const i of [...before].filter((i) => !after.has(i))) {
    changes.push({ kind: "fail", text: t("live.vanished", { index: formatNumber(i) }) });
  }
  // Accumulates over the page's life: what is new since it was loaded stays marked.
  const old = prev.live?.fresh || new Set();
  return { at: new Date(), before: prev.cp.size, changes, fresh: new Set([...old, ...fresh]) };
}

// ---------------------------------------------------------------------------------
// View: dashboard

let dashboardTimer = null;
let lastDashboard = null;
const charts = [];

/** Formats a duration in seconds as hours and minutes ("1 h 05", "30 min"). */
function formatDuration(secs) {
  const m = Math.round(secs / 60);
  if (m < 60) return t("duration.min", { m });
  return t("duration.h", { h: Math.floor(m / 60), m: String(m % 60).padStart(2, "0") });
}

/** A share as a percentage with one decimal, the local way. */
function formatShare(n, of) {
  if (!of) return "–";
  return new Intl.NumberFormat(localeTag(), { style: "percent", maximumFractionDigits: 1, minimumFractionDigits: 1 }).format(n / of);
}

const hm = () => new Intl.DateTimeFormat(localeTag(), { hour: "2-digit", minute: "2-digit" });

/** "08:00–09:00, 3 déc.": an hour bucket, in the reader's time zone. */
function hourSpan(h) {
  const d = new Intl.DateTimeFormat(localeTag(), { day: "numeric", month: "short" });
  return `${hm().format(new Date(h * 1000))}–${hm().format(new Date((h + 3600) * 1000))}, ${d.format(new Date(h * 1000))}`;
}

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
      const { a, b } = await v.verifyEquivocation(ev, trust.logKey);
      alerts.push({ kind: "fail", text: t("alert.equivocation", { source: ev.source }), detail: evidenceWhat(a, b), evidence: ev });
    } catch {
      alerts.push({ kind: "warn", text: t("alert.bad_evidence", { source: ev.source || "?" }) });
    }
  }
  for (const w of info.witnesses || []) {
    // A witness that answered no (4xx, e.g. 409: it holds a checkpoint this one does
    // not extend) is not one that does not answer. Its own words go to the detail.
    if (w.last_error && w.refused) {
      alerts.push({ kind: "fail", text: t("alert.witness_refused", { name: w.name, status: w.refused }), detail: w.last_error });
    } else if (w.last_error) {
      alerts.push({ kind: "warn", text: t("alert.witness_down", { name: w.name }), detail: w.last_error });
    }
  }
  if (!cp.quorumMet) alerts.push({ kind: "warn", text: t("alert.quorum", { n: cp.cosigners.length, required: cp.required }) });
  const now = Date.now() / 1000;
  const elections = (list.elections || []).map((e) => electionSummary(e, now));
  for (const e of elections) {
    for (const [hour, n] of e.reissueHours) {
      if (n > v.REISSUE_BURST_PER_HOUR) {
        alerts.push({
          kind: "warn",
          text: e.electorate
            ? t("alert.burst.share", { election: e.title, n: formatNumber(n), hour: hourSpan(hour), share: formatShare(n, e.electorate), electorate: formatNumber(e.electorate) })
            : t("alert.burst", { election: e.title, n: formatNumber(n), hour: hourSpan(hour) }),
        });
      }
    }
    for (const d of e.drops) {
      alerts.push({
        kind: "warn",
        "data-alert": "rate",
        text: t("alert.rate_drop", { election: e.title, hour: hourSpan(d.hour), rate: formatNumber(d.rate), level: formatNumber(d.level) }),
      });
    }
    for (const s of e.suspensions) {
      alerts.push({
        kind: "info",
        text: s.end
          ? t("alert.suspension", { election: e.title, from: formatTime(s.start), to: formatTime(s.end), duration: formatDuration(s.secs), reason: s.reason || "" })
          : t("alert.suspended_now", { election: e.title, from: formatTime(s.start), reason: s.reason || "" }),
      });
    }
  }
  return { trust, cp, seen, info, treeSize: list.tree_size, elections, alerts, equivocationsServed: equivocations !== null };
}

/** What the dashboard shows of one election, from the log's statistics. */
function electionSummary(e, now) {
  const s = e.stats || {};
  const timeline = s.timeline || [];
  const at = (ev) => Date.parse(ev.time) / 1000;
  const suspensions = [];
  for (const ev of timeline) {
    if (ev.kind === "suspend") suspensions.push({ start: ev.time, reason: ev.reason, end: null });
    const last = suspensions[suspensions.length - 1];
    if (["resume", "close", "void"].includes(ev.kind) && last && !last.end) last.end = ev.time;
  }
  for (const x of suspensions) x.secs = (x.end ? Date.parse(x.end) / 1000 : now) - Date.parse(x.start) / 1000;
  const reissueHours = Object.entries(s.reissues_per_hour || {}).map(([h, chans]) => [
    Number(h),
    Object.values(chans).reduce((a, b) => a + b, 0),
  ]);
  const reissues = reissueHours.reduce((a, [, n]) => a + n, 0);
  const title = timeline.find((ev) => ev.kind === "election")?.reason || e.id;
  const periods = v.activePeriods(timeline.map((ev) => [at(ev), ev.kind]), now);
  const ballots = Object.entries(s.ballots_per_hour || {}).map(([h, n]) => [Number(h), n]);
  const drops = v.rateDrops(ballots, periods);
  // The time axis: every hour from the first event or count to the last (the
  // opening, the closing, or now while open), so the page and the report agree.
  const hourOf = (t) => Math.floor(t / 3600) * 3600;
  const marks = [
    ...Object.keys(s.ballots_per_hour || {}).map(Number),
    ...Object.keys(s.reissues_per_hour || {}).map(Number),
    ...timeline.filter((ev) => ev.kind !== "election").map((ev) => hourOf(at(ev))),
  ];
  if (e.state.phase === "open" || e.state.phase === "suspended") marks.push(hourOf(now));
  const hours = [];
  if (marks.length) {
    const lo = Math.min(...marks);
    const hi = Math.max(...marks);
    for (let h = lo; h <= hi && hours.length < 24 * 60; h += 3600) hours.push(h);
  }
  return {
    id: e.id,
    title,
    phase: e.state.phase,
    counts: s.counts || {},
    stats: s,
    timeline,
    suspensions,
    reissueHours,
    reissues,
    electorate: s.electorate || null,
    perScrutin: s.ballots_per_scrutin || {},
    drops,
    hours,
    state: e.state,
    // The automatic seal (R.211-572) as the log states it: the checkpoint that froze
    // the urn and its witnesses' timestamps (the unions' monitors re-check it).
    seal: e.seal || null,
    sealedAfter: e.sealed_after || null,
  };
}

/** The seal's sentence: sealed (when, fingerprint, witnesses), awaited, or not yet. */
function sealLine(e) {
  const when = (x) => ({ date: formatDay(x), time: formatClock(x) });
  if (e.seal) {
    const witnesses = e.seal.witnesses.map((w) => t("seal.witness", { name: w.name, ...when(w.time) })).join(", ");
    return el(
      "p",
      { class: "seal seal-sealed", "data-seal": "sealed", role: "note" },
      t("seal.sealed", { ...when(e.seal.sealed_after), root: e.seal.root, size: formatNumber(e.seal.size), witnesses }),
    );
  }
  if (e.state.closed && e.sealedAfter) {
    return el("p", { class: "seal seal-awaiting", "data-seal": "awaiting", role: "note" }, t("seal.awaiting", when(e.sealedAfter)));
  }
  if (e.state.closed) {
    return el("p", { class: "seal seal-none", "data-seal": "no-grace", role: "note" }, t("seal.no_grace"));
  }
  return el("p", { class: "seal seal-none", "data-seal": "unsealed", role: "note" }, t("seal.none"));
}

function destroyCharts() {
  while (charts.length) charts.pop().destroy();
}

const CHANNEL_COLORS = {
  mail: "#1f6feb",
  postal: "#8250df",
  sms: "#1a7f37",
  helpdesk: "#cf222e",
  "in-person": "#9a6700",
  batch: "#57606a",
};
const BALLOT_COLOR = "#1f6feb";
const BAND_COLOR = "rgba(207, 34, 46, 0.15)";

/** The x range of an hourly chart: from the first hour's start to the last hour's
 * end, at least six hours wide (uPlot would otherwise zoom a single hour out to years). */
function hourRange(xs) {
  const lo = xs[0];
  return [lo, Math.max(xs[xs.length - 1] + 3600, lo + 6 * 3600)];
}

/** A y range from zero to a little above the largest bar, on whole numbers. */
function countRange(u, min, max) {
  const top = Math.max(1, max);
  return [0, Math.ceil(top * 1.15)];
}

const localeTag = () => (lang() === "fr" ? "fr-FR" : "en-GB");

/** Time axis labels in the page's language and the browser's time zone. */
function timeAxes(yLabel) {
  const dm = new Intl.DateTimeFormat(localeTag(), { day: "numeric", month: "short" });
  return [
    {
      values: (u, vals) =>
        vals.map((x, i) => {
          const d = new Date(x * 1000);
          const prev = i > 0 ? new Date(vals[i - 1] * 1000) : null;
          return !prev || prev.toDateString() !== d.toDateString() ? `${hm().format(d)}\n${dm.format(d)}` : hm().format(d);
        }),
    },
    {
      label: yLabel,
      size: 60,
      incrs: [1, 2, 5, 10, 20, 25, 50, 100, 200, 250, 500, 1000, 2000, 2500, 5000, 10000, 20000, 50000, 100000],
      values: (u, vals) => vals.map((x) => formatNumber(x)),
    },
  ];
}

/** Shades each suspension, at its true times, behind the bars. */
function suspensionBands(suspensions) {
  return {
    drawClear: [
      (u) => {
        const { ctx } = u;
        ctx.save();
        ctx.fillStyle = BAND_COLOR;
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

/** A legend: one swatch per series, and the suspension band when there is one. */
function legend(items, suspensions) {
  return el(
    "ul",
    { class: "legend" },
    items.map((it) => el("li", {}, el("span", { class: "swatch", style: `background:${it.color}`, "aria-hidden": "true" }), it.text)),
    suspensions.length
      ? el("li", {}, el("span", { class: "swatch band", "aria-hidden": "true" }), t("chart.legend.suspension"))
      : null,
  );
}

/**
 * One hourly bar chart: a figure with its title, the canvas (with a text
 * alternative), the legend and the data table. Returns {figure, draw}.
 */
function hourlyChart({ id, title, alt, hours, values, color, label, suspensions, items, table }) {
  const range = hourRange(hours);
  const canvas = el("div", {
    id,
    class: "chart-canvas",
    role: "img",
    "aria-label": alt,
    "data-x-min": range[0],
    "data-x-max": range[1],
  });
  const figure = el("figure", { class: "chart" }, el("figcaption", { text: title }), canvas, legend(items, suspensions), table);
  const draw = () => {
    if (typeof uPlot === "undefined") {
      canvas.append(el("p", { class: "help", text: t("chart.unavailable") }));
      return;
    }
    // Bars from the hour's start to its end (align 1, full column, 2 px gap): a bar
    // covers the hour it counts, so a suspension band sits over exactly its hours.
    const bars = uPlot.paths.bars({ align: 1, size: [1, Infinity, 1], gap: 2 });
    const width = Math.max(280, canvas.clientWidth || 600);
    const u = new uPlot(
      {
        width,
        height: 200,
        legend: { show: false },
        cursor: { show: false },
        hooks: suspensionBands(suspensions),
        scales: { x: { time: true, range: () => range }, y: { range: countRange } },
        axes: timeAxes(label),
        series: [{}, { label, stroke: color, fill: color, width: 0, paths: bars, points: { show: false } }],
      },
      [hours, values],
      canvas,
    );
    charts.push(u);
  };
  return { figure, draw };
}

function dataTable(caption, headers, rows) {
  return el(
    "details",
    { class: "data" },
    el("summary", { text: t("chart.data") }),
    el(
      "div",
      { class: "table-wrap", tabindex: "0", role: "region", "aria-label": caption },
      el(
        "table",
        {},
        el("caption", { text: caption }),
        el("thead", {}, el("tr", {}, headers.map((h) => el("th", { scope: "col", text: h })))),
        el("tbody", {}, rows.map((r) => el("tr", {}, r.map((c, i) => el("td", { class: i ? "num" : "", text: c }))))),
      ),
    ),
  );
}

/** The text alternative of an hourly chart: its span, peak, total and suspensions. */
function chartAlt(what, hours, values, suspensions) {
  const total = values.reduce((a, b) => a + b, 0);
  const peak = values.reduce((best, n, i) => (n > values[best] ? i : best), 0);
  const parts = [
    t("chart.alt", {
      what,
      from: formatTime(new Date(hours[0] * 1000)),
      to: formatTime(new Date((hours[hours.length - 1] + 3600) * 1000)),
      total: formatNumber(total),
      max: formatNumber(values[peak] || 0),
      at: hourSpan(hours[peak]),
    }),
  ];
  for (const s of suspensions) {
    parts.push(t("chart.alt.suspension", { from: formatTime(s.start), to: s.end ? formatTime(s.end) : "…" }));
  }
  return parts.join(" ");
}

function timelineText(ev, e) {
  switch (ev.kind) {
    case "intervention": {
      const base = t("timeline.intervention", { actor: ev.actor || "", action: ev.action || "", reason: ev.reason || "" });
      return ev.reissues !== undefined && ev.reissues !== null
        ? `${base} ${t("timeline.announces", { n: formatNumber(ev.reissues), share: e.electorate ? ` (${formatShare(ev.reissues, e.electorate)})` : "" })}`
        : base;
    }
    case "results":
      return t("timeline.results", { scrutin: ev.scrutin || "", ballots: formatNumber(ev.ballots ?? 0) });
    case "suspend": {
      const s = e.suspensions.find((x) => x.start === ev.time);
      return s && s.end ? `${ev.reason || ""} — ${t("timeline.lasted", { duration: formatDuration(s.secs) })}` : ev.reason || "";
    }
    default:
      return ev.reason || "";
  }
}

function renderElection(e) {
  const s = e.stats;
  const ballotsId = `ballots-${e.id}`;
  const hours = e.hours;
  const ballots = hours.map((h) => s.ballots_per_hour?.[h] || 0);
  const channels = [...new Set(Object.values(s.reissues_per_hour || {}).flatMap((c) => Object.keys(c)))].sort();
  const count = (k) => e.counts[k] || 0;
  const totalSuspended = e.suspensions.reduce((a, x) => a + x.secs, 0);
  const interventions = e.timeline.filter((ev) => ev.kind === "intervention");
  const scrutins = Object.keys(e.perScrutin).sort();
  const ballotsTotal = count("ballot");

  const ballotChart = hours.length
    ? hourlyChart({
        id: ballotsId,
        title: t("chart.ballots"),
        alt: chartAlt(t("chart.ballots"), hours, ballots, e.suspensions),
        hours,
        values: ballots,
        color: BALLOT_COLOR,
        label: t("count.ballots"),
        suspensions: e.suspensions,
        items: [{ color: BALLOT_COLOR, text: t("chart.legend.ballots", { n: formatNumber(ballotsTotal) }) }],
        table: dataTable(
          t("chart.ballots"),
          [t("col.hour"), t("count.ballots"), ...(e.electorate ? [t("col.share_hour"), t("col.turnout_cumulative")] : [])],
          (() => {
            let cum = 0;
            const perScrutinMax = Math.max(1, scrutins.length);
            return hours.map((h, i) => {
              cum += ballots[i];
              return [
                hourSpan(h),
                formatNumber(ballots[i]),
                ...(e.electorate ? [formatShare(ballots[i] / perScrutinMax, e.electorate), formatShare(cum / perScrutinMax, e.electorate)] : []),
              ];
            });
          })(),
        ),
      })
    : null;
  const reissueCharts = hours.length
    ? channels.map((c) => {
        const values = hours.map((h) => s.reissues_per_hour?.[h]?.[c] || 0);
        const total = values.reduce((a, b) => a + b, 0);
        const name = t(`channel.${c}`);
        return hourlyChart({
          id: `reissues-${c}-${e.id}`,
          title: t("chart.reissues.channel", { channel: name, n: formatNumber(total) }),
          alt: chartAlt(t("chart.reissues.channel", { channel: name, n: formatNumber(total) }), hours, values, e.suspensions),
          hours,
          values,
          color: CHANNEL_COLORS[c] || "#444",
          label: t("count.reissues"),
          suspensions: e.suspensions,
          items: [{ color: CHANNEL_COLORS[c] || "#444", text: t("chart.legend.reissues", { channel: name, n: formatNumber(total) }) }],
          table: dataTable(
            t("chart.reissues.channel", { channel: name, n: formatNumber(total) }),
            [t("col.hour"), t("count.reissues")],
            hours.map((h, i) => [hourSpan(h), formatNumber(values[i])]),
          ),
        });
      })
    : [];

  const turnout = e.electorate
    ? el(
        "ul",
        { class: "turnout" },
        scrutins.map((sc) =>
          el(
            "li",
            { "data-scrutin": sc },
            t("turnout.scrutin", {
              scrutin: sc,
              n: formatNumber(e.perScrutin[sc]),
              electorate: formatNumber(e.electorate),
              share: formatShare(e.perScrutin[sc], e.electorate),
            }),
          ),
        ),
      )
    : el("p", { class: "help", text: t("turnout.no_roll") });

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
    sealLine(e),
    el(
      "dl",
      { class: "counts" },
      [
        ["count.ballots", formatNumber(ballotsTotal), "ballots"],
        ["count.electorate", e.electorate ? formatNumber(e.electorate) : "–", "electorate"],
        ["count.credentials", formatNumber(Math.max(0, count("credential") - e.reissues)), "credentials"],
        ["count.reissues", formatNumber(e.reissues), "reissues"],
        ["count.revocations", formatNumber(count("revoke")), "revocations"],
        [
          "count.suspensions",
          e.suspensions.length ? t("count.suspensions.value", { n: e.suspensions.length, duration: formatDuration(totalSuspended) }) : "0",
          "suspensions",
        ],
        ["count.interventions", formatNumber(interventions.length), "interventions"],
      ].map(([k, n, name]) => el("div", { "data-count": name }, el("dt", { text: t(k) }), el("dd", { text: n }))),
    ),
    el("h3", { text: t("turnout.title") }),
    turnout,
    e.drops.length
      ? el(
          "div",
          { class: "rate-drops", role: "note" },
          el("p", { text: t("rate.title") }),
          el("ul", {}, e.drops.map((d) => el("li", { text: t("rate.drop", { hour: hourSpan(d.hour), rate: formatNumber(d.rate), level: formatNumber(d.level) }) }))),
          el("p", { class: "help", text: t("rate.rule", { factor: v.BALLOT_RATE.DROP_FACTOR, window: v.BALLOT_RATE.WINDOW_HOURS, min: v.BALLOT_RATE.MIN_LEVEL_PER_HOUR }) }),
        )
      : null,
    ballotChart ? ballotChart.figure : null,
    el("p", { class: "help", text: t("chart.ballots.desc") }),
    el("h3", { text: t("chart.reissues") }),
    reissueCharts.length ? el("p", { class: "help", text: t("chart.reissues.desc") }) : el("p", { class: "help", text: t("chart.no_reissue") }),
    el("div", { class: "multiples" }, reissueCharts.map((c) => c.figure)),
    interventions.length
      ? [
          el("h3", { text: t("interventions.title") }),
          el(
            "ul",
            { class: "interventions" },
            interventions.map((ev) => el("li", {}, el("time", { datetime: ev.time, text: formatTime(ev.time) }), " — ", timelineText(ev, e))),
          ),
        ]
      : null,
    el("h3", { text: t("timeline.title") }),
    el(
      "ol",
      { class: "timeline" },
      e.timeline.map((ev) => {
        const detail = timelineText(ev, e);
        return el(
          "li",
          { class: `tl-${ev.kind}` },
          el("time", { datetime: ev.time, text: formatTime(ev.time) }),
          " ",
          el("strong", { text: t(`kind.${ev.kind}`) }),
          detail ? ` — ${detail}` : "",
          el("span", { class: "help", text: ` (${t("col.index").toLowerCase()} ${formatNumber(ev.index)})` }),
        );
      }),
    ),
  );
  return {
    card,
    draw: () => {
      if (ballotChart) ballotChart.draw();
      for (const c of reissueCharts) c.draw();
    },
  };
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
        ? el(
            "ul",
            {},
            res.alerts.map((a) =>
              el(
                "li",
                { class: a.kind, "data-alert": a["data-alert"] || a.kind },
                a.text,
                a.detail ? el("details", {}, el("summary", { text: t("err.technical") }), el("pre", { lang: "en", text: a.detail })) : null,
                a.evidence ? el("details", {}, el("summary", { text: t("alert.evidence") }), el("pre", { text: `${a.evidence.note_a}\n${a.evidence.note_b}` })) : null,
              ),
            ),
          )
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
  const field = $("#policy");
  try {
    const p = v.parsePolicy(text);
    if (p.logs.length === 0) throw new v.VerifyError("bad_policy", "no log line", { why: "no_log" });
    const info = await announced();
    const logVkey = p.logs.find((l) => l.split("+")[0] === info.origin) || p.logs[0];
    const key = async (k, who) => {
      try {
        await v.parseVerifierKey(k);
      } catch (e) {
        if (e.code !== "bad_key") throw e;
        throw new v.VerifyError("bad_policy", e.detail, { why: "bad_key", who, key: k });
      }
    };
    await key(logVkey, t("policy.the_log"));
    for (const w of p.witnesses) await key(w.vkey, w.name);
    writeStore(TRUST_KEY, {
      source: "policy",
      since: new Date().toISOString(),
      log: logVkey,
      witnesses: p.witnesses.map((w) => ({ local: w.name, vkey: w.vkey })),
      policyText: text,
    });
    markField(field, "policy-message", false);
    msg.replaceChildren(verdictBox("ok", t("trust.policy.ok"), ""));
  } catch (e) {
    markField(field, "policy-message", true);
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
  if (name !== "verifier" && name !== "identifiant") stopLive();
  if ((name === "verifier" || name === "identifiant") && arg) {
    // A link that carries a code (an older page, a bookmark): the code is taken into
    // the page and the address rewritten at once, so that the browser's history keeps
    // no receipt code nor voter tag.
    let code;
    try {
      code = decodeURIComponent(arg);
    } catch {
      code = arg;
    }
    history.replaceState(null, "", `#/${name}`);
    if (name === "verifier") {
      $("#receipt").value = code;
      runReceipt(code);
    } else {
      $("#voter").value = code;
      runHistory(code);
    }
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
  // The codes stay in the page: never in the address, so never in the history.
  $("#receipt-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    runReceipt($("#receipt").value);
  });
  $("#voter-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    runHistory($("#voter").value);
  });
  $("#policy-form").addEventListener("submit", (ev) => {
    ev.preventDefault();
    applyPolicy($("#policy").value);
  });
  // Forgetting erases the evidence this browser holds (a rollback is caught only
  // against the checkpoint it remembers): asked first, in the page.
  $("#trust-reset").addEventListener("click", () => {
    const box = $("#reset-confirm");
    box.hidden = false;
    $("#trust-reset").setAttribute("aria-expanded", "true");
    $("#reset-cancel").focus();
  });
  $("#reset-cancel").addEventListener("click", () => {
    $("#reset-confirm").hidden = true;
    $("#trust-reset").setAttribute("aria-expanded", "false");
    $("#trust-reset").focus();
  });
  $("#reset-yes").addEventListener("click", () => {
    writeStore(TRUST_KEY, null);
    writeStore(SEEN_KEY, null);
    writeStore(EVIDENCE_KEY, null);
    $("#reset-confirm").hidden = true;
    $("#trust-reset").setAttribute("aria-expanded", "false");
    $("#reset-message").replaceChildren(verdictBox("info", t("trust.reset.done"), ""));
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
