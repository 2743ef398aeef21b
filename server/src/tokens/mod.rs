//! Tokens: signing keys and their rotation, JWKS, and the JWTs Lanyard mints and checks.

pub mod jwt;
pub mod keyring;
pub mod keys;

pub use jwt::{AccessClaims, IdClaims, UserClaims, VerifiedAccess, VerifyError};
pub use keyring::KeyRing;
