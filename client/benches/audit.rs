//! The costs an audit pays per entry, measured without the log server (so without
//! building RocksDB): one Ed25519 verification (the machine's signature bound: a
//! monitor on N cores audits at most N / this entries per second), the same in
//! batches (`urne_client::signature_batch`, per signature, at several batch sizes:
//! the one that pays is its `BATCH_SIZE`), one record hash (the tree), one statement
//! parse.
//!
//! ```sh
//! cargo bench -p urne-client --bench audit -- ed25519/verify
//! cargo bench -p urne-client --bench audit -- ed25519/batch
//! ```

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use urne_client::note::SignerKey;
use urne_client::signature_batch::{verify_batched, Signed};
use urne_client::statement::{Body, SignedStatement, Statement, Tag, Time};

fn ballot(key: &SignerKey) -> String {
    ballot_n(key, 0)
}

/// Ballot `n` (distinct credential and receipt), signed by `key`.
fn ballot_n(key: &SignerKey, n: u32) -> String {
    let mut credential = [3; 32];
    credential[..4].copy_from_slice(&n.to_be_bytes());
    let mut receipt = [4; 32];
    receipt[..4].copy_from_slice(&n.to_be_bytes());
    Statement {
        election: "bench".into(),
        time: Time(1_796_000_000),
        body: Body::Ballot {
            scrutin: "s1".into(),
            credential: Tag(credential),
            receipt: Tag(receipt),
        },
    }
    .sign(&[key])
    .expect("sign")
}

fn audit(c: &mut Criterion) {
    let key = SignerKey::from_seed("platform.bench", [7; 32]).expect("key");
    let text = ballot(&key);
    let stmt = SignedStatement::parse(text.as_bytes()).expect("parse");
    let msg = stmt.text().to_vec();
    let sig = stmt.signatures[0].signature.clone();
    let vk = key.verifier().clone();
    let mut g = c.benchmark_group("ed25519");
    g.throughput(Throughput::Elements(1));
    g.bench_function("verify", |b| {
        b.iter(|| assert!(vk.verify(black_box(&msg), black_box(&sig))))
    });
    // Batches as an audit meets them: ballots of one platform key, one credential of
    // a registrar key every tenth entry; the time per signature.
    let registrar = SignerKey::from_seed("registrar.bench", [8; 32]).expect("key");
    let many: Vec<(urne_client::note::VerifierKey, Vec<u8>, Vec<u8>)> = (0..2048u32)
        .map(|n| {
            let k = if n % 10 == 9 { &registrar } else { &key };
            let s = SignedStatement::parse(ballot_n(k, n).as_bytes()).expect("parse");
            (
                k.verifier().clone(),
                s.text().to_vec(),
                s.signatures[0].signature.clone(),
            )
        })
        .collect();
    let signed: Vec<Signed<'_>> = many
        .iter()
        .map(|(key, msg, sig)| Signed { key, msg, sig })
        .collect();
    for size in [16usize, 64, 256, 1024, 2048] {
        g.throughput(Throughput::Elements(size as u64));
        g.bench_function(format!("batch/{size}"), |b| {
            b.iter(|| {
                let ok = verify_batched(black_box(&signed[..size]), size);
                assert!(ok.iter().all(|&x| x));
            })
        });
    }
    g.finish();
    let mut g = c.benchmark_group("entry");
    g.throughput(Throughput::Elements(1));
    g.bench_function("record_hash", |b| {
        b.iter(|| black_box(urne_client::tree::record_hash(black_box(text.as_bytes()))))
    });
    g.bench_function("parse", |b| {
        b.iter(|| black_box(SignedStatement::parse(black_box(text.as_bytes())).expect("parse")))
    });
    g.finish();
}

criterion_group!(benches, audit);
criterion_main!(benches);
