//! The built-in platform (SPEC section 9): resource types and their templates, embedded in the
//! binary by build.rs. A spec tree's own `resource-type` of the same name replaces the built-in.

include!(concat!(env!("OUT_DIR"), "/platform_files.rs"));

/// The text of a built-in template.
pub fn template(path: &str) -> Option<&'static str> {
    TEMPLATES.iter().find(|(p, _)| *p == path).map(|(_, t)| *t)
}
