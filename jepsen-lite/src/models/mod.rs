//! The built-in models: a nil-able read/write/CAS [`register`] and a
//! get/put/append key/value store ([`kv`]).

pub mod kv;
pub mod register;

pub use kv::{Kv, KvInput, KvOp, KvOutput, KvState, KvValue, KvValues};
pub use register::{Register, RegisterInput, RegisterOp, RegisterOutput, Value};
