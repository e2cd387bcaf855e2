//! The YAML config file: finding it, parsing it with precise errors, and its defaults.

pub(crate) mod duration;
pub(crate) mod file;
