//! The differential runs behind `tests/kernel_route.rs` and
//! `tests/kernel_toml.rs`: build each host, ask the kernel and fwdsim the
//! same queries, collect every disagreement, and report.
//!
//! Seeds: `FWDSIM_SEED` (decimal or `0x` hex) fixes the master seed,
//! otherwise it comes from the clock and is printed. `FWDSIM_HOSTS=N`
//! changes the number of random hosts, `FWDSIM_HOST=I` runs only host I.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use crate::answer::{Answer, FieldDiff, diff, multipath_equivalent};
use crate::build::LabHost;
use crate::divergence::{Case, Divergences};
use crate::fwdsim::{Fwdsim, Reply};
use crate::generate;
use crate::netns::can_make_netns;
use crate::query::Query;
use crate::routeset::route_set_diff;
use crate::spec::HostSpec;

/// Which comparison a disagreement comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Suite {
    /// `route get ... iif DEV` on a snapshot made by `fwdsim host dump`.
    Input,
    /// `route get` without `iif` (output path) on such a snapshot.
    Output,
    /// `route get` on the host's TOML file.
    Toml,
    /// `host show -j` routes against `ip route show table all`.
    RouteSet,
}

impl Suite {
    /// The name used in reports and in divergence matchers.
    pub fn name(self) -> &'static str {
        match self {
            Suite::Input => "input",
            Suite::Output => "output",
            Suite::Toml => "toml",
            Suite::RouteSet => "route-set",
        }
    }
}

/// What a run does.
#[derive(Clone, Debug)]
pub struct Config {
    /// The test's name, for the replay line (`kernel_route::input_path`).
    pub test: &'static str,
    /// `Input` or `Output` (snapshot via `host dump`), or `Toml` (host file;
    /// also compares the route set).
    pub suite: Suite,
    /// Random hosts (`FWDSIM_HOSTS` overrides).
    pub hosts: usize,
    /// Input-path queries per host.
    pub input_queries: usize,
    /// Output-path queries per host (`Output` and `Toml`).
    pub output_queries: usize,
    /// Mixed into the host seeds so each test draws its own hosts.
    pub stream: u64,
    /// Hand-written host files (`Toml` only).
    pub fixtures: Vec<PathBuf>,
}

/// What every run needs from the test binary.
#[derive(Clone, Debug)]
pub struct Env {
    /// The binary under test.
    pub fwdsim: Fwdsim,
    /// `fixtures/kernel-divergences.toml`.
    pub divergences_path: PathBuf,
    /// Where the full report is written.
    pub report_dir: PathBuf,
}

/// One disagreement.
#[derive(Clone, Debug)]
pub struct Disagreement {
    /// The suite.
    pub suite: Suite,
    /// The query (or the route for `RouteSet`).
    pub query: String,
    /// Destination of the query.
    pub dst: Option<Ipv4Addr>,
    /// Source of the query (0.0.0.0 without `from`).
    pub src: Option<Ipv4Addr>,
    /// The kernel's answer, as text.
    pub kernel: String,
    /// fwdsim's answer, as text.
    pub fwdsim: String,
    /// The kernel's outcome word.
    pub kernel_word: String,
    /// fwdsim's outcome word.
    pub fwdsim_word: String,
    /// The differing fields.
    pub diffs: Vec<FieldDiff>,
    /// The divergence entry that lists it, if any.
    pub listed: Option<String>,
}

/// Everything about one host.
#[derive(Clone, Debug, Default)]
pub struct HostReport {
    /// Label (`random host 3, seed 0x..` or the fixture's path).
    pub label: String,
    /// Random host index, for `FWDSIM_HOST`.
    pub index: Option<usize>,
    /// TOML, commands and what the kernel refused.
    pub description: String,
    /// Failures that are not per query (build, dump, host show). Each fails the test.
    pub problems: Vec<String>,
    /// Notes that do not fail the test (e.g. a fallback was used).
    pub notes: Vec<String>,
    /// Queries asked.
    pub queries: usize,
    /// Multipath choices accepted as equivalent (random hash seed).
    pub multipath_tolerated: usize,
    /// Per-query disagreements.
    pub disagreements: Vec<Disagreement>,
    /// Kernel outcome counts (coverage).
    pub kernel_outcomes: BTreeMap<String, usize>,
}

