//! urne protocol
