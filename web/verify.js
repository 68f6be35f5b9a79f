// urne — the in-browser verifier.
//
// Owns: everything the web page checks itself instead of trusting the server: C2SP
// signed notes (Ed25519 key strings, key IDs, signature lines), C2SP tlog-checkpoint
// bodies, C2SP tlog-cosignature `cosignature/v1` lines, the C2SP tlog-policy quorum,
// RFC 6962 hashing and the RFC 9162 inclusion and consistency proof checks, C2SP
// tlog-tiles entry bundles, the urne statement text (DESIGN.md, "Entries"), the
// ballot-rate alarm (urne_client::ballot_rate, pinned by testdata/ballot-rate), and
// finding the one code in what a voter pasted.
// Does not own: fetching or the page (app.js). No DOM here: Node runs the same file in
// the unit tests (web/tests/verify.test.js).
//
// Cryptography is WebCrypto only (SHA-256 and Ed25519, `crypto.subtle`): no hand-written
// primitive, nothing fetched from a third party. It mirrors the Rust library
// `urne_client` (client/src): same formats, same refusals; the end-to-end tests check
// this file against proofs and checkpoints produced by the real server.
//
// Every failure is a `VerifyError` with a stable `code` that the page translates.

/** A verification failure with a stable code (translated by the page) and details. */
export class VerifyError extends Error {
  constructor(code, detail, params = {}) {
    super(`${code}: ${detail}`);
    this.code = code;
    this.detail = detail;
    this.params = params;
  }
}

const fail = (code, detail, params) => {
  throw new VerifyError(code, detail, params);
};

const encoder = new TextEncoder();

/** Encodes a string as UTF-8 bytes. */
export const utf8 = (s) => encoder.encode(s);

/** Concatenates byte arrays. */
export function concat(...parts) {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
}

/** Compares two byte arrays. */
export function equalBytes(a, b) {
  if (!a || !b || a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i] ^ b[i];
  return d === 0;
}

/** Formats bytes as lowercase hex. */
export const toHex = (b) => Array.from(b, (x) => x.toString(16).padStart(2, "0")).join("");

