//! Models the x_tables side of netfilter: the rule types of ip_tables.c,
//! `ipt_do_table`'s walk, and the match and target modules real hosts use.

pub mod eval;
pub mod ip_tables;
pub mod xt_limit;
