//! Rampart: a self-hosted CMMC 2.0 / NIST SP 800-171 compliance appliance.
//!
//! The map of the modules is `DESIGN.md`; `main.rs` is only the command line.

#![forbid(unsafe_code)]

pub mod access;
pub mod assess;
pub mod audit;
pub mod auth;
pub mod backup;
pub mod catalog;
pub mod config;
pub mod control;
pub mod crypto;
pub mod daemon;
pub mod dates;
pub mod docs;
pub mod doctor;
pub mod erasure;
pub mod evidence;
pub mod jobs;
pub mod mail;
pub mod metrics;
pub mod notify;
pub mod org;
pub mod privacy;
pub mod scoring;
pub mod security;
pub mod sizes;
pub mod store;
pub mod tls;
pub mod web;
pub mod zone;
