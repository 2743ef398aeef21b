//! End-to-end tests: each starts real `lanyard` processes and drives them over HTTP.
#![allow(clippy::unwrap_used, clippy::expect_used)]

mod support;

mod flow;
