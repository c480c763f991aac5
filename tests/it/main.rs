//! Integration tests: one test binary, so linking happens once. Each module drives the real
//! `rampart` binary through `harness`.
#![allow(
    clippy::unwrap_used,
    clippy::expect_used,
    clippy::panic,
    clippy::indexing_slicing
)]

mod audit;
mod backup;
mod browser;
mod catalogs;
mod cli;
mod compliance;
mod contract;
mod crash;
mod documents;
mod erasure;
mod evidence;
mod harness;
mod identity;
mod jobs;
mod mail;
mod matrix;
mod metrics;
mod mfa;
mod operator;
mod oversight;
mod packaging;
mod pages;
mod store;
mod tls;
mod tokens;
mod upgrade;
mod web;
