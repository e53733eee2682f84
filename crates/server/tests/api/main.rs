//! The one integration-test binary: the real app on port 0 in front of the testkit's fake
//! providers, driven over HTTP as a client would.

mod helpers;
mod money;

mod abuse;
mod billing;
mod catalogue;
mod chat;
mod conformance;
mod dialects;
mod embeddings;
mod errors;
mod faults;
mod hardening;
mod routing;
mod streaming;
