//! The crm section of the dashboard (built on the shell in `web/mod.rs`).

use super::Pages;

pub const PATHS: &[&str] = &[];

pub fn routes() -> Pages {
    Pages::new()
}
