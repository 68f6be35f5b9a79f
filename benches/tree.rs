//! In-process tree benchmarks: appending leaves and generating inclusion proofs with
//! urne's tree (Go's stored-hash layout via tlog_tiles, in memory and in RocksDB), side
//! by side with ct-merkle, rs_merkle and tlog_tiles on the same leaves, in one run.
//!
//! `cargo bench --bench tree`; figures go into BENCHMARKS.md.

use criterion::{criterion_group, criterion_main, BatchSize, BenchmarkId, Criterion, Throughput};
use std::hint::black_box;
use urne::storage::{Commit, LeafIndex, RocksStore, Store, StoreHashReader, StoredHashIndex};
use urne_client::compact::CompactRange;
use urne_client::tree::{self, Hash, MemoryHashStore, Rfc6962Hasher};

const N: u64 = 100_000;

fn leaves(n: u64) -> Vec<Vec<u8>> {
    (0..n)
        .map(|i| format!("urne/v1 ballot\nelection bench\nreceipt {i:064x}\n").into_bytes())
        .collect()
}

fn append(c: &mut Criterion) {
    let data = leaves(N);
    let mut g = c.benchmark_group("append");
    g.throughput(Throughput::Elements(N));
    g.sample_size(10);
    g.bench_function(BenchmarkId::new("urne MemoryHashStore", N), |b| {
        b.iter(|| {
            let mut s = MemoryHashStore::new();
            for d in &data {
                s.append(d);
            }
            black_box(tree::tree_hash(N, &s).unwrap())
        })
    });
    g.bench_function(BenchmarkId::new("urne CompactRange (root only)", N), |b| {
        b.iter(|| {
            let mut r = CompactRange::new();
            for d in &data {
                r.append(tree::record_hash(d));
            }
            black_box(r.root())
        })
    });
    g.bench_function(BenchmarkId::new("tlog_tiles stored_hashes", N), |b| {
        b.iter(|| {
            let mut s = MemoryHashStore::new();
            for d in &data {
                s.append(d);
            }
            black_box(s)
        })
    });
    g.bench_function(BenchmarkId::new("ct-merkle MemoryBackedTree", N), |b| {
        b.iter(|| {
            let mut t =
                ct_merkle::mem_backed_tree::MemoryBackedTree::<sha2_011::Sha256, Vec<u8>>::new();
            for d in &data {
                t.push(d.clone());
            }
            black_box(t.root())
        })
    });
    g.bench_function(BenchmarkId::new("rs_merkle (commit per 1000)", N), |b| {
        b.iter(|| {
            let mut t = rs_merkle::MerkleTree::<Rfc6962Hasher>::new();
            for chunk in data.chunks(1000) {
                let mut hs: Vec<[u8; 32]> = chunk.iter().map(|d| tree::record_hash(d).0).collect();
                t.append(&mut hs);
                t.commit();
            }
            black_box(t.root())
        })
    });
    g.bench_function(
        BenchmarkId::new("urne RocksStore commit (1000/batch, fsync)", N),
        |b| {
            b.iter_batched(
                || tempfile::tempdir().unwrap(),
                |dir| {
                    let store = RocksStore::open(dir.path(), 64 << 20).unwrap();
                    let mut pending = MemoryHashStore::new();
                    for (k, chunk) in data.chunks(1000).enumerate() {
                        let mut c = Commit::default();
                        for (j, d) in chunk.iter().enumerate() {
                            let i = (k * 1000 + j) as u64;
                            let first = tree::stored_hash_index(0, i);
                            pending.append(d);
                            c.hashes.extend(
                                pending.stored()[first as usize..]
                                    .iter()
                                    .enumerate()
                                    .map(|(m, h)| (StoredHashIndex(first + m as u64), *h)),
                            );
                            c.entries.push((LeafIndex(i), d.clone()));
                        }
                        store.commit(c).unwrap();
                    }
                    black_box(dir)
                },
                BatchSize::PerIteration,
            )
        },
    );
    g.finish();
}

fn proofs(c: &mut Criterion) {
    let data = leaves(N);
    let mut mem = MemoryHashStore::new();
    for d in &data {
        mem.append(d);
    }
    let mut ct = ct_merkle::mem_backed_tree::MemoryBackedTree::<sha2_011::Sha256, Vec<u8>>::new();
    for d in &data {
        ct.push(d.clone());
    }
    let hs: Vec<[u8; 32]> = data.iter().map(|d| tree::record_hash(d).0).collect();
    let rs = rs_merkle::MerkleTree::<Rfc6962Hasher>::from_leaves(&hs);
    let dir = tempfile::tempdir().unwrap();
    let rocks = RocksStore::open(dir.path(), 64 << 20).unwrap();
    let mut c0 = Commit::default();
    for (i, d) in data.iter().enumerate() {
        let first = tree::stored_hash_index(0, i as u64);
        let end = tree::stored_hash_index(0, i as u64 + 1);
        c0.hashes.extend(
            mem.stored()[first as usize..end as usize]
                .iter()
                .enumerate()
                .map(|(m, h)| (StoredHashIndex(first + m as u64), *h)),
        );
        c0.entries.push((LeafIndex(i as u64), d.clone()));
    }
    rocks.commit(c0).unwrap();

    let mut g = c.benchmark_group("inclusion proof");
    g.throughput(Throughput::Elements(1000));
    let idx: Vec<u64> = (0..1000).map(|i| (i * 7919 + 13) % N).collect();
    g.bench_function("urne MemoryHashStore", |b| {
        b.iter(|| {
            for &i in &idx {
                black_box(tree::prove_inclusion(i, N, &mem).unwrap());
            }
        })
    });
    g.bench_function("urne RocksStore", |b| {
        let r = StoreHashReader(&rocks as &dyn Store);
        b.iter(|| {
            for &i in &idx {
                black_box(tree::prove_inclusion(i, N, &r).unwrap());
            }
        })
    });
    g.bench_function("tlog_tiles prove_record", |b| {
        b.iter(|| {
            for &i in &idx {
                black_box(tlog_tiles::prove_record(N, i, &mem).unwrap());
            }
        })
    });
    g.bench_function("ct-merkle", |b| {
        b.iter(|| {
            for &i in &idx {
                black_box(ct.prove_inclusion(i as usize));
            }
        })
    });
    g.bench_function("rs_merkle", |b| {
        b.iter(|| {
            for &i in &idx {
                black_box(rs.proof(&[i as usize]));
            }
        })
    });
    g.finish();
    let _: Option<Hash> = None;
}

fn ed25519(c: &mut Criterion) {
    // The bound on appends: every statement's signature is verified once.
    let key = urne_client::note::SignerKey::from_seed("bench", [7; 32]).unwrap();
    let msg = b"urne/v1 ballot\nelection bench\ntime 2026-12-01T10:00:03Z\nscrutin s1\n";
    let sig = key.sign_bytes(msg);
    let vk = key.verifier().clone();
    let mut g = c.benchmark_group("ed25519");
    g.throughput(Throughput::Elements(1));
    g.bench_function("verify (one core)", |b| {
        b.iter(|| assert!(vk.verify(black_box(msg), black_box(&sig))))
    });
    g.bench_function("sign (one core)", |b| {
        b.iter(|| black_box(key.sign_bytes(black_box(msg))))
    });
    g.finish();
}

criterion_group!(benches, ed25519, append, proofs);
criterion_main!(benches);
