//! # urne-demo: the demo election and the load generator
//!
//! Tools that talk to a log over HTTP, apart from the server's library: `urne demo`
//! (a simulated election a newcomer can browse) and `urne load` (appends per second,
//! latency percentiles, proofs per second). The `urne` binary runs them; the server's
//! tests and benchmarks use them as clients of a real log.
//!
//! Does not own: the server (crate `urne`; nothing here links its modules), any rule
//! (the log decides), the authority keys and statement builders
//! (`urne_client::test_kit`, which every test suite shares).
//!
//! # Layout
//!
//! - [`submit`]: posting statements with bounded concurrency ([`Submitter`]).
//! - [`scenario`]: the scenario of `urne demo` ([`run_demo`]).
//! - [`load`]: the load generator of `urne load` ([`run_load`], [`run_proof_load`],
//!   [`run_receipt_load`]).
//! - [`tile_proofs`]: the verification storm read from tiles alone
//!   ([`run_tile_proof_load`]: what a cache in front of the log serves).

#![warn(missing_docs)]

pub mod load;
pub mod scenario;
pub mod submit;
pub mod tile_proofs;

pub use load::{
    run_load, run_proof_load, run_receipt_load, LoadOptions, LoadReport, ProofLoadReport,
};
pub use scenario::{
    free_election_id, hours_allowed, log_time_tolerance, run_demo, DemoOptions, DemoSummary,
    DEMO_RUN_MARGIN_SECS,
};
pub use submit::{Outcome, Submitter};
pub use tile_proofs::{run_tile_proof_load, TileProofReport};
