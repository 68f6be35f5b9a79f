// The page's reading of a voter's history and its alarm thresholds, against the cases
// and words urne-client owns (testdata/voter/, testdata/thresholds.json): the same
// meaning, the same threshold and the same French words as `urne-client alerts`.

import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync, readdirSync } from "node:fs";
import { fileURLToPath } from "node:url";
import * as v from "../verify.js";
import { t } from "../i18n.js";

const testdata = (p) => fileURLToPath(new URL(`../../testdata/${p}`, import.meta.url));

test("the thresholds are urne-client's (testdata/thresholds.json)", () => {
  const th = JSON.parse(readFileSync(testdata("thresholds.json"), "utf8"));
  assert.equal(v.REISSUE_BURST_PER_HOUR, th.reissue_burst_per_hour);
  assert.equal(v.REISSUE_THEN_VOTE_MINUTES, th.reissue_then_vote_minutes);
});

test("the shared voter-history cases (testdata/voter) read as in Rust", () => {
  const dir = testdata("voter/");
  const files = readdirSync(dir).filter((f) => f.endsWith(".json") && f !== "words_fr.json").sort();
  assert.ok(files.length >= 5, `only ${files.length} cases`);
  for (const f of files) {
    const c = JSON.parse(readFileSync(dir + f, "utf8"));
    assert.deepEqual(v.readVoterHistory(c.history), c.expected, `${f}: ${c.comment}`);
  }
});

test("the page's French words of the warnings are urne-client's (testdata/voter/words_fr.json)", () => {
  const words = JSON.parse(readFileSync(testdata("voter/words_fr.json"), "utf8"));
  for (const [key, text] of Object.entries(words)) assert.equal(t(key), text, key);
  for (const key of Object.values(v.VOTER_WARNING_WORDS)) assert.ok(key in words, key);
});
