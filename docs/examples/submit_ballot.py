#!/usr/bin/env python3
"""Sign a urne `ballot` statement and submit it, trusting nothing the log answers.

A voting platform's integration in one file, with no urne code: a statement is a
C2SP signed note (https://c2sp.org/signed-note) signed with Ed25519, and the log's
answer is checked with the log's verifier key (checkpoint signature, RFC 9162
inclusion proof). The only dependency is `cryptography` (PyPI; Debian:
python3-cryptography) for Ed25519.

    submit_ballot.py --log URL --log-key LOGKEY --key platform.key \\
        --election cse-acme-2026 --scrutin titulaires --credential HEX --receipt HEX

Prints `APPENDED entry N` or `DUPLICATE entry N` and exits 0; a refusal prints
`REFUSED <code>: <detail>` and exits 7; an answer that does not verify exits 3.
"""

import argparse
import base64
import datetime
import hashlib
import json
import sys
import urllib.error
import urllib.request

from cryptography.hazmat.primitives.asymmetric.ed25519 import (
    Ed25519PrivateKey,
    Ed25519PublicKey,
)
from cryptography.exceptions import InvalidSignature


def key_id(name: str, public_key: bytes) -> bytes:
    """C2SP signed-note key ID: SHA-256(name || "\\n" || 0x01 || public key)[:4]."""
    return hashlib.sha256(name.encode() + b"\n" + b"\x01" + public_key).digest()[:4]


def read_signer(path: str):
    """Reads `PRIVATE+KEY+<name>+<hex id>+<base64(0x01 || seed)>` (urne-client keygen).

    The name holds no '+', the base64 may: split on the first four only."""
    with open(path) as f:
        parts = f.read().strip().split("+", 4)
    if len(parts) != 5 or parts[:2] != ["PRIVATE", "KEY"]:
        sys.exit(f"{path} is not a signer key file")
    name, hex_id, b64 = parts[2], parts[3], parts[4]
    raw = base64.b64decode(b64, validate=True)
    if len(raw) != 33 or raw[0] != 1:
        sys.exit(f"{path}: not an Ed25519 key")
    key = Ed25519PrivateKey.from_private_bytes(raw[1:])
    public = key.public_key().public_bytes_raw()
    if key_id(name, public).hex() != hex_id:
        sys.exit(f"{path}: the key ID does not match the key")
    return name, key, public


def read_verifier(vkey: str):
    """Reads `<name>+<hex id>+<base64(0x01 || public key)>` and checks its ID."""
    name, hex_id, b64 = vkey.split("+", 2)
    raw = base64.b64decode(b64, validate=True)
    if len(raw) != 33 or raw[0] != 1 or key_id(name, raw[1:]).hex() != hex_id:
        sys.exit("--log-key is not a valid Ed25519 verifier key")
    return name, bytes.fromhex(hex_id), Ed25519PublicKey.from_public_bytes(raw[1:])


def sign_statement(text: str, name: str, key, public: bytes) -> bytes:
    """The signed note: text, blank line, `— <name> base64(key ID || signature)`."""
    sig = key.sign(text.encode())
    line = "\u2014 " + name + " " + base64.b64encode(key_id(name, public) + sig).decode()
    return (text + "\n" + line + "\n").encode()


def node(left: bytes, right: bytes) -> bytes:
    return hashlib.sha256(b"\x01" + left + right).digest()


def verify_inclusion(index: int, size: int, leaf: bytes, proof, root: bytes) -> bool:
    """RFC 9162, 2.1.3.2: the audit path from `leaf` at `index` leads to `root`."""
    if index >= size:
        return False
    fn, sn, r = index, size - 1, leaf
    for p in proof:
        if sn == 0:
            return False
        if fn & 1 or fn == sn:
            r = node(p, r)
            while not fn & 1 and fn != 0:
                fn >>= 1
                sn >>= 1
        else:
            r = node(r, p)
        fn >>= 1
        sn >>= 1
    return sn == 0 and r == root


def open_checkpoint(note: str, log_name: str, log_id: bytes, log_key):
    """Checks the log's signature on a checkpoint note; returns (size, root)."""
    text, _, sigs = note.partition("\n\n")
    text += "\n"
    for line in sigs.splitlines():
        if not line.startswith("\u2014 " + log_name + " "):
            continue  # witnesses' cosignatures: not checked here
        raw = base64.b64decode(line.rsplit(" ", 1)[1])
        if raw[:4] != log_id:
            continue
        try:
            log_key.verify(raw[4:], text.encode())
        except InvalidSignature:
            break
        origin, size, root = text.splitlines()[:3]
        if origin != log_name:
            break
        return int(size), base64.b64decode(root)
    print("PROOF FAILED: the checkpoint is not signed by the log key", file=sys.stderr)
    sys.exit(3)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    for a in ("--log", "--log-key", "--key", "--election", "--scrutin", "--credential", "--receipt"):
        ap.add_argument(a, required=True)
    a = ap.parse_args()
    name, key, public = read_signer(a.key)
    log_name, log_id, log_key = read_verifier(a.log_key)
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    # The fields of a ballot, in their fixed order (urne-client statement new ballot --help).
    text = (
        "urne/v1 ballot\n"
        f"election {a.election}\n"
        f"time {now}\n"
        f"scrutin {a.scrutin}\n"
        f"credential {a.credential}\n"
        f"receipt {a.receipt}\n"
    )
    entry = sign_statement(text, name, key, public)
    req = urllib.request.Request(
        a.log.rstrip("/") + "/v1/statements",
        data=entry,
        headers={"Content-Type": "text/plain; charset=utf-8"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(req, timeout=30) as resp:
            answer = json.load(resp)
    except urllib.error.HTTPError as e:
        body = json.load(e)
        print(f"REFUSED {body.get('error')}: {body.get('detail')}")
        return 7
    # Trust nothing: the checkpoint must be the log's, and the entry must be in it.
    # A duplicate's entry is the earlier copy of the same text, whose signature lines
    # may differ: its own leaf hash is proved (urne-client also compares the texts).
    size, root = open_checkpoint(answer["checkpoint"], log_name, log_id, log_key)
    proof = [base64.b64decode(h) for h in answer["inclusion_proof"]]
    if answer["duplicate"]:
        leaf = bytes.fromhex(answer["leaf_hash"])
    else:
        leaf = hashlib.sha256(b"\x00" + entry).digest()
        if answer["leaf_hash"] != leaf.hex():
            print("PROOF FAILED: the log's leaf hash is not our entry's", file=sys.stderr)
            return 3
    if not verify_inclusion(answer["index"], size, leaf, proof, root):
        print("PROOF FAILED: the inclusion proof does not lead to the signed root", file=sys.stderr)
        return 3
    with open(f"ballot-{a.receipt[:16]}.proof", "w") as f:
        f.write(answer["tlog_proof"])
    print(f"{'DUPLICATE' if answer['duplicate'] else 'APPENDED'} entry {answer['index']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
