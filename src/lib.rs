//! urne server
