//! What every HTTP handler of the log, its mirrors and its witnesses shares, below
//! the handlers themselves: the error type with its stable codes ([`error`],
//! [`ApiError`]) and the bounded read of a request body ([`body`]).
//!
//! Owns: nothing of its own; it is the floor the routers stand on, so that the
//! witness, the mirror's push side, the lease's forwarding and the web page answer
//! errors and read bodies the way the API does without depending on the API.
//! Does not own: any route ([`crate::api`], [`crate::mirror`], [`crate::witness`]).

pub mod body;
pub mod error;

pub use error::ApiError;
