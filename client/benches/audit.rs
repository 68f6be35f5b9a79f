//! The costs an audit pays per entry, measured without the log server (so without
//! building RocksDB): one Ed25519 verification (the machine's signature bound: a
//! monitor on N cores audits at most N / this entries per second), one record hash
//! (the tree), one statement parse.
//!
//! ```sh
//! cargo bench -p urne-client --bench audit -- ed25519/verify
//! ```

use criterion::{black_box, criterion_group, criterion_main, Criterion, Throughput};
use urne_client::note::SignerKey;
use urne_client::statement::{Body, SignedStatement, Statement, Tag, Time};

fn ballot(key: &SignerKey) -> String {
    Statement {
        election: "bench".into(),
        time: Time(1_796_000_000),
        body: Body::Ballot {
            scrutin: "s1".into(),
            credential: Tag([3; 32]),
            receipt: Tag([4; 32]),
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
