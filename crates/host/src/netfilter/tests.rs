//! Tests of the netfilter loaders.
