//! TODO: tree
