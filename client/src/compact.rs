//! TODO: compact
