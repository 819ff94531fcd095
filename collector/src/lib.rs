pub mod config;
pub mod domain;
pub mod store;
pub mod time;
pub mod evaluator;
