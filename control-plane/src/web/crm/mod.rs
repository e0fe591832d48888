//! The crm section of the dashboard.

use super::Pages;

pub const PATHS: &[&str] = &[];

pub fn routes() -> Pages {
    Pages::new()
}
