//! The harness of `cli.rs`, the end-to-end tests of `urne-client`: the test election's
//! keys and statements (`election`), a real `urne serve` and other `urne` modes as
//! processes and `urne-client` runs (`server`, on `support/urne.rs`, which every
//! client test that starts `urne` shares), a man in the middle that can rewrite
//! the log's answers (`proxy`), a webhook receiver (`webhook`), and readers of a
//! monitor's state directory (`state`). The tests themselves stay in `cli.rs`.

#![allow(dead_code)]

mod election;
mod proxy;
mod server;
mod state;
#[path = "../urne.rs"]
mod urne;
mod webhook;

pub use election::*;
pub use proxy::*;
pub use server::*;
pub use state::*;
pub use urne::{forge_append, urne_bin};
pub use webhook::*;