/** Parses lowercase or uppercase hex of even length; throws on anything else. */
export function fromHex(s) {
  if (typeof s !== "string" || !/^(?:[0-9a-fA-F]{2})*$/.test(s)) fail("malformed", `not hex: ${s}`);
  const out = new Uint8Array(s.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(s.slice(2 * i, 2 * i + 2), 16);
  return out;
}

const B64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** Decodes standard, padded base64 (RFC 4648 §4), refusing any other form. */
export function fromBase64(s) {
  if (typeof s !== "string" || !B64.test(s)) fail("malformed", `not standard base64: ${s}`);
  const bin = atob(s);
  const out = new Uint8Array(bin.length);
  for (let i = 0; i < bin.length; i++) out[i] = bin.charCodeAt(i);
  // Non-canonical padding bits decode too; require the canonical encoding.
  if (toBase64(out) !== s) fail("malformed", `non-canonical base64: ${s}`);
  return out;
}

/** Encodes bytes as standard, padded base64. */
export function toBase64(b) {
  let bin = "";
  for (const x of b) bin += String.fromCharCode(x);
  return btoa(bin);
}

/** SHA-256 with WebCrypto. */
export async function sha256(bytes) {
  return new Uint8Array(await crypto.subtle.digest("SHA-256", bytes));
}

// ---------------------------------------------------------------------------------
// Signed notes (C2SP signed-note)

/** Key type byte of Ed25519 note signatures (C2SP signed-note). */
export const ALG_ED25519 = 0x01;
/** Key type byte of `cosignature/v1` witness keys (C2SP tlog-cosignature). */
export const ALG_COSIGNATURE = 0x04;

/** Computes a key ID: SHA-256(name ‖ "\n" ‖ type ‖ public key)[:4] (C2SP signed-note). */
export async function keyId(name, alg, publicKey) {
  const h = await sha256(concat(utf8(name), utf8("\n"), Uint8Array.of(alg), publicKey));
  return h.slice(0, 4);
}

// A key name is non-empty, has no whitespace and no '+' (signed-note, "Verifier keys").
const validName = (n) => n.length > 0 && !/[\s+]/u.test(n);

/**
 * Parses a verifier key `<name>+<8 hex key ID>+<base64(type ‖ Ed25519 public key)>`
 * whose type is 0x01 (a note signer: the log, an authority) or 0x04 (a witness).
 * The key ID must match. Returns {name, alg, id, publicKey, text, cryptoKey}.
 */
export async function parseVerifierKey(text) {
  if (typeof text !== "string") fail("bad_key", "no key");
  // name+id+key: the name has no '+', the base64 key may (Go's note.NewVerifier).
  const m = /^([^+]*)\+([^+]*)\+(.*)$/su.exec(text.trim());
  if (!m) fail("bad_key", `not name+id+key: ${text}`);
  const [, name, idHex, b64] = m;
  if (!validName(name)) fail("bad_key", `bad key name in ${text}`);
  if (!/^[0-9a-f]{8}$/.test(idHex)) fail("bad_key", `bad key ID in ${text}`);
  let raw;
  try {
    raw = fromBase64(b64);
  } catch {
    fail("bad_key", `key is not base64 in ${text}`);
  }
  if (raw.length !== 33 || (raw[0] !== ALG_ED25519 && raw[0] !== ALG_COSIGNATURE)) {
    fail("bad_key", `not an Ed25519 key (type 0x01 or 0x04): ${text}`);
  }
  const alg = raw[0];
  const publicKey = raw.slice(1);
  const id = await keyId(name, alg, publicKey);
  if (toHex(id) !== idHex) fail("bad_key", `key ID does not match the key: ${text}`);
  let cryptoKey;
  try {
    cryptoKey = await crypto.subtle.importKey("raw", publicKey, { name: "Ed25519" }, false, [
      "verify",
    ]);
  } catch (e) {
    fail("no_ed25519", `this browser cannot verify Ed25519 signatures (${e.message})`);
  }
  return { name, alg, id, publicKey, text: text.trim(), cryptoKey };
}

async function ed25519Verify(key, signature, message) {
  if (signature.length !== 64) return false;
  try {
    return await crypto.subtle.verify({ name: "Ed25519" }, key.cryptoKey, signature, message);
  } catch {
    return false;
  }
}

/**
 * Splits a signed note into its text and signature lines (C2SP signed-note):
 * the text ends at the last blank line; each signature line is
 * `— <name> <base64(key ID ‖ signature)>`. Returns {text, textBytes, signatures}.
 */
export function parseNote(note) {
  if (typeof note !== "string" || note.length === 0) fail("malformed", "empty note");
  if (!note.endsWith("\n")) fail("malformed", "a note ends with a newline");
  const split = note.lastIndexOf("\n\n");
  if (split < 0) fail("malformed", "a note has a blank line before its signatures");
  const text = note.slice(0, split + 1);
  const sigText = note.slice(split + 2);
  if (sigText.length === 0) fail("malformed", "a note has at least one signature");
  const signatures = [];
  for (const line of sigText.slice(0, -1).split("\n")) {
    const m = /^\u2014 (\S+) (\S+)$/u.exec(line);
    if (!m || !validName(m[1])) fail("malformed", `bad signature line: ${line}`);
    const raw = fromBase64(m[2]);
    if (raw.length < 5) fail("malformed", `signature too short: ${line}`);
    signatures.push({ name: m[1], id: raw.slice(0, 4), sig: raw.slice(4), line });
  }
  return { text, textBytes: utf8(text), signatures };
}

/** Verifies the note signature of `key` in a parsed note; false when absent. */
export async function hasValidSignature(parsed, key) {
  const lines = parsed.signatures.filter((s) => s.name === key.name && equalBytes(s.id, key.id));
  if (lines.length === 0) return false;
  for (const s of lines) {
    if (!(await ed25519Verify(key, s.sig, parsed.textBytes))) {
      fail("bad_signature", `signature by ${key.name} does not verify`);
    }
  }
  return true;
}

// ---------------------------------------------------------------------------------
// Checkpoints and cosignatures (C2SP tlog-checkpoint, tlog-cosignature)

/**
 * Parses a checkpoint body: `<origin>\n<size>\n<base64 root>\n[<extension>\n…]`.
 * Size is decimal without leading zeros, up to 2^63−1. Returns {origin, size (BigInt),
 * root, extensions}.
 */
export function parseCheckpointBody(text) {
  const lines = text.split("\n");
  if (lines.length < 4 || lines[lines.length - 1] !== "") fail("malformed", "checkpoint too short");
  const [origin, sizeText, rootText, ...rest] = lines.slice(0, -1);
  if (!origin) fail("malformed", "checkpoint has no origin");
  if (!/^(?:0|[1-9][0-9]{0,18})$/.test(sizeText)) fail("malformed", `bad tree size ${sizeText}`);
  const size = BigInt(sizeText);
  if (size >= 1n << 63n) fail("malformed", `tree size too large ${sizeText}`);
  const root = fromBase64(rootText);
  if (root.length !== 32) fail("malformed", "root hash is not 32 bytes");
  if (rest.some((l) => l === "")) fail("malformed", "empty extension line");
  return { origin, size, root, extensions: rest };
}

/**
 * Opens a signed checkpoint (a note) with the log key and the witness keys:
 * the log's signature must be present and valid, its origin must be the log key's
 * name; cosignatures (`cosignature/v1`: key ID ‖ 8-byte time ‖ signature over
 * "cosignature/v1\ntime <t>\n" ‖ body) of known witnesses are verified, a bad one is an
 * error, unknown signature lines are kept aside.
 * Returns {origin, size, root, note, text, cosigners: [{name, time, key}], unknown}.
 */
export async function openCheckpoint(note, logKey, witnessKeys = []) {
  const parsed = parseNote(note);
  const body = parseCheckpointBody(parsed.text);
  if (body.origin !== logKey.name) {
    fail("wrong_origin", `checkpoint of ${body.origin}, not of ${logKey.name}`, {
      origin: body.origin,
    });
  }
  if (!(await hasValidSignature(parsed, logKey))) {
    fail("no_log_signature", `checkpoint not signed by ${logKey.name}`);
  }
  const cosigners = [];
  let unknown = 0;
  for (const s of parsed.signatures) {
    if (s.name === logKey.name && equalBytes(s.id, logKey.id)) continue;
    const w = witnessKeys.find(
      (k) => k.alg === ALG_COSIGNATURE && k.name === s.name && equalBytes(k.id, s.id),
    );
    if (!w) {
      unknown++;
      continue;
    }
    if (s.sig.length !== 8 + 64) fail("bad_cosignature", `cosignature of ${w.name} malformed`);
    const time = new DataView(s.sig.buffer, s.sig.byteOffset, 8).getBigUint64(0);
    const msg = concat(utf8(`cosignature/v1\ntime ${time}\n`), parsed.textBytes);
    if (!(await ed25519Verify(w, s.sig.slice(8), msg))) {
      fail("bad_cosignature", `cosignature of ${w.name} does not verify`, { witness: w.name });
    }
    if (!cosigners.some((c) => c.name === w.name)) {
      cosigners.push({ name: w.name, time: Number(time), key: w });
    }
  }
  return { ...body, note, text: parsed.text, cosigners, unknown };
}

/**
 * Parses a C2SP tlog-policy file (`log`, `witness`, `group`, `quorum` lines) into
 * {logs: [vkey], witnesses: [{name, vkey}], quorum} where quorum is null (`quorum
 * none`) or a tree {witness: name} | {k, members: [...]}. Keys are parsed later.
 */
export function parsePolicy(text) {
  const p = { logs: [], witnesses: [], groups: new Map(), quorum: undefined };
  const names = new Map();
  const used = new Set();
  text.split("\n").forEach((line, i) => {
    // `why` is a stable code the page words (policy.<why>), with its parameters.
    const bad = (detail, why, params = {}) => fail("bad_policy", `line ${i + 1}: ${detail}`, { line: i + 1, why, ...params });
    if (/[\x00-\x08\x0a-\x1f\x7f]/.test(line)) bad("control character", "control");
    const w = line.split(/[ \t]+/).filter(Boolean);
    if (w.length === 0 || w[0].startsWith("#")) return;
    const [kw, ...args] = w;
    const newName = (n) => {
      if (n === "none") bad("the name none is reserved", "reserved");
      if (names.has(n)) bad(`name ${n} defined twice`, "twice", { name: n });
    };
    if (kw === "log") {
      if (args.length < 1 || args.length > 2) bad("log takes a vkey and an optional URL", "log_args");
      p.logs.push(args[0]);
    } else if (kw === "witness") {
      if (args.length < 2 || args.length > 3) bad("witness takes a name, a vkey, an optional URL", "witness_args");
      newName(args[0]);
      const node = { witness: args[0] };
      names.set(args[0], node);
      p.witnesses.push({ name: args[0], vkey: args[1] });
    } else if (kw === "group") {
      if (args.length < 3) bad("group takes a name, a threshold and members", "group_args");
      const [name, k, ...members] = args;
      newName(name);
      const resolved = members.map((m) => {
        if (!names.has(m)) bad(`undefined name ${m}`, "undefined", { name: m });
        if (used.has(m)) bad(`${m} is already a group member`, "member_twice", { name: m });
        used.add(m);
        return names.get(m);
      });
      let t;
      if (k === "all") t = resolved.length;
      else if (k === "any") t = 1;
      else if (/^[1-9][0-9]*$/.test(k) && Number(k) <= resolved.length) t = Number(k);
      else bad(`bad threshold ${k}`, "threshold", { value: k, n: resolved.length });
      names.set(name, { k: t, members: resolved });
    } else if (kw === "quorum") {
      if (args.length !== 1) bad("quorum takes one name", "quorum_args");
      if (p.quorum !== undefined) bad("more than one quorum line", "two_quorums");
      if (args[0] === "none") p.quorum = null;
      else if (names.has(args[0])) p.quorum = names.get(args[0]);
      else bad(`undefined name ${args[0]}`, "undefined", { name: args[0] });
    } else bad(`unknown keyword ${kw}`, "keyword", { word: kw });
  });
  if (p.quorum === undefined) fail("bad_policy", "no quorum line", { why: "no_quorum" });
  delete p.groups;
  return p;
}

/** Builds the policy tree "k of these witnesses" (k = 0: no witness needed). */
export function thresholdPolicy(witnessNames, k) {
  if (k <= 0 || witnessNames.length === 0) return null;
  return { k: Math.min(k, witnessNames.length), members: witnessNames.map((n) => ({ witness: n })) };
}

/** Tells whether the verified cosigners satisfy a policy tree (null: always). */
export function quorumMet(policy, cosignerNames) {
  if (policy === null || policy === undefined) return true;
  if (policy.witness !== undefined) return cosignerNames.includes(policy.witness);
  return policy.members.filter((m) => quorumMet(m, cosignerNames)).length >= policy.k;
}

// ---------------------------------------------------------------------------------
// The tree: RFC 6962 hashing, RFC 9162 proof verification

/** Leaf hash: SHA-256(0x00 ‖ entry) (RFC 6962 §2.1). */
export const leafHash = (entry) => sha256(concat(Uint8Array.of(0), entry));
/** Interior node hash: SHA-256(0x01 ‖ left ‖ right) (RFC 6962 §2.1). */
export const nodeHash = (l, r) => sha256(concat(Uint8Array.of(1), l, r));

const big = (n) => BigInt(n);

/**
 * Verifies an inclusion proof (RFC 9162 §2.1.3.2): leaf `index` of the tree of
 * `size` entries whose root is `root`. Returns true or false, never throws on
 * adversarial input.
 */
export async function verifyInclusion(index, size, leaf, proof, root) {
  let fn = big(index);
  let sn = big(size) - 1n;
  if (fn < 0n || fn > sn || leaf.length !== 32) return false;
  let r = leaf;
  for (const p of proof) {
    if (p.length !== 32 || sn === 0n) return false;
    if ((fn & 1n) === 1n || fn === sn) {
      r = await nodeHash(p, r);
      while ((fn & 1n) === 0n && fn !== 0n) {
        fn >>= 1n;
        sn >>= 1n;
      }
    } else {
      r = await nodeHash(r, p);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  return sn === 0n && equalBytes(r, root);
}

/**
 * Verifies a consistency proof (RFC 9162 §2.1.4.2) between the tree of `size1`
 * entries with root `root1` and the tree of `size2` with root `root2`. The empty tree
 * is consistent with every tree (empty proof); equal sizes need equal roots.
 */
export async function verifyConsistency(size1, size2, proof, root1, root2) {
  const s1 = big(size1);
  const s2 = big(size2);
  if (s1 < 0n || s1 > s2) return false;
  if (s1 === 0n) return proof.length === 0;
  if (s1 === s2) return proof.length === 0 && equalBytes(root1, root2);
  if (proof.length === 0 || proof.some((p) => p.length !== 32)) return false;
  let path = proof;
  // A first tree whose size is a power of two is a complete subtree: its root is the
  // first hash of the path (RFC 9162 §2.1.4.2, step 1).
  if ((s1 & (s1 - 1n)) === 0n) path = [root1, ...proof];
  let fn = s1 - 1n;
  let sn = s2 - 1n;
  while ((fn & 1n) === 1n) {
    fn >>= 1n;
    sn >>= 1n;
  }
  let fr = path[0];
  let sr = path[0];
  for (const c of path.slice(1)) {
    if (sn === 0n) return false;
    if ((fn & 1n) === 1n || fn === sn) {
      fr = await nodeHash(c, fr);
      sr = await nodeHash(c, sr);
      while ((fn & 1n) === 0n && fn !== 0n) {
        fn >>= 1n;
        sn >>= 1n;
      }
    } else {
      sr = await nodeHash(sr, c);
    }
    fn >>= 1n;
    sn >>= 1n;
  }
  return sn === 0n && equalBytes(fr, root1) && equalBytes(sr, root2);
}

// ---------------------------------------------------------------------------------
// C2SP tlog-tiles: entry bundles and paths

/** Splits an entry bundle (2-byte big-endian length, then the entry, repeated). */
export function parseEntryBundle(bytes) {
  const out = [];
  let at = 0;
  while (at < bytes.length) {
    if (at + 2 > bytes.length) fail("malformed", "truncated entry bundle");
    const n = (bytes[at] << 8) | bytes[at + 1];
    if (at + 2 + n > bytes.length) fail("malformed", "truncated entry in bundle");
    out.push(bytes.slice(at + 2, at + 2 + n));
    at += 2 + n;
  }
  return out;
}

/** The tile index N in x-path form: 1234067 → "x001/x234/067" (C2SP tlog-tiles). */
export function tilePath(n) {
  let s = big(n).toString();
  s = s.padStart(Math.ceil(s.length / 3) * 3, "0");
  const groups = s.match(/.{3}/g);
  return groups.map((g, i) => (i < groups.length - 1 ? `x${g}` : g)).join("/");
}

/** The URL path of the entry bundle holding leaf `index` in a tree of `size`. */
export function entryBundlePath(index, size) {
  const n = big(index) / 256n;
  const full = big(size) / 256n;
  const w = n < full ? 256n : big(size) % 256n;
  return `tile/entries/${tilePath(n)}${w === 256n ? "" : `.p/${w}`}`;
}

// ---------------------------------------------------------------------------------
// Statements (DESIGN.md, "Entries (leaves) are signed statements")

/**
 * Parses a logged entry (a signed note whose text is an urne statement) for display
 * and checks: {type, fields: {name: value | [values]}, text, note}. Repeated fields
 * (`scrutin`, `authority` of an election) are arrays. The log and every monitor parse
 * strictly; this parser refuses what it cannot read and nothing more.
 */
export function parseStatement(entryText) {
  const note = parseNote(entryText);
  const lines = note.text.slice(0, -1).split("\n");
  const head = /^urne\/v1 ([a-z]+)$/.exec(lines[0]);
  if (!head) fail("malformed", `not an urne statement: ${lines[0]}`);
  const fields = {};
  for (const line of lines.slice(1)) {
    const sp = line.indexOf(" ");
    if (sp <= 0) fail("malformed", `bad field line: ${line}`);
    const k = line.slice(0, sp);
    const v = line.slice(sp + 1);
    if (k === "scrutin" || k === "authority") {
      // An election lists its scrutins and authorities; other types have one scrutin.
      if (head[1] === "election") (fields[k] ||= []).push(v);
      else fields[k] = v;
    } else {
      fields[k] = v;
    }
  }
  return { type: head[1], fields, text: note.text, note };
}

/** Tells whether `s` is a tag: 32 bytes as 64 lowercase hex digits. */
export const isTag = (s) => /^[0-9a-f]{64}$/.test(s);

// ---------------------------------------------------------------------------------
// Receipt codes in the voting systems' own encodings (client/src/receipt.rs, pinned
// by testdata/receipts/cases.json)

/**
 * Reads a receipt code as a voter pastes it: 64 hex digits (either case), Belenios's
 * smart ballot tracker (standard base64 of 32 bytes, 43 characters, or 44 ending in
 * `=`; it may start with `/`), or base64url. Spaces around are ignored. Returns
 * {hex, encoding}; throws `bad_receipt` otherwise (wrong length, non-zero unused
 * bits, mixed alphabets).
 */
export function parseReceipt(input) {
  const s = typeof input === "string" ? input.trim() : "";
  const bad = () => fail("bad_receipt", `not a receipt code: ${s.slice(0, 80)}`);
  if (/^[0-9a-fA-F]{64}$/.test(s)) return { hex: s.toLowerCase(), encoding: "hex" };
  let body;
  if (s.length === 43) body = s;
  else if (s.length === 44 && s.endsWith("=")) body = s.slice(0, 43);
  else bad();
  let encoding = "base64";
  if (/[-_]/.test(body)) {
    if (/[+/]/.test(body)) bad();
    body = body.replace(/-/g, "+").replace(/_/g, "/");
    encoding = "base64url";
  }
  let bytes;
  try {
    bytes = fromBase64(`${body}=`);
  } catch {
    bad();
  }
  if (bytes.length !== 32) bad();
  return { hex: toHex(bytes), encoding };
}

/**
 * Checks the log's word that the ballot at `index` was superseded (`revote last`):
 * `later` (the `superseded_by` of `/v1/receipts/<code>`) is a ballot of the same
 * election and scrutin at a later index, included in the tree of `cp` (opened).
 * Returns {index, receipt, time, sameCredential}; throws `bad_superseded` otherwise.
 */
export async function checkSuperseded(later, index, ballot, cp) {
  const bad = (why) => fail("bad_superseded", `the log says a later ballot supersedes this one, but ${why}`);
  if (!later || typeof later.entry !== "string" || !Number.isSafeInteger(later.index)) bad("its answer is malformed");
  let st;
  try {
    st = parseStatement(later.entry);
  } catch {
    bad(`entry ${later.index} is not a statement`);
  }
  if (
    st.type !== "ballot" ||
    st.fields.election !== ballot.fields.election ||
    st.fields.scrutin !== ballot.fields.scrutin ||
    later.index <= index
  ) {
    bad(`entry ${later.index} is not a later ballot of this election and scrutin`);
  }
  let proof;
  try {
    proof = later.inclusion_proof.map(fromBase64);
  } catch {
    bad("its inclusion proof is not base64 hashes");
  }
  const leaf = await leafHash(utf8(later.entry));
  if (later.index >= cp.size || !(await verifyInclusion(later.index, cp.size, leaf, proof, cp.root))) {
    bad(`entry ${later.index} is not proved in the tree of ${cp.size} entries`);
  }
  return {
    index: later.index,
    receipt: st.fields.receipt,
    time: st.fields.time,
    sameCredential: st.fields.credential === ballot.fields.credential,
  };
}

// ---------------------------------------------------------------------------------
// Gossip: equivocation evidence (client/src/gossip.rs, `Equivocation::verify`)

/**
 * Checks equivocation evidence with the log key alone: both notes are signed by the
 * log, and either they name two roots for one size, or the consistency proof leads
 * from `note_b`'s root to a root at `note_a`'s size other than `note_a`'s.
 * Returns {a, b} (the opened checkpoints); throws `not_evidence` otherwise.
 */
export async function verifyEquivocation(ev, logKey) {
  const bad = (why) => fail("not_evidence", why);
  let a;
  let b;
  try {
    a = await openCheckpoint(ev.note_a, logKey, []);
    b = await openCheckpoint(ev.note_b, logKey, []);
  } catch (e) {
    bad(`a note is not signed by the log: ${e.message}`);
  }
  if (a.size === 0n && b.size === 0n && !equalBytes(a.root, await sha256(new Uint8Array(0)))) {
    return { a, b };
  }
  if (a.size === b.size) {
    if (equalBytes(a.root, b.root)) bad("same size and same root");
    return { a, b };
  }
  if (a.size > b.size) bad("note_a must be the smaller");
  // The size-0 rule (client/src/consistency.rs): the empty tree has one root, SHA-256
  // of nothing (RFC 9162 §2.1.1). A signed size-0 checkpoint with another root is a
  // fork on its own; with that root, it is a prefix of every tree and proves nothing.
  if (a.size === 0n) {
    if (!equalBytes(a.root, await sha256(new Uint8Array(0)))) {
      if ((ev.proof || []).length > 0) bad("a consistency proof from tree size 0 is empty");
      return { a, b };
    }
    bad("a size-0 checkpoint with the empty-tree root is consistent with every tree");
  }
  let proof;
  let old;
  try {
    proof = (ev.proof || []).map(fromBase64);
    old = fromBase64(ev.old_root_from_proof || "");
  } catch (e) {
    bad(`malformed proof: ${e.message}`);
  }
  if (!(await verifyConsistency(a.size, b.size, proof, old, b.root))) {
    bad("the proof does not lead to note_b's root");
  }
  if (equalBytes(old, a.root)) bad("the proof leads to note_a's root: consistent");
  return { a, b };
}

// ---------------------------------------------------------------------------------
// The consistency decision (client/src/consistency.rs, `decide`), pinned for both by
// the shared cases of testdata/consistency/

/**
 * Decides whether `newNote` extends the checkpoint this party holds (`heldNote`, or
 * null the first time). `trust` = {logKey, witnessKeys, policy} (policy: a tree from
 * `thresholdPolicy` or `parsePolicy`, null for none). `shown` is "log" (the log's
 * current checkpoint: a smaller tree is a rollback) or "elsewhere" (a peer, a receipt:
 * it must only be consistent, either way). `prove(old, new)` resolves to the
 * consistency proof (array of 32-byte hashes) or null if the source refuses.
 *
 * Consistency is judged on the log's signature first, then the quorum: a rolled-back
 * log is exactly one the witnesses refuse to cosign. Resolves to {outcome, checkpoint,
 * evidence?} with outcome "consistent", "quorum_not_met", "rollback", "fork" or
 * "equivocation"; evidence = {note_a, note_b, proof, old_root_from_proof, reason}.
 * Throws `not_signed` if the log did not sign `newNote`.
 */
export async function decideConsistency(trust, heldNote, newNote, shown, prove) {
  let cp;
  try {
    cp = await openCheckpoint(newNote, trust.logKey, []);
  } catch (e) {
    fail("not_signed", `the checkpoint is not signed by the log: ${e.message}`);
  }
  const held = heldNote ? await openCheckpoint(heldNote, trust.logKey, []) : null;
  const elsewhere = shown !== "log";
  const forkKind = elsewhere ? "equivocation" : "fork";
  const conflict = (outcome, reason, proof = []) => {
    const [a, b] = !held || cp.size <= held.size ? [cp, held || cp] : [held, cp];
    return {
      outcome,
      checkpoint: cp,
      evidence: { origin: a.origin, reason, note_a: a.note, note_b: b.note, proof: proof.map(toBase64), old_root_from_proof: null },
    };
  };
  const emptyRoot = await sha256(new Uint8Array(0));
  if (cp.size === 0n && !equalBytes(cp.root, emptyRoot)) {
    return conflict(forkKind, "the log signed a tree of 0 entries whose root is not the empty tree's");
  }
  let proof = [];
  if (held) {
    if (cp.size === held.size) {
      if (!equalBytes(cp.root, held.root)) return conflict(forkKind, `two roots for tree size ${cp.size}`);
    } else if (cp.size < held.size && !elsewhere) {
      return conflict("rollback", `the log shows ${cp.size} entries after signing ${held.size}`);
    } else {
      const [small, large] = cp.size < held.size ? [cp, held] : [held, cp];
      if (small.size > 0n) {
        const p = await prove(small.size, large.size);
        if (p === null) return conflict(forkKind, `the log refuses to prove ${small.size} → ${large.size}`);
        if (!(await verifyConsistency(small.size, large.size, p, small.root, large.root))) {
          return conflict(forkKind, `the tree of ${large.size} entries does not extend the one of ${small.size}`, p);
        }
        proof = p;
      }
    }
  }
  let opened;
  try {
    opened = await openCheckpoint(newNote, trust.logKey, trust.witnessKeys || []);
  } catch {
    return { outcome: "quorum_not_met", checkpoint: cp };
  }
  if (!quorumMet(trust.policy ?? null, opened.cosigners.map((c) => c.name))) {
    return { outcome: "quorum_not_met", checkpoint: cp };
  }
  return { outcome: "consistent", checkpoint: opened, proof };
}

// ---------------------------------------------------------------------------------
// Authority signatures (DESIGN.md, "Election rules"; client/src/statement/roles.rs)

/** The role whose key must sign each statement type. */
export const SIGNER_ROLE = {
  credential: ["registrar"],
  revoke: ["registrar"],
  ballot: ["platform"],
  suspend: ["board"],
  resume: ["board"],
  intervention: ["board", "platform"],
  // A protocol's event: which of the two depends on the event (statement/roles.rs,
  // `belenios_signer`); the log and monitors check that, the page the election's key.
  event: ["board", "platform"],
};

/**
 * Reads the authorities of a sealed election from its `election` statement:
 * [{role, key}] with parsed note keys (`authority <role> <vkey>` lines).
 */
export async function electionAuthorities(electionStatement) {
  if (electionStatement.type !== "election") fail("malformed", "not an election statement");
  const out = [];
  for (const line of electionStatement.fields.authority || []) {
    const sp = line.indexOf(" ");
    if (sp <= 0) fail("malformed", `bad authority line: ${line}`);
    out.push({ role: line.slice(0, sp), key: await parseVerifierKey(line.slice(sp + 1)) });
  }
  return out;
}

/**
 * Verifies that a statement is signed by a key of the role its type needs, among the
 * election's authorities; a signature line of a known key that does not verify is an
 * error. Returns the signing authorities [{role, name}].
 */
export async function verifyAuthority(statement, authorities) {
  const roles = SIGNER_ROLE[statement.type];
  if (!roles) fail("malformed", `no single signer role for ${statement.type}`);
  const signers = [];
  for (const a of authorities) {
    if (await hasValidSignature(statement.note, a.key)) signers.push({ role: a.role, name: a.key.name });
  }
  if (!signers.some((s) => roles.includes(s.role))) {
    fail("wrong_signer", `${statement.type} not signed by a ${roles.join(" or ")} key of the election`, {
      type: statement.type,
    });
  }
  return signers.filter((s) => roles.includes(s.role));
}

// ---------------------------------------------------------------------------------
// What a voter's history means (as urne-client's `voter` module, on the same cases:
// testdata/voter/) and the alarm thresholds (as urne-client's `thresholds`, checked
// against testdata/thresholds.json).

/** More reissues than this in one hour of one election is flagged (as the monitor). */
export const REISSUE_BURST_PER_HOUR = 50;
/** A ballot this many minutes or less after a watched issue of its credential is flagged. */
export const REISSUE_THEN_VOTE_MINUTES = 30;

/**
 * Whether a ballot soon after this credential issue is flagged: an issue by the
 * helpdesk (channel or stated reason), and any reissue but a batch one.
 */
export function watchedBeforeVote(channel, reason, reissue) {
  return channel === "helpdesk" || reason === "reissue-helpdesk" || (channel !== "batch" && (reissue || reason !== "initial"));
}

/**
 * Reads a voter's proved history, in log order: entries {index, time (RFC 3339), type
 * (`credential`, `revoke`, `ballot`), credential, channel, reason, reissue, scrutin};
 * returns one {index, meaning, minutes?, after?} per entry. Meanings:
 * `credential_issued`, `helpdesk_reissue`, `batch_reissue`, `reissue`, `revocation`,
 * `ballot`, `reissue_then_vote` (all but the first and `ballot` are warnings).
 */
export function readVoterHistory(history) {
  const watched = new Map();
  return history.map((e) => {
    const t = Math.floor(Date.parse(e.time) / 1000);
    if (e.type === "credential") {
      if (watchedBeforeVote(e.channel, e.reason, e.reissue)) watched.set(e.credential, { t, index: e.index });
      let meaning;
      if (!e.reissue && e.reason === "initial") meaning = "credential_issued";
      else if (e.channel === "batch") meaning = "batch_reissue";
      else if (e.channel === "helpdesk" || e.reason === "reissue-helpdesk") meaning = "helpdesk_reissue";
      else meaning = "reissue";
      return { index: e.index, meaning };
    }
    if (e.type === "revoke") return { index: e.index, meaning: "revocation" };
    const w = watched.get(e.credential);
    if (w && t - w.t <= REISSUE_THEN_VOTE_MINUTES * 60) {
      return { index: e.index, meaning: "reissue_then_vote", minutes: Math.floor(Math.max(0, t - w.t) / 60), after: w.index };
    }
    return { index: e.index, meaning: "ballot" };
  });
}

/** The i18n key of a warning's words, by meaning (as urne-client's `Read::words_key`). */
export const VOTER_WARNING_WORDS = {
  helpdesk_reissue: "history.warn.helpdesk",
  batch_reissue: "history.warn.batch",
  reissue: "history.warn.reissue",
  revocation: "history.warn.revoke",
  reissue_then_vote: "history.warn.vote_after_reissue",
};
// The ballot-rate alarm (client/src/ballot_rate.rs, pinned by testdata/ballot-rate):
// an hour whose ballots per hour of open, unsuspended time fall below the mean of the
// judged hours before it divided by DROP_FACTOR.

/** The thresholds of urne-client's `ballot_rate` (same names, same values). */
export const BALLOT_RATE = Object.freeze({
  WINDOW_HOURS: 3,
  DROP_FACTOR: 4,
  MIN_LEVEL_PER_HOUR: 20,
  MIN_ACTIVE_SECS: 1800,
});

/**
 * The periods [from, to) (Unix seconds) voting was open and not suspended, from the
 * lifecycle events [[time, kind]] in log order (`open`, `suspend`, `resume`, `close`,
 * `void`; other kinds are ignored); a period still running ends at `now`.
 */
export function activePeriods(events, now) {
  const out = [];
  let since = null;
  let open = false;
  for (const [t, kind] of events) {
    if (kind === "open" || kind === "resume") {
      if (kind === "open") open = true;
      if (open && since === null) since = t;
    } else if (kind === "suspend" || kind === "close" || kind === "void") {
      if (since !== null) {
        if (t > since) out.push([since, t]);
        since = null;
      }
      if (kind !== "suspend") open = false;
    }
  }
  if (since !== null && now > since) out.push([since, now]);
  return out;
}

/** Seconds of the hour starting at `hour` covered by `periods`. */
export function activeSecs(hour, periods) {
  const end = hour + 3600;
  return periods.reduce((n, [a, b]) => n + Math.max(0, Math.min(b, end) - Math.max(a, hour)), 0);
}

/**
 * The hours whose ballot rate fell far below the recent level: `ballots` is
 * [[hourStart, count]], `periods` from activePeriods. Returns [{hour, ballots, rate,
 * level}] as urne-client's `rate_drops`.
 */
export function rateDrops(ballots, periods) {
  if (periods.length === 0) return [];
  const first = Math.min(...periods.map((p) => p[0]));
  const last = Math.max(...periods.map((p) => p[1]));
  const count = (h) => ballots.filter(([k]) => k === h).reduce((n, [, c]) => n + c, 0);
  const R = BALLOT_RATE;
  const recent = [];
  const out = [];
  for (let hour = Math.floor(first / 3600) * 3600; hour < last; hour += 3600) {
    const active = activeSecs(hour, periods);
    if (active < R.MIN_ACTIVE_SECS) continue;
    const n = count(hour);
    const rate = Math.floor((n * 3600) / active);
    const window = recent.slice(-R.WINDOW_HOURS);
    if (window.length >= 2) {
      const level = Math.floor(window.reduce((a, b) => a + b, 0) / window.length);
      if (level >= R.MIN_LEVEL_PER_HOUR && rate * R.DROP_FACTOR < level) out.push({ hour, ballots: n, rate, level });
    }
    recent.push(rate);
  }
  return out;
}

// ---------------------------------------------------------------------------------
// What people paste

/**
 * Finds the 64-hex code (a receipt or a voter tag) in what someone pasted: spaces,
 * line breaks and dashes inside it (an e-mail wraps long words), upper case, or the
 * whole link that carries it. Returns {code} or {problem, found} where problem is
 * `empty`, `length` (found hex digits), `chars` (the first foreign character) or
 * `several` (more than one code in the text).
 */
export function findCode(raw) {
  const text = String(raw ?? "").normalize("NFKC").toLowerCase();
  // Whitespace of any kind (also no-break and zero-width spaces) is never part of a code.
  const tokens = text.split(/[\s\u200b-\u200d\u2060\ufeff]+/u).filter(Boolean);
  const squeezed = tokens.join("");
  if (squeezed.length === 0) return { problem: "empty" };
  const whole = squeezed.replace(/-/g, "");
  if (/^[0-9a-f]{64}$/.test(whole)) return { code: whole };
  // In a sentence or a link: a run of hex digits that starts a word or follows a
  // separator (`/`, `#`, `:` …), continued over the following words while they are hex
  // digits (an e-mail wraps a long code), ending at a word's end or a separator.
  const codes = new Set();
  let longest = 0;
  tokens.forEach((tok, i) => {
    for (const m of tok.matchAll(/(?<![0-9a-z])[0-9a-f-]+/g)) {
      let acc = m[0].replace(/-/g, "");
      let end = m.index + m[0].length;
      let j = i;
      let piece = tok;
      while (acc.length < 64 && end === piece.length && j + 1 < tokens.length) {
        const next = /^[0-9a-f-]+/.exec(tokens[j + 1]);
        if (!next || /^[0-9a-z]/.test(tokens[j + 1].slice(next[0].length))) break;
        acc += next[0].replace(/-/g, "");
        j += 1;
        piece = tokens[j];
        end = next[0].length;
      }
      const after = piece.slice(end);
      if (/^[0-9a-z]/.test(after)) continue;
      longest = Math.max(longest, acc.length);
      if (acc.length === 64) codes.add(acc);
    }
  });
  if (codes.size === 1) return { code: [...codes][0] };
  if (codes.size > 1) return { problem: "several" };
  if (/^[0-9a-f-]+$/.test(squeezed)) return { problem: "length", found: whole.length };
  if (tokens.length === 1 && !/[/:#?=]/.test(squeezed)) {
    return { problem: "chars", found: [...whole].find((c) => !/[0-9a-f]/.test(c)) };
  }
  return { problem: "length", found: longest };
}
