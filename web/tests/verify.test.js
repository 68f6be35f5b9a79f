// Unit tests of the in-browser verifier (web/verify.js), run by Node's test runner
// with Node's WebCrypto: published vectors (RFC 6962 / Certificate Transparency tree
// heads and proofs, Go's signed-note example keys and signatures, the C2SP tlog-tiles
// path example), an independent transcription of RFC 6962 §2.1 as the reference for
// every proof of every tree up to 40 leaves, and tampering that must fail.

import { test } from "node:test";
import assert from "node:assert/strict";
import { createHash, generateKeyPairSync, sign } from "node:crypto";
import * as v from "../verify.js";

const h = (b) => new Uint8Array(createHash("sha256").update(b).digest());
const hex = (s) => new Uint8Array(Buffer.from(s, "hex"));

// --- An independent transcription of RFC 6962 §2.1 (MTH, PATH, PROOF) -------------
const k = (n) => {
  let x = 1;
  while (x * 2 < n) x *= 2;
  return x;
};
const mth = (d) =>
  d.length === 0
    ? h(new Uint8Array(0))
    : d.length === 1
      ? h(Buffer.concat([Buffer.of(0), d[0]]))
      : h(Buffer.concat([Buffer.of(1), mth(d.slice(0, k(d.length))), mth(d.slice(k(d.length)))]));
const path = (m, d) => {
  if (d.length <= 1) return [];
  const s = k(d.length);
  return m < s
    ? [...path(m, d.slice(0, s)), mth(d.slice(s))]
    : [...path(m - s, d.slice(s)), mth(d.slice(0, s))];
};
const subproof = (m, d, b) => {
  if (m === d.length) return b ? [] : [mth(d)];
  const s = k(d.length);
  return m <= s
    ? [...subproof(m, d.slice(0, s), b), mth(d.slice(s))]
    : [...subproof(m - s, d.slice(s), false), mth(d.slice(0, s))];
};

// --- Published vectors -----------------------------------------------------------
// Certificate Transparency's RFC 6962 test data (certificate-transparency-go, merkle
// tests): eight leaves and MTH(D[n]) for n = 0..8, some PATHs and PROOFs.
const CT_LEAVES = ["", "00", "10", "2021", "3031", "40414243", "5051525354555657",
  "606162636465666768696a6b6c6d6e6f"].map(hex);