/// A whole run.
#[derive(Clone, Debug)]
pub struct Report {
    /// The test.
    pub test: &'static str,
    /// Master seed.
    pub seed: u64,
    /// Whether the seed came from `FWDSIM_SEED`.
    pub seed_from_env: bool,
    /// Hosts in order.
    pub hosts: Vec<HostReport>,
    /// Wall time.
    pub elapsed: Duration,
    /// Divergence file problems (a malformed file fails the run).
    pub divergence_error: Option<String>,
    /// Use count of each divergence entry.
    pub divergence_uses: Vec<(String, usize)>,
}

fn parse_u64(s: &str) -> Option<u64> {
    let s = s.trim();
    match s.strip_prefix("0x") {
        Some(h) => u64::from_str_radix(h, 16).ok(),
        None => s.parse().ok(),
    }
}

/// The master seed: `FWDSIM_SEED`, else the clock. Second: from the env.
pub fn master_seed() -> (u64, bool) {
    if let Some(s) = std::env::var("FWDSIM_SEED")
        .ok()
        .and_then(|s| parse_u64(&s))
    {
        return (s, true);
    }
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos() as u64)
        .unwrap_or(0);
    (t ^ u64::from(std::process::id()).rotate_left(32), false)
}

/// splitmix64 of (master, stream, index): the seed of one random host.
pub fn host_seed(master: u64, stream: u64, index: usize) -> u64 {
    let mut z = master
        .wrapping_add(stream.wrapping_mul(0x9e37_79b9_7f4a_7c15))
        .wrapping_add((index as u64 + 1).wrapping_mul(0xbf58_476d_1ce4_e5b9));
    z = (z ^ (z >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    z ^ (z >> 31)
}

/// Whether this run is CI: any non-empty `CI` value (CI services set
/// `true` or `1`), under which a suite that cannot run fails instead of
/// skipping.
pub fn is_ci() -> bool {
    std::env::var("CI").is_ok_and(|v| !v.trim().is_empty())
}

/// Whether the test can run: namespaces available. When they are not, with
/// `CI=true` this panics (the suite must not skip silently in CI); else it
/// prints why the test skips and returns false.
pub fn require_netns(test: &str) -> bool {
    match can_make_netns() {
        Ok(()) => true,
        Err(why) => {
            if is_ci() {
                panic!("{test}: CI is set but network namespaces cannot be made: {why}");
            }
            eprintln!(
                "{test}: SKIPPED: network namespaces cannot be made here: {why} (run as root; with CI set this fails)"
            );
            false
        }
    }
}

fn env_usize(k: &str) -> Option<usize> {
    std::env::var(k).ok().and_then(|v| v.trim().parse().ok())
}

/// Compares one kernel answer with fwdsim's reply; `None` when they agree.
fn judge(
    suite: Suite,
    q: &Query,
    kernel: &Answer,
    reply: &Reply,
    spec: &HostSpec,
    tolerated: &mut usize,
) -> Option<Disagreement> {
    let (diffs, fwdsim, fwdsim_word) = match reply {
        Reply::Broken(msg) => (
            vec![FieldDiff {
                field: "tool".into(),
                kernel: kernel.to_string(),
                fwdsim: msg.clone(),
            }],
            format!("no answer in the contract's form: {msg}"),
            "tool".to_string(),
        ),
        Reply::Answer(a) => {
            let d = diff(kernel, a);
            if d.is_empty() {
                return None;
            }
            if multipath_equivalent(kernel, a, &d, spec) {
                *tolerated += 1;
                return None;
            }
            (d, a.to_string(), a.outcome_word())
        }
    };
    Some(Disagreement {
        suite,
        query: q.to_string(),
        dst: Some(q.dst),
        src: Some(q.src_or_zero()),
        kernel: kernel.to_string(),
        fwdsim,
        kernel_word: kernel.outcome_word(),
        fwdsim_word,
        diffs,
        listed: None,
    })
}

fn tempdir(tag: &str) -> std::result::Result<tempfile::TempDir, String> {
    tempfile::Builder::new()
        .prefix(&format!("fwdsim-lab-{tag}-"))
        .tempdir()
        .map_err(|e| format!("cannot make a temporary directory: {e}"))
}

/// Asks the kernel and fwdsim (on `host_path`) every query.
fn compare_queries(
    suite: Suite,
    lab: &LabHost,
    fwdsim: &Fwdsim,
    host_path: &Path,
    queries: &[Query],
    rep: &mut HostReport,
) {
    let answers = match lab.ask(queries) {
        Ok(a) => a,
        Err(e) => {
            rep.problems.push(format!("asking the kernel failed: {e}"));
            return;
        }
    };
    for (q, k) in queries.iter().zip(&answers) {
        *rep.kernel_outcomes.entry(k.outcome_word()).or_default() += 1;
        let reply = fwdsim.route_get(host_path, q);
        rep.queries += 1;
        if let Some(d) = judge(suite, q, k, &reply, &lab.spec, &mut rep.multipath_tolerated) {
            rep.disagreements.push(d);
        }
    }
}

/// One host of an `Input`/`Output` run: snapshot with `fwdsim host dump`.
fn snapshot_host(cfg: &Config, env: &Env, spec: &HostSpec, seed: u64, rep: &mut HostReport) {
    let lab = match LabHost::build(spec) {
        Ok(l) => l,
        Err(e) => {
            rep.problems
                .push(format!("building the namespace failed: {e}"));
            rep.description = spec.to_toml();
            return;
        }
    };
    rep.description = lab.describe();
    let dir = match tempdir("snap") {
        Ok(d) => d,
        Err(e) => {
            rep.problems.push(e);
            return;
        }
    };
    if let Err(e) = env.fwdsim.host_dump(dir.path(), lab.name()) {
        rep.problems.push(format!(
            "{e} (the queries below ran on the lab's own snapshot made with the same commands)"
        ));
        if let Err(e) = lab.snapshot(dir.path()) {
            rep.problems
                .push(format!("the lab's own snapshot failed too: {e}"));
            return;
        }
    }
    let (suite, n, input) = match cfg.suite {
        Suite::Output => (Suite::Output, cfg.output_queries, false),
        _ => (Suite::Input, cfg.input_queries, true),
    };
    let queries = generate::queries(&lab.spec, seed, n, input);
    compare_queries(suite, &lab, &env.fwdsim, dir.path(), &queries, rep);
}

/// One host of a `Toml` run: the TOML file (written from the spec, or the
/// fixture itself), the route set, then the queries.
fn toml_host(
    cfg: &Config,
    env: &Env,
    spec: &HostSpec,
    file: Option<&Path>,
    seed: u64,
    rep: &mut HostReport,
) {
    let lab = match LabHost::build(spec) {
        Ok(l) => l,
        Err(e) => {
            rep.problems
                .push(format!("building the namespace failed: {e}"));
            rep.description = spec.to_toml();
            return;
        }
    };
    rep.description = lab.describe();
    let dir = match tempdir("toml") {
        Ok(d) => d,
        Err(e) => {
            rep.problems.push(e);
            return;
        }
    };
    let path = match file {
        Some(f) => {
            if !lab.dropped.is_empty() {
                rep.problems.push(format!(
                    "the kernel refuses part of this fixture ({} item(s), listed above): fix the file",
                    lab.dropped.len()
                ));
            }
            f.to_path_buf()
        }
        None => {
            let p = dir.path().join("host.toml");
            if let Err(e) = std::fs::write(&p, lab.spec.to_toml()) {
                rep.problems
                    .push(format!("cannot write {}: {e}", p.display()));
                return;
            }
            p
        }
    };

    // (1) The route set.
    match (env.fwdsim.host_show_routes(&path), lab.route_show()) {
        (Err(e), _) => rep.problems.push(e),
        (_, Err(e)) => rep.problems.push(format!("ip route show failed: {e}")),
        (Ok(f), Ok(k)) => match route_set_diff(&k, &f) {
            Err(e) => rep.problems.push(e),
            Ok((only_k, only_f)) => {
                for (route, kernel, fwdsim) in only_k
                    .into_iter()
                    .map(|r| (r, "present", "missing"))
                    .chain(only_f.into_iter().map(|r| (r, "missing", "present")))
                {
                    rep.disagreements.push(Disagreement {
                        suite: Suite::RouteSet,
                        query: route,
                        dst: None,
                        src: None,
                        kernel: kernel.into(),
                        fwdsim: fwdsim.into(),
                        kernel_word: kernel.into(),
                        fwdsim_word: fwdsim.into(),
                        diffs: vec![FieldDiff {
                            field: "route".into(),
                            kernel: kernel.into(),
                            fwdsim: fwdsim.into(),
                        }],
                        listed: None,
                    });
                }
            }
        },
    }

    // (2) Queries.
    let mut queries = generate::queries(&lab.spec, seed, cfg.input_queries, true);
    queries.extend(generate::queries(
        &lab.spec,
        seed ^ 0x6f75_7470_7574,
        cfg.output_queries,
        false,
    ));
    compare_queries(Suite::Toml, &lab, &env.fwdsim, &path, &queries, rep);
}

/// Runs `cfg` and returns the report (see [`Report::finish`]).
pub fn run(cfg: &Config, env: &Env) -> Report {
    let start = Instant::now();
    let (seed, seed_from_env) = master_seed();
    let (divergences, divergence_error) = match Divergences::load(&env.divergences_path) {
        Ok(d) => (d, None),
        Err(e) => (Divergences::default(), Some(e.to_string())),
    };
    let hosts = env_usize("FWDSIM_HOSTS").unwrap_or(cfg.hosts);
    let only = env_usize("FWDSIM_HOST");
    let mut reports = Vec::new();
    for i in 0..hosts {
        if only.is_some_and(|o| o != i) {
            continue;
        }
        let hs = host_seed(seed, cfg.stream, i);
        let spec = generate::random_host(hs);
        let mut rep = HostReport {
            label: format!("random host {i} (host seed {hs:#x})"),
            index: Some(i),
            ..HostReport::default()
        };
        match cfg.suite {
            Suite::Toml => toml_host(cfg, env, &spec, None, hs, &mut rep),
            _ => snapshot_host(cfg, env, &spec, hs, &mut rep),
        }
        reports.push(rep);
    }
    if cfg.suite == Suite::Toml && only.is_none() {
        for (j, f) in cfg.fixtures.iter().enumerate() {
            let mut rep = HostReport {
                label: format!("fixture {}", f.display()),
                ..HostReport::default()
            };
            let spec = std::fs::read_to_string(f)
                .map_err(|e| e.to_string())
                .and_then(|t| HostSpec::from_toml(&t).map_err(|e| e.to_string()));
            match spec {
                Ok(spec) => toml_host(
                    cfg,
                    env,
                    &spec,
                    Some(f),
                    host_seed(seed, cfg.stream ^ 0xf1, j),
                    &mut rep,
                ),
                Err(e) => rep.problems.push(format!("cannot read the fixture: {e}")),
            }
            reports.push(rep);
        }
    }

    // Divergences.
    let mut uses = vec![0usize; divergences.divergence.len()];
    for rep in &mut reports {
        let host_toml = rep.description.clone();
        for d in &mut rep.disagreements {
            let fields: Vec<&str> = d.diffs.iter().map(|f| f.field.as_str()).collect();
            let case = Case {
                suite: d.suite.name(),
                fields,
                query: &d.query,
                dst: d.dst,
                src: d.src,
                kernel: &d.kernel_word,
                fwdsim: &d.fwdsim_word,
                host: &host_toml,
            };
            if let Some((i, div)) = divergences.find(&case) {
                uses[i] += 1;
                d.listed = Some(div.description.clone());
            }
        }
    }
    Report {
        test: cfg.test,
        seed,
        seed_from_env,
        hosts: reports,
        elapsed: start.elapsed(),
        divergence_error,
        divergence_uses: divergences
            .divergence
            .iter()
            .map(|d| d.description.clone())
            .zip(uses)
            .collect(),
    }
}

impl Report {
    /// Disagreements not listed in the divergence file.
    pub fn unlisted(&self) -> usize {
        self.hosts
            .iter()
            .flat_map(|h| &h.disagreements)
            .filter(|d| d.listed.is_none())
            .count()
    }

    /// Host-level problems.
    pub fn problems(&self) -> usize {
        self.hosts.iter().map(|h| h.problems.len()).sum()
    }

    /// Queries asked in total.
    pub fn queries(&self) -> usize {
        self.hosts.iter().map(|h| h.queries).sum()
    }

    /// Whether the run fails.
    pub fn failed(&self) -> bool {
        // A run that compared nothing (no host, no query) proves nothing.
        self.unlisted() > 0
            || self.problems() > 0
            || self.divergence_error.is_some()
            || self.queries() == 0
    }

    /// The replay line.
    pub fn replay(&self) -> String {
        format!(
            "replay: FWDSIM_SEED={} cargo test --test integration {} -- --nocapture   (one host: add FWDSIM_HOST=<index>)",
            self.seed, self.test
        )
    }

    /// The summary block.
    pub fn summary(&self) -> String {
        let mut s = String::new();
        let total: usize = self.hosts.iter().map(|h| h.disagreements.len()).sum();
        let tolerated: usize = self.hosts.iter().map(|h| h.multipath_tolerated).sum();
        let _ = writeln!(
            s,
            "==== {}: {} hosts, {} queries, {} disagreements ({} not listed), {} host problems, {:.1}s",
            self.test,
            self.hosts.len(),
            self.queries(),
            total,
            self.unlisted(),
            self.problems(),
            self.elapsed.as_secs_f64()
        );
        let _ = writeln!(
            s,
            "seed {} ({})",
            self.seed,
            if self.seed_from_env {
                "from FWDSIM_SEED"
            } else {
                "from the clock"
            }
        );
        if tolerated > 0 {
            let _ = writeln!(
                s,
                "multipath choices accepted as equivalent (fib_multipath_hash_seed = 0 is a random key): {tolerated}"
            );
        }
        let mut by_field: BTreeMap<&str, usize> = BTreeMap::new();
        let mut outcomes: BTreeMap<&str, usize> = BTreeMap::new();
        for h in &self.hosts {
            for d in &h.disagreements {
                for f in &d.diffs {
                    *by_field.entry(f.field.as_str()).or_default() += 1;
                }
            }
            for (k, n) in &h.kernel_outcomes {
                *outcomes.entry(k.as_str()).or_default() += n;
            }
        }
        if !by_field.is_empty() {
            let v: Vec<String> = by_field.iter().map(|(k, n)| format!("{k} {n}")).collect();
            let _ = writeln!(s, "differing fields: {}", v.join(", "));
        }
        let v: Vec<String> = outcomes.iter().map(|(k, n)| format!("{k} {n}")).collect();
        let _ = writeln!(s, "kernel outcomes: {}", v.join(", "));
        let fallbacks = crate::oracle::BATCH_FALLBACKS.load(std::sync::atomic::Ordering::Relaxed);
        if fallbacks > 0 {
            let _ = writeln!(
                s,
                "kernel batches asked again one query at a time (process-wide): {fallbacks}"
            );
        }
        if let Some(e) = &self.divergence_error {
            let _ = writeln!(s, "divergence file: {e}");
        }
        for (d, n) in &self.divergence_uses {
            let _ = writeln!(s, "divergence {d:?}: matched {n}");
        }
        let _ = writeln!(s, "{}", self.replay());
        s
    }

    /// The full report: every host with a problem or a disagreement (its
    /// TOML, commands, and each query with both answers), then the summary.
    pub fn render(&self) -> String {
        let mut s = String::new();
        for h in &self.hosts {
            if h.problems.is_empty() && h.disagreements.is_empty() {
                continue;
            }
            let _ = writeln!(
                s,
                "==== {} [{}]: {} disagreements, {} problems",
                h.label,
                self.test,
                h.disagreements.len(),
                h.problems.len()
            );
            s.push_str(&h.description);
            for p in &h.problems {
                let _ = writeln!(s, "PROBLEM: {p}");
            }
            for n in &h.notes {
                let _ = writeln!(s, "note: {n}");
            }
            // A binary that cannot answer at all fails every query the same
            // way: show three, count the rest.
            let mut same_tool_failure: BTreeMap<&str, usize> = BTreeMap::new();
            let mut hidden = 0;
            for d in &h.disagreements {
                if d.fwdsim_word == "tool" {
                    let n = same_tool_failure.entry(d.fwdsim.as_str()).or_default();
                    *n += 1;
                    if *n > 3 {
                        hidden += 1;
                        continue;
                    }
                }
                let _ = writeln!(s, "[{}] {}", d.suite.name(), d.query);
                let _ = writeln!(s, "    kernel: {}", d.kernel);
                let _ = writeln!(s, "    fwdsim: {}", d.fwdsim);
                let f: Vec<String> = d
                    .diffs
                    .iter()
                    .map(|f| {
                        if f.field == "tool" || f.field == "outcome" || f.field == "route" {
                            f.field.clone()
                        } else {
                            format!("{} (kernel {} / fwdsim {})", f.field, f.kernel, f.fwdsim)
                        }
                    })
                    .collect();
                let _ = writeln!(s, "    differ: {}", f.join(", "));
                if let Some(l) = &d.listed {
                    let _ = writeln!(s, "    listed in kernel-divergences.toml: {l}");
                }
            }
            if hidden > 0 {
                let _ = writeln!(
                    s,
                    "... and {hidden} more queries on which fwdsim failed in exactly one of the ways shown"
                );
            }
            if let Some(i) = h.index {
                let _ = writeln!(
                    s,
                    "(this host alone: FWDSIM_SEED={} FWDSIM_HOST={i})",
                    self.seed
                );
            }
            s.push('\n');
        }
        s.push_str(&self.summary());
        s
    }

    /// Prints the report (and writes it to `env.report_dir`), then panics
    /// if the run failed.
    pub fn finish(&self, env: &Env) {
        let text = self.render();
        let file = env
            .report_dir
            .join(format!("{}.txt", self.test.replace("::", "-")));
        let written = std::fs::create_dir_all(&env.report_dir)
            .and_then(|()| std::fs::write(&file, &text))
            .is_ok();
        eprintln!("{text}");
        if written {
            eprintln!("full report: {}", file.display());
        }
        if self.failed() {
            panic!(
                "{}: {} queries, {} disagreements not listed in {}, {} host problems{}\n{}",
                self.test,
                self.queries(),
                self.unlisted(),
                env.divergences_path.display(),
                self.problems(),
                self.divergence_error
                    .as_ref()
                    .map(|e| format!(", divergence file error: {e}"))
                    .unwrap_or_default(),
                self.replay()
            );
        }
    }
}