const CT_ROOTS = [
  "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855",
  "6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
  "fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125",
  "aeb6bcfe274b70a14fb067a5e5578264db0fa9b51af5e0ba159158f329e06e77",
  "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7",
  "4e3bbb1f7b478dcfe71fb631631519a3bca12c9aefca1612bfce4c13a86264d4",
  "76e67dadbcdf1e10e1b74ddc608abd2f98dfb16fbce75277b5232a127f2087ef",
  "ddb89be403809e325750d3d263cd78929c2942b7942a34b77e122c9594a74c8c",
  "5dc9da79a70659a9ad559cb701ded9a2ab9d823aad2f4960cfe370eff4604328",
];
const CT_INCLUSION = [
  [0, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
    "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]],
  [5, 8, ["bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b",
    "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]],
  [2, 3, ["fac54203e7cc696cf0dfcb42c92a1d9dbaf70ad9e621f4bd8d98662f00e3c125"]],
  [1, 5, ["6e340b9cffb37a989ca544e6bb780a2c78901d3fb33738768511a30617afa01d",
    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]],
];
const CT_CONSISTENCY = [
  [1, 8, ["96a296d224f285c67bee93c30f8a309157f0daa35dc5b87e410b78630a09cfc7",
    "5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
    "6b47aaf29ee3c2af9af889bc1fb9254dabd31177f16232dd6aab035ca39bf6e4"]],
  [6, 8, ["0ebc5d3437fbe2db158b9f126a1d118e308181031d0a949f8dededebc558ef6a",
    "ca854ea128ed050b41b35ffc1b87b8eb2bde461e9e3b5596ece6b9d5975a0ae0",
    "d37ee418976dd95753c1c73862b9398fa2a2cf9b4ff0fdfe8b30cd95209614b7"]],
  [2, 5, ["5f083f0a1a33ca076a95279832580db3e0ef4584bdff1f54c8a360f50de3031e",
    "bc1a0643b12e4d2d7c77918f44e0f4f79a838b6cf9ec5b5c283e1f4d88599e6b"]],
];

// Go's golang.org/x/mod/sumdb/note example keys and signatures (note_test.go).
const PETER_VKEY = "PeterNeumann+c74f20a3+ARpc2QcUPDhMQegwxbzhKqiBfsVkmqq/LDE4izWy10TW";
const ENOCH_VKEY = "EnochRoot+af0cfe78+ATtqJ7zOtqQtYqOo0CpvDXNlMhV3HeJDpjrASKGLWdop";
const TEXT = "If you think cryptography is the answer to your problem,\n" +
  "then you don't know what your problem is.\n";
const PETER_SIG = "— PeterNeumann x08go/ZJkuBS9UG/SffcvIAQxVBtiFupLLr8pAcElZInNIuGUgYN1FFYC2pZSNXgKvqfqdngotpRZb6KE6RyyBwJnAM=\n";
const ENOCH_SIG = "— EnochRoot rwz+eBzmZa0SO3NbfRGzPCpDckykFXSdeX+MNtCOXm2/5n2tiOHp+vAF1aGrQ5ovTG01oOTGwnWLox33WWd1RvMc+QQ=\n";

const flip = (proof, i, bit = 0) =>
  proof.map((p, j) => (j === i ? p.map((b, n) => (n === 0 ? b ^ (1 << bit) : b)) : p));

test("tree heads equal the RFC 6962 / CT published roots", async () => {
  for (let n = 0; n <= 8; n++) {
    assert.equal(v.toHex(mth(CT_LEAVES.slice(0, n))), CT_ROOTS[n], `reference MTH, size ${n}`);
  }
  assert.equal(v.toHex(await v.leafHash(new Uint8Array(0))), CT_ROOTS[1]);
  const l0 = await v.leafHash(CT_LEAVES[0]);
  const l1 = await v.leafHash(CT_LEAVES[1]);
  assert.equal(v.toHex(await v.nodeHash(l0, l1)), CT_ROOTS[2]);
});

test("published inclusion and consistency vectors verify, mutations fail", async () => {
  for (const [m, n, p] of CT_INCLUSION) {
    const proof = p.map(hex);
    assert.deepEqual(path(m, CT_LEAVES.slice(0, n)).map(v.toHex), p, "reference PATH");
    const leaf = await v.leafHash(CT_LEAVES[m]);
    assert.ok(await v.verifyInclusion(m, n, leaf, proof, hex(CT_ROOTS[n])), `${m} in ${n}`);
    for (let i = 0; i < proof.length; i++) {
      assert.ok(!(await v.verifyInclusion(m, n, leaf, flip(proof, i), hex(CT_ROOTS[n]))));
    }
  }
  for (const [m, n, p] of CT_CONSISTENCY) {
    const proof = p.map(hex);
    assert.deepEqual(subproof(m, CT_LEAVES.slice(0, n), true).map(v.toHex), p, "reference PROOF");
    assert.ok(await v.verifyConsistency(m, n, proof, hex(CT_ROOTS[m]), hex(CT_ROOTS[n])));
    for (let i = 0; i < proof.length; i++) {
      assert.ok(!(await v.verifyConsistency(m, n, flip(proof, i, 3), hex(CT_ROOTS[m]), hex(CT_ROOTS[n]))));
    }
  }
});

test("every proof of every tree up to 40 leaves verifies; tampered ones fail", async () => {
  const data = Array.from({ length: 40 }, (_, i) => Buffer.from(`entry ${i}`));
  for (let n = 1; n <= 40; n++) {
    const d = data.slice(0, n);
    const root = mth(d);
    for (let m = 0; m < n; m++) {
      const leaf = await v.leafHash(d[m]);
      const p = path(m, d);
      assert.ok(await v.verifyInclusion(m, n, leaf, p, root), `inclusion ${m} in ${n}`);
      assert.ok(!(await v.verifyInclusion(m, n, leaf, p, mth(d.slice(0, n - 1)))), "wrong root");
      if (p.length > 0) {
        assert.ok(!(await v.verifyInclusion(m, n, leaf, p.slice(1), root)), "hash missing");
        assert.ok(!(await v.verifyInclusion(m, n, leaf, flip(p, p.length - 1, 7), root)), "bit flipped");
        assert.ok(!(await v.verifyInclusion(m, n, leaf, [...p, root], root)), "hash added");
      }
      if (n > 1) assert.ok(!(await v.verifyInclusion((m + 1) % n, n, leaf, p, root)), "wrong index");
    }
    for (let m = 1; m <= n; m++) {
      const p = subproof(m, d, true);
      const old = mth(d.slice(0, m));
      assert.ok(await v.verifyConsistency(m, n, p, old, root), `consistency ${m} → ${n}`);
      if (m < n) {
        assert.ok(!(await v.verifyConsistency(m, n, p.slice(0, -1), old, root)), "hash missing");
        assert.ok(!(await v.verifyConsistency(m, n, flip(p, 0, 5), old, root)), "bit flipped");
        assert.ok(!(await v.verifyConsistency(m, n, p, root, root)), "wrong old root");
        if (m > 1) assert.ok(!(await v.verifyConsistency(m - 1, n, p, old, root)), "wrong old size");
      }
    }
    assert.ok(await v.verifyConsistency(0, n, [], mth([]), root), "the empty tree");
    assert.ok(!(await v.verifyConsistency(n, n - 1, [], root, root)), "a smaller tree");
  }
});

test("huge tree sizes are handled exactly (BigInt)", async () => {
  // A leaf at index 2^40 in a tree of 2^40 + 1: its proof is one hash, the root of the
  // complete left subtree; the arithmetic must not wrap at 2^31 or 2^53.
  const left = h(Buffer.from("left"));
  const leaf = await v.leafHash(Buffer.from("right"));
  const root = await v.nodeHash(left, leaf);
  assert.ok(await v.verifyInclusion(2n ** 40n, 2n ** 40n + 1n, leaf, [left], root));
  assert.ok(!(await v.verifyInclusion(2n ** 40n - 1n, 2n ** 40n + 1n, leaf, [left], root)));
});

test("Go's note vectors: keys, key IDs and signatures, byte for byte", async () => {
  const peter = await v.parseVerifierKey(PETER_VKEY);
  assert.equal(peter.name, "PeterNeumann");
  assert.equal(v.toHex(peter.id), "c74f20a3");
  const enoch = await v.parseVerifierKey(ENOCH_VKEY);
  assert.equal(v.toHex(enoch.id), "af0cfe78");
  const note = v.parseNote(`${TEXT}\n${PETER_SIG}${ENOCH_SIG}`);
  assert.equal(note.text, TEXT);
  assert.equal(note.signatures.length, 2);
  assert.ok(await v.hasValidSignature(note, peter));
  assert.ok(await v.hasValidSignature(note, enoch));
  // The other key's signature is not Peter's: absent, not valid.
  assert.ok(!(await v.hasValidSignature(v.parseNote(`${TEXT}\n${ENOCH_SIG}`), peter)));
  // A changed text makes Peter's signature an error.
  await assert.rejects(
    v.hasValidSignature(v.parseNote(`${TEXT.replace("answer", "Answer")}\n${PETER_SIG}`), peter),
    (e) => e.code === "bad_signature",
  );
  // TestNewVerifier: every one-byte increment of the key is refused.
  for (let i = 0; i < PETER_VKEY.length; i++) {
    const m = PETER_VKEY.slice(0, i) + String.fromCharCode(PETER_VKEY.charCodeAt(i) + 1) + PETER_VKEY.slice(i + 1);
    await assert.rejects(v.parseVerifierKey(m), (e) => e.code === "bad_key", m);
  }
  // Malformed notes.
  for (const bad of [TEXT, `${TEXT}\n`, `${TEXT}\n${PETER_SIG.trimEnd()}`, `${TEXT}\n— PeterNeumann !!\n`]) {
    assert.throws(() => v.parseNote(bad), (e) => e.code === "malformed", JSON.stringify(bad));
  }
});

async function cosignerKeys(name) {
  const { publicKey, privateKey } = generateKeyPairSync("ed25519");
  const pub = new Uint8Array(publicKey.export({ format: "der", type: "spki" }).subarray(-32));
  const id = await v.keyId(name, v.ALG_COSIGNATURE, pub);
  const vkey = `${name}+${v.toHex(id)}+${v.toBase64(Uint8Array.of(4, ...pub))}`;
  return { vkey, id, privateKey };
}

async function noteKeys(name) {
  const { publicKey, privateKey } = generateKeyPairSync("ed25519");
  const pub = new Uint8Array(publicKey.export({ format: "der", type: "spki" }).subarray(-32));
  const id = await v.keyId(name, v.ALG_ED25519, pub);
  const vkey = `${name}+${v.toHex(id)}+${v.toBase64(Uint8Array.of(1, ...pub))}`;
  return { vkey, id, privateKey };
}

const sigLine = (name, bytes) => `— ${name} ${v.toBase64(bytes)}\n`;

test("checkpoints: log signature, cosignatures, quorum policies", async () => {
  const log = await noteKeys("example.com/log");
  const w1 = await cosignerKeys("w1.example");
  const w2 = await cosignerKeys("w2.example");
  const body = `example.com/log\n42\n${v.toBase64(new Uint8Array(32).fill(7))}\n`;
  const logSig = sigLine(log.vkey.split("+")[0], Buffer.concat([log.id, sign(null, Buffer.from(body), log.privateKey)]));
  const cosig = (w, t) => {
    const ts = Buffer.alloc(8);
    ts.writeBigUInt64BE(BigInt(t));
    const msg = Buffer.from(`cosignature/v1\ntime ${t}\n${body}`);
    return sigLine(w.vkey.split("+")[0], Buffer.concat([w.id, ts, sign(null, msg, w.privateKey)]));
  };
  const logKey = await v.parseVerifierKey(log.vkey);
  const wk = [await v.parseVerifierKey(w1.vkey), await v.parseVerifierKey(w2.vkey)];
  const cp = await v.openCheckpoint(`${body}\n${logSig}${cosig(w1, 1700000000)}${cosig(w2, 1700000001)}`, logKey, wk);
  assert.equal(cp.size, 42n);
  assert.deepEqual(cp.cosigners.map((c) => [c.name, c.time]), [["w1.example", 1700000000], ["w2.example", 1700000001]]);
  assert.ok(v.quorumMet(v.thresholdPolicy(["w1.example", "w2.example"], 2), cp.cosigners.map((c) => c.name)));
  // Unknown witnesses are kept aside, not counted.
  const only = await v.openCheckpoint(`${body}\n${logSig}${cosig(w1, 5)}`, logKey, [wk[1]]);
  assert.equal(only.cosigners.length, 0);
  assert.equal(only.unknown, 1);
  // A cosignature over another time is an error; so is a missing log signature.
  const forged = cosig(w1, 5).replace(/ (\S+)\n$/, (_, b) => {
    const raw = v.fromBase64(b);
    raw[11] ^= 1; // the timestamp's last byte
    return ` ${v.toBase64(raw)}\n`;
  });
  await assert.rejects(v.openCheckpoint(`${body}\n${logSig}${forged}`, logKey, wk), (e) => e.code === "bad_cosignature");
  await assert.rejects(v.openCheckpoint(`${body}\n${cosig(w1, 5)}`, logKey, wk), (e) => e.code === "no_log_signature");
  const other = await v.parseVerifierKey((await noteKeys("other.example/log")).vkey);
  await assert.rejects(v.openCheckpoint(`${body}\n${logSig}`, other, wk), (e) => e.code === "wrong_origin");
  // Strict bodies.
  for (const b of ["o\n01\nAAAA\n", "o\n1\n", "o\n1\nAAAA\n", "o\n-1\n" + v.toBase64(new Uint8Array(32)) + "\n"]) {
    assert.throws(() => v.parseCheckpointBody(b), (e) => e.code === "malformed", b);
  }
});

test("tlog-policy files: groups, thresholds, quorum", () => {
  const p = v.parsePolicy(
    "# union policy\nlog example.com/log+00000000+AQ==\n" +
      "witness a a.example+1+x\nwitness b b.example+1+x\nwitness c c.example+1+x\n" +
      "group g 2 a b c\nquorum g\n",
  );
  assert.equal(p.witnesses.length, 3);
  assert.ok(v.quorumMet(p.quorum, ["a", "c"]));
  assert.ok(!v.quorumMet(p.quorum, ["b"]));
  assert.equal(v.parsePolicy("quorum none\n").quorum, null);
  for (const bad of ["witness a k\nquorum b\n", "group g 1 x\nquorum g\n", "witness a k\n",
    "witness a k\nwitness a k2\nquorum a\n", "witness a k\ngroup g 2 a\nquorum g\n", "frobnicate\nquorum none\n"]) {
    assert.throws(() => v.parsePolicy(bad), (e) => e.code === "bad_policy", bad);
  }
});

test("tiles: x-paths and entry bundles (C2SP tlog-tiles)", () => {
  assert.equal(v.tilePath(1234067), "x001/x234/067");
  assert.equal(v.tilePath(0), "000");
  assert.equal(v.tilePath(999), "999");
  assert.equal(v.tilePath(1000), "x001/000");
  assert.equal(v.entryBundlePath(3, 10), "tile/entries/000.p/10");
  assert.equal(v.entryBundlePath(300, 1000), "tile/entries/001");
  assert.equal(v.entryBundlePath(256 * 3 + 1, 256 * 3 + 5), "tile/entries/003.p/5");
  const bundle = Uint8Array.of(0, 2, 0x61, 0x62, 0, 0, 0, 1, 0x63);
  assert.deepEqual(v.parseEntryBundle(bundle).map((e) => Buffer.from(e).toString()), ["ab", "", "c"]);
  assert.throws(() => v.parseEntryBundle(Uint8Array.of(0, 3, 0x61)), (e) => e.code === "malformed");
});

test("statements parse for display; base64 and hex are strict", () => {
  const s = v.parseStatement(
    "urne/v1 ballot\nelection e\ntime 2026-12-01T10:00:03Z\nscrutin s1\ncredential " +
      "a".repeat(64) + "\nreceipt " + "b".repeat(64) + "\n\n— platform.example AAAAAAA=\n",
  );
  assert.equal(s.type, "ballot");
  assert.equal(s.fields.receipt, "b".repeat(64));
  assert.equal(s.fields.scrutin, "s1");
  assert.throws(() => v.parseStatement("hello\n\n— a AAAAAAA=\n"), (e) => e.code === "malformed");
  assert.throws(() => v.fromBase64("AAA"), (e) => e.code === "malformed");
  assert.throws(() => v.fromBase64("AAB="), (e) => e.code === "malformed", "non-canonical padding bits");
  assert.ok(v.isTag("0".repeat(64)));
  assert.ok(!v.isTag("0".repeat(63) + "G"));
});

test("equivocation evidence: verified with the log key alone", async () => {
  const log = await noteKeys("example.com/log");
  const logKey = await v.parseVerifierKey(log.vkey);
  const signed = (size, rootHex) => {
    const body = `example.com/log\n${size}\n${v.toBase64(hex(rootHex))}\n`;
    return `${body}\n${sigLine("example.com/log", Buffer.concat([log.id, sign(null, Buffer.from(body), log.privateKey)]))}`;
  };
  const [p68] = CT_CONSISTENCY.filter(([m, n]) => m === 6 && n === 8).map(([, , p]) => p);
  const fake = "11".repeat(32);
  const note6 = signed(6, CT_ROOTS[6]);
  const note8 = signed(8, CT_ROOTS[8]);
  // Consistent checkpoints are not evidence.
  await assert.rejects(
    v.verifyEquivocation({ note_a: note6, note_b: note8, proof: p68.map((x) => v.toBase64(hex(x))), old_root_from_proof: v.toBase64(hex(CT_ROOTS[6])) }, logKey),
    (e) => e.code === "not_evidence",
  );
  // A size-6 checkpoint with another root than the one the size-8 tree proves: evidence.
  const ev = { note_a: signed(6, fake), note_b: note8, proof: p68.map((x) => v.toBase64(hex(x))), old_root_from_proof: v.toBase64(hex(CT_ROOTS[6])) };
  const { a, b } = await v.verifyEquivocation(ev, logKey);
  assert.equal(a.size, 6n);
  assert.equal(b.size, 8n);
  // A proof that does not lead to note_b's root proves nothing.
  await assert.rejects(v.verifyEquivocation({ ...ev, old_root_from_proof: v.toBase64(hex(fake)) }, logKey), (e) => e.code === "not_evidence");
  // Same size, two roots: evidence; same size, same root: not.
  await v.verifyEquivocation({ note_a: note8, note_b: signed(8, fake), proof: [] }, logKey);
  await assert.rejects(v.verifyEquivocation({ note_a: note8, note_b: note8, proof: [] }, logKey), (e) => e.code === "not_evidence");
  // The empty tree is consistent with everything, whatever root a "proof" claims.
  await assert.rejects(
    v.verifyEquivocation({ note_a: signed(0, CT_ROOTS[0]), note_b: note8, proof: [], old_root_from_proof: v.toBase64(hex(fake)) }, logKey),
    (e) => e.code === "not_evidence",
  );
  // A signed empty tree with another root is a fork on its own (the size-0 rule of
  // client/src/consistency.rs, pinned by testdata/consistency/size0_*.json).
  await v.verifyEquivocation({ note_a: signed(0, fake), note_b: note8, proof: [] }, logKey);
  await assert.rejects(
    v.verifyEquivocation({ note_a: signed(0, fake), note_b: note8, proof: [v.toBase64(hex(fake))] }, logKey),
    (e) => e.code === "not_evidence",
  );
  // Notes signed by another key are not this log's evidence.
  const other = await v.parseVerifierKey((await noteKeys("example.com/log")).vkey);
  await assert.rejects(v.verifyEquivocation(ev, other), (e) => e.code === "not_evidence");
});

test("the vendored chart library is exactly the release pinned in package-lock.json", async () => {
  const { readFileSync } = await import("node:fs");
  const { fileURLToPath } = await import("node:url");
  const at = (p) => readFileSync(fileURLToPath(new URL(p, import.meta.url)));
  const lock = JSON.parse(at("../package-lock.json"));
  assert.equal(lock.packages["node_modules/uplot"].version, JSON.parse(at("../node_modules/uplot/package.json")).version);
  for (const f of ["uPlot.iife.min.js", "uPlot.min.css"]) {
    assert.ok(at(`../vendor/${f}`).equals(at(`../node_modules/uplot/dist/${f}`)), `vendor/${f} differs from the npm release`);
  }
});

test("authority signatures: the role the statement type needs, from the sealed election", async () => {
  const platform = await noteKeys("platform.example");
  const registrar = await noteKeys("registrar.example");
  const board = await noteKeys("board.example");
  const election = v.parseStatement(
    `urne/v1 election\nelection e\ntime 2026-12-01T08:00:00Z\ntitle T\nscrutin s\n` +
      `authority board ${board.vkey}\nauthority registrar ${registrar.vkey}\nauthority platform ${platform.vkey}\n` +
      `quorum 1\nopens 2026-12-01T08:00:00Z\ncloses 2026-12-01T18:00:00Z\n\n— board.example AAAAAAA=\n`,
  );
  const authorities = await v.electionAuthorities(election);
  assert.deepEqual(authorities.map((a) => a.role), ["board", "registrar", "platform"]);
  const text = `urne/v1 ballot\nelection e\ntime 2026-12-01T10:00:00Z\nscrutin s\ncredential ${"a".repeat(64)}\nreceipt ${"b".repeat(64)}\n`;
  const signedBy = (k, name) => v.parseStatement(`${text}\n${sigLine(name, Buffer.concat([k.id, sign(null, Buffer.from(text), k.privateKey)]))}`);
  assert.deepEqual(await v.verifyAuthority(signedBy(platform, "platform.example"), authorities), [{ role: "platform", name: "platform.example" }]);
  // The registrar's key is a key of the election, but not the one ballots need.
  await assert.rejects(v.verifyAuthority(signedBy(registrar, "registrar.example"), authorities), (e) => e.code === "wrong_signer");
  // A stranger's key counts for nothing.
  const stranger = await noteKeys("platform.example");
  await assert.rejects(v.verifyAuthority(signedBy(stranger, "platform.example"), authorities), (e) => e.code === "wrong_signer");
  // A platform signature over other bytes is an error.
  const forged = signedBy(platform, "platform.example");
  forged.note.textBytes = v.utf8(text.replace("10:00:00", "10:00:01"));
  await assert.rejects(v.verifyAuthority(forged, authorities), (e) => e.code === "bad_signature");
});

test("the shared consistency cases (testdata/consistency) decide as in Rust", async () => {
  const { readFileSync, readdirSync } = await import("node:fs");
  const { fileURLToPath } = await import("node:url");
  const dir = fileURLToPath(new URL("../../testdata/consistency/", import.meta.url));
  const files = readdirSync(dir).filter((f) => f.endsWith(".json")).sort();
  assert.ok(files.length >= 20, `only ${files.length} cases`);
  assert.ok(files.some((f) => f.startsWith("size0_")), "the size-0 cases are there");
  for (const f of files) {
    const c = JSON.parse(readFileSync(dir + f, "utf8"));
    const logKey = await v.parseVerifierKey(c.log_key);
    const witnessKeys = await Promise.all(c.witnesses.map((w) => v.parseVerifierKey(w)));
    const trust = { logKey, witnessKeys, policy: v.thresholdPolicy(witnessKeys.map((w) => w.name), c.quorum) };
    const prove = async () => (c.proof === null ? null : c.proof.map(v.fromBase64));
    let outcome;
    let verifiable = null;
    try {
      const d = await v.decideConsistency(trust, c.held, c.new, c.shown, prove);
      outcome = d.outcome;
      if (d.evidence) {
        verifiable = await v.verifyEquivocation(d.evidence, logKey).then(() => true, () => false);
      }
    } catch (e) {
      if (e.code !== "not_signed") throw e;
      outcome = "not_signed";
    }
    assert.equal(outcome, c.expected, `${f}: ${c.description}`);
    assert.equal(verifiable, c.evidence_verifiable, `${f}: evidence verifiable`);
  }
});

test("the shared evidence cases (testdata/evidence) verify as in Rust, size 0 included", async () => {
  const { readFileSync, readdirSync } = await import("node:fs");
  const { fileURLToPath } = await import("node:url");
  const dir = fileURLToPath(new URL("../../testdata/evidence/", import.meta.url));
  const files = readdirSync(dir).filter((f) => f.endsWith(".json")).sort();
  assert.ok(files.length >= 10, `only ${files.length} cases`);
  for (const f of files) {
    const c = JSON.parse(readFileSync(dir + f, "utf8"));
    const logKey = await v.parseVerifierKey(c.log_key);
    const proves = await v.verifyEquivocation(c.evidence, logKey).then(
      () => true,
      (e) => {
        assert.equal(e.code, "not_evidence", `${f}: ${e.message}`);
        return false;
      },
    );
    assert.equal(proves, c.proves_equivocation, `${f}: ${c.description}`);
  }
});

test("the shared ballot-rate cases (testdata/ballot-rate) decide as urne-client's ballot_rate", async () => {
  const { readFileSync, readdirSync } = await import("node:fs");
  const { fileURLToPath } = await import("node:url");
  const dir = fileURLToPath(new URL("../../testdata/ballot-rate/", import.meta.url));
  const files = readdirSync(dir).filter((f) => f.endsWith(".json")).sort();
  assert.ok(files.length >= 4, `only ${files.length} cases`);
  for (const f of files) {
    const c = JSON.parse(readFileSync(dir + f, "utf8"));
    const periods = v.activePeriods(c.events, c.now);
    assert.deepEqual(periods, c.periods, `${f}: periods`);
    assert.deepEqual(v.rateDrops(c.ballots, periods), c.drops, f);
  }
  // The thresholds are urne-client's: read from its source, not copied by hand.
  const rs = readFileSync(fileURLToPath(new URL("../../client/src/ballot_rate.rs", import.meta.url)), "utf8");
  for (const [name, value] of Object.entries(v.BALLOT_RATE)) {
    const m = new RegExp(`pub const ${name}: \\w+ = (\\d+);`).exec(rs);
    assert.ok(m, `${name} in ballot_rate.rs`);
    assert.equal(Number(m[1]), value, name);
  }
});

test("findCode: what people paste (spaces, line breaks, upper case, dashes, the whole link) and what it refuses", () => {
  const c = createHash("sha256").update("a receipt").digest("hex");
  for (const ok of [
    c,
    `  ${c.toUpperCase()}\n`,
    `${c.slice(0, 20)} ${c.slice(20, 41)}\n${c.slice(41)}`,
    c.match(/.{4}/g).join(" "),
    c.match(/.{16}/g).join("-"),
    `https://urne.example/#/verifier/${c}`,
    `Votre reçu :\nhttps://urne.example/v1/receipts/${c.slice(0, 30)}\n${c.slice(30)}\nMerci.`,
    `Bonjour, voici votre code : ${c}. Bonne journée`,
    `${c}\u00a0`,
    `\u200b${c}`,
  ]) {
    assert.deepEqual(v.findCode(ok), { code: c }, JSON.stringify(ok));
  }
  assert.deepEqual(v.findCode(""), { problem: "empty" });
  assert.deepEqual(v.findCode(" \n "), { problem: "empty" });
  assert.deepEqual(v.findCode(c.slice(0, 50)), { problem: "length", found: 50 });
  assert.deepEqual(v.findCode(`${c}0`), { problem: "length", found: 65 });
  assert.deepEqual(v.findCode(`${c.slice(0, 63)}g`), { problem: "chars", found: "g" });
  assert.deepEqual(v.findCode(`${c}z`), { problem: "chars", found: "z" });
  assert.deepEqual(v.findCode(`${c} ${c.replace(/^./, "0")}`), { problem: "several" });
  // A code glued to a word is not cut out of it.
  assert.equal(v.findCode(`abc${c}`).code, undefined);
  assert.equal(v.findCode(`https://x/${c}zz`).code, undefined);
});

test("receipt codes as voters paste them (testdata/receipts) read as in Rust", async () => {
  const { readFileSync } = await import("node:fs");
  const { fileURLToPath } = await import("node:url");
  const file = fileURLToPath(new URL("../../testdata/receipts/cases.json", import.meta.url));
  const { cases } = JSON.parse(readFileSync(file, "utf8"));
  assert.ok(cases.length >= 15);
  for (const c of cases) {
    if (c.error) {
      assert.throws(() => v.parseReceipt(c.input), (e) => e.code === "bad_receipt", c.name);
    } else {
      const r = v.parseReceipt(c.input);
      assert.equal(r.hex, c.hex, c.name);
      assert.equal(r.encoding, c.encoding, c.name);
    }
  }
});

test("a superseded ballot is believed only with a later ballot proved in the tree", async () => {
  const ballot = (receipt, credential, scrutin = "s1") =>
    `urne/v1 ballot\nelection e\ntime 2026-12-01T10:00:00Z\nscrutin ${scrutin}\ncredential ${credential}\nreceipt ${receipt}\n\n— platform AAAAAAAAAAAA\n`;
  const c = "c".repeat(64);
  const entries = [ballot("a".repeat(64), c), ballot("b".repeat(64), c), ballot("d".repeat(64), c, "s2")];
  const leaves = await Promise.all(entries.map((e) => v.leafHash(v.utf8(e))));
  const l01 = await v.nodeHash(leaves[0], leaves[1]);
  const root = await v.nodeHash(l01, leaves[2]);
  const cp = { size: 3, root };
  const st = v.parseStatement(entries[0]);
  const later = { index: 1, entry: entries[1], inclusion_proof: [v.toBase64(leaves[0]), v.toBase64(leaves[2])] };
  const sup = await v.checkSuperseded(later, 0, st, cp);
  assert.equal(sup.index, 1);
  assert.equal(sup.receipt, "b".repeat(64));
  assert.equal(sup.sameCredential, true);
  const refused = async (l, index = 0) =>
    assert.rejects(v.checkSuperseded(l, index, st, cp), (e) => e.code === "bad_superseded");
  await refused({ ...later, inclusion_proof: [v.toBase64(leaves[2]), v.toBase64(leaves[0])] });
  await refused(later, 1); // not later than the ballot itself
  await refused({ index: 2, entry: entries[2], inclusion_proof: [v.toBase64(l01)] }); // another scrutin
  await refused({ index: 1, entry: "junk", inclusion_proof: [] });
  await refused(null);
});
