//! Witness policies (C2SP tlog-policy): which logs are trusted, which witnesses, and how
//! many of them must cosign a checkpoint.
//!
//! Owns: [`WitnessPolicy`], the policy file format (parse and format side by side) and
//! the quorum evaluation. Does not own: verifying a cosignature
//! (`tlog_cosignature`), opening a checkpoint (`open`).

use super::{parse_decimal, CheckpointError, WitnessKey};
use crate::note::VerifierKey;

/// A named member of a tlog-policy group: a witness or an earlier group.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum PolicyMember {
    /// Index into [`WitnessPolicy::witnesses`].
    Witness(usize),
    /// Index into [`WitnessPolicy::groups`].
    Group(usize),
}

/// A witness line of a tlog-policy file: `witness <name> <vkey> [<url>]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyWitness {
    /// The policy-local name.
    pub name: String,
    /// The witness key.
    pub key: WitnessKey,
    /// The submission prefix URL, if given.
    pub url: Option<String>,
}

/// A log line of a tlog-policy file: `log <vkey> [<url>]`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyLog {
    /// The log key; its name is the log's origin.
    pub key: VerifierKey,
    /// The log URL, if given.
    pub url: Option<String>,
}

/// A group line of a tlog-policy file: `group <name> <k>|any|all <member>...`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PolicyGroup {
    /// The policy-local name.
    pub name: String,
    /// How many members must have witnessed (1 ≤ k ≤ members).
    pub threshold: usize,
    /// The members, each a witness or an earlier group.
    pub members: Vec<PolicyMember>,
}

/// A witness policy (C2SP tlog-policy): known logs, named witnesses, groups and the
/// quorum rule. The one policy type of urne: a tlog-policy file ([`WitnessPolicy::parse`])
/// and "k of these n witness keys" (`--witness`, `--quorum`: [`WitnessPolicy::k_of_n`])
/// are both values of it, judged by the same code.
///
/// `logs` may be empty when the log key is given on its own ([`super::open_checkpoint`]).
#[derive(Clone, Debug, PartialEq, Eq, Default)]
pub struct WitnessPolicy {
    /// The accepted logs (any one of them may sign).
    pub logs: Vec<PolicyLog>,
    /// The named witnesses.
    pub witnesses: Vec<PolicyWitness>,
    /// The groups, each referring only to earlier names.
    pub groups: Vec<PolicyGroup>,
    /// The quorum: `None` for `quorum none`, or the witness or group required.
    pub quorum: Option<PolicyMember>,
}

impl WitnessPolicy {
    /// Returns the policy that requires no cosignature (C2SP tlog-policy `quorum none`).
    pub fn none() -> Self {
        WitnessPolicy::default()
    }

    /// Builds the policy "at least `k` distinct keys of `witnesses` cosigned", with no
    /// log (witnesses named `w1`, `w2`, …, in a group `quorum`; a repeated key counts
    /// once). `k` = 0 requires no cosignature; `k` above the number of distinct keys
    /// is never satisfied.
    pub fn k_of_n(witnesses: Vec<WitnessKey>, k: usize) -> Self {
        let mut distinct: Vec<WitnessKey> = Vec::with_capacity(witnesses.len());
        for w in witnesses {
            if !distinct.contains(&w) {
                distinct.push(w);
            }
        }
        let witnesses: Vec<PolicyWitness> = distinct
            .into_iter()
            .enumerate()
            .map(|(i, key)| PolicyWitness {
                name: format!("w{}", i + 1),
                key,
                url: None,
            })
            .collect();
        let (groups, quorum) = if k == 0 {
            (Vec::new(), None)
        } else {
            (
                vec![PolicyGroup {
                    name: "quorum".into(),
                    threshold: k,
                    members: (0..witnesses.len()).map(PolicyMember::Witness).collect(),
                }],
                Some(PolicyMember::Group(0)),
            )
        };
        WitnessPolicy {
            logs: Vec::new(),
            witnesses,
            groups,
            quorum,
        }
    }

    /// Returns the same policy for the one log `log` (its `log` line), replacing any
    /// logs it listed.
    pub fn with_log(mut self, log: &VerifierKey) -> Self {
        self.logs = vec![PolicyLog {
            key: log.clone(),
            url: None,
        }];
        self
    }

    /// Parses a tlog-policy file (C2SP tlog-policy, "Policy file syntax and structure"):
    /// `log`, `witness`, `group` and exactly one `quorum` line; items separated by spaces
    /// or tabs; blank and `#` comment lines ignored; names defined before use, unique,
    /// `none` reserved, each name a group member at most once; no duplicate log or
    /// witness public keys; only tab, newline and printable octets. Names must be UTF-8
    /// (the spec allows opaque octets; urne's tools only write UTF-8).
    ///
    /// # Errors
    /// [`CheckpointError::BadPolicy`] with the line number and the reason.
    pub fn parse(text: &str) -> Result<Self, CheckpointError> {
        let mut p = WitnessPolicy {
            logs: Vec::new(),
            witnesses: Vec::new(),
            groups: Vec::new(),
            quorum: None,
        };
        let mut saw_quorum = false;
        let mut used_as_member: Vec<PolicyMember> = Vec::new();
        for (i, line) in text.split('\n').enumerate() {
            let n = i + 1;
            let bad = |reason: String| CheckpointError::BadPolicy { line: n, reason };
            if let Some(b) = line
                .bytes()
                .find(|&b| b != b'\t' && (b < 0x20 || b == 0x7f))
            {
                return Err(bad(format!("forbidden control character 0x{b:02x}")));
            }
            let words: Vec<&str> = line.split([' ', '\t']).filter(|w| !w.is_empty()).collect();
            let Some((&keyword, args)) = words.split_first() else {
                continue;
            };
            if keyword.starts_with('#') {
                continue;
            }
            match keyword {
                "log" => {
                    let (vkey, url) = match args {
                        [k] => (k, None),
                        [k, u] => (k, Some(u.to_string())),
                        _ => return Err(bad("log takes a vkey and an optional URL".into())),
                    };
                    let key = VerifierKey::parse(vkey).map_err(|e| bad(e.to_string()))?;
                    if p.logs
                        .iter()
                        .any(|l| l.key.public_key() == key.public_key())
                    {
                        return Err(bad("duplicate log key".into()));
                    }
                    p.logs.push(PolicyLog { key, url });
                }
                "witness" => {
                    let (name, vkey, url) = match args {
                        [nm, k] => (nm, k, None),
                        [nm, k, u] => (nm, k, Some(u.to_string())),
                        _ => {
                            return Err(bad(
                                "witness takes a name, a vkey and an optional URL".into()
                            ))
                        }
                    };
                    p.check_new_name(name).map_err(bad)?;
                    let key = WitnessKey::parse(vkey).map_err(|e| bad(e.to_string()))?;
                    if p.witnesses
                        .iter()
                        .any(|w| w.key.public_key() == key.public_key())
                    {
                        return Err(bad("duplicate witness key".into()));
                    }
                    p.witnesses.push(PolicyWitness {
                        name: name.to_string(),
                        key,
                        url,
                    });
                }
                "group" => {
                    let [name, k, members @ ..] = args else {
                        return Err(bad("group takes a name, a threshold and members".into()));
                    };
                    p.check_new_name(name).map_err(bad)?;
                    if members.is_empty() {
                        return Err(bad("a group needs at least one member".into()));
                    }
                    let mut resolved = Vec::with_capacity(members.len());
                    for m in members {
                        let member = p
                            .lookup(m)
                            .ok_or_else(|| bad(format!("undefined name {m:?}")))?;
                        if used_as_member.contains(&member) {
                            return Err(bad(format!("{m:?} is already a group member")));
                        }
                        used_as_member.push(member.clone());
                        resolved.push(member);
                    }
                    let threshold = match *k {
                        "all" => resolved.len(),
                        "any" => 1,
                        k => parse_decimal(k)
                            .and_then(|k| usize::try_from(k).ok())
                            .filter(|&k| k >= 1 && k <= resolved.len())
                            .ok_or_else(|| bad(format!("bad threshold {k:?}")))?,
                    };
                    p.groups.push(PolicyGroup {
                        name: name.to_string(),
                        threshold,
                        members: resolved,
                    });
                }
                "quorum" => {
                    let [name] = args else {
                        return Err(bad("quorum takes one name".into()));
                    };
                    if saw_quorum {
                        return Err(bad("more than one quorum line".into()));
                    }
                    saw_quorum = true;
                    p.quorum = if *name == "none" {
                        None
                    } else {
                        Some(
                            p.lookup(name)
                                .ok_or_else(|| bad(format!("undefined name {name:?}")))?,
                        )
                    };
                }
                other => return Err(bad(format!("unknown keyword {other:?}"))),
            }
        }
        if !saw_quorum {
            return Err(CheckpointError::BadPolicy {
                line: text.split('\n').count(),
                reason: "no quorum line".into(),
            });
        }
        Ok(p)
    }

    fn check_new_name(&self, name: &str) -> Result<(), String> {
        if name == "none" {
            return Err("the name none is reserved".into());
        }
        if self.lookup(name).is_some() {
            return Err(format!("name {name:?} defined twice"));
        }
        Ok(())
    }

    fn lookup(&self, name: &str) -> Option<PolicyMember> {
        if let Some(i) = self.witnesses.iter().position(|w| w.name == name) {
            return Some(PolicyMember::Witness(i));
        }
        self.groups
            .iter()
            .position(|g| g.name == name)
            .map(PolicyMember::Group)
    }

    /// Formats the policy in the tlog-policy text format ([`WitnessPolicy::parse`] reads
    /// it back to an equal value).
    pub fn to_text(&self) -> String {
        let mut out = String::new();
        for l in &self.logs {
            out.push_str(&format!("log {}", l.key));
            if let Some(u) = &l.url {
                out.push_str(&format!(" {u}"));
            }
            out.push('\n');
        }
        for w in &self.witnesses {
            out.push_str(&format!("witness {} {}", w.name, w.key));
            if let Some(u) = &w.url {
                out.push_str(&format!(" {u}"));
            }
            out.push('\n');
        }
        for g in &self.groups {
            out.push_str(&format!("group {} {}", g.name, g.threshold));
            for m in &g.members {
                out.push(' ');
                out.push_str(self.member_name(m));
            }
            out.push('\n');
        }
        match &self.quorum {
            None => out.push_str("quorum none\n"),
            Some(m) => out.push_str(&format!("quorum {}\n", self.member_name(m))),
        }
        out
    }

    fn member_name(&self, m: &PolicyMember) -> &str {
        match m {
            PolicyMember::Witness(i) => self.witnesses.get(*i).map_or("?", |w| &w.name),
            PolicyMember::Group(i) => self.groups.get(*i).map_or("?", |g| &g.name),
        }
    }

    /// Returns the policy's log whose key name is `origin`, if any.
    pub fn log_for_origin(&self, origin: &str) -> Option<&VerifierKey> {
        self.logs
            .iter()
            .map(|l| &l.key)
            .find(|k| k.name() == origin)
    }

    /// Returns every witness key of the policy.
    pub fn witness_keys(&self) -> Vec<WitnessKey> {
        self.witnesses.iter().map(|w| w.key.clone()).collect()
    }

    /// Reports whether the member has witnessed, given the verified cosigners
    /// (C2SP tlog-policy, "Defining a witness group": at least k of n members).
    fn witnessed(&self, m: &PolicyMember, cosigners: &[WitnessKey], depth: usize) -> bool {
        // Groups only refer to earlier groups, so depth is bounded by the group count;
        // the guard only protects against hand-built cyclic values.
        if depth > self.groups.len() {
            return false;
        }
        match m {
            PolicyMember::Witness(i) => self
                .witnesses
                .get(*i)
                .is_some_and(|w| cosigners.contains(&w.key)),
            PolicyMember::Group(i) => self.groups.get(*i).is_some_and(|g| {
                g.members
                    .iter()
                    .filter(|m| self.witnessed(m, cosigners, depth + 1))
                    .count()
                    >= g.threshold
            }),
        }
    }

    /// Returns the fewest witnesses whose cosignatures could satisfy the member.
    fn min_needed(&self, m: &PolicyMember, depth: usize) -> usize {
        if depth > self.groups.len() {
            return usize::MAX;
        }
        match m {
            PolicyMember::Witness(_) => 1,
            PolicyMember::Group(i) => self.groups.get(*i).map_or(usize::MAX, |g| {
                let mut costs: Vec<usize> = g
                    .members
                    .iter()
                    .map(|m| self.min_needed(m, depth + 1))
                    .collect();
                costs.sort_unstable();
                // A threshold above the member count (only `k_of_n` builds one) still
                // needs `threshold` cosignatures: each missing member counts one.
                costs
                    .iter()
                    .take(g.threshold)
                    .fold(g.threshold.saturating_sub(costs.len()), |a, &c| {
                        a.saturating_add(c)
                    })
            }),
        }
    }

    /// Reports whether the verified cosigners satisfy the quorum (C2SP tlog-policy).
    pub fn is_satisfied(&self, cosigners: &[WitnessKey]) -> bool {
        match &self.quorum {
            None => true,
            Some(q) => self.witnessed(q, cosigners, 0),
        }
    }

    /// Returns the fewest witnesses whose cosignatures could satisfy the quorum (`k` of
    /// a [`WitnessPolicy::k_of_n`] policy; 0 for `quorum none`).
    pub fn min_cosigners(&self) -> usize {
        self.quorum.as_ref().map_or(0, |q| self.min_needed(q, 0))
    }

    pub(super) fn check(&self, cosigners: &[WitnessKey]) -> Result<(), CheckpointError> {
        if self.is_satisfied(cosigners) {
            return Ok(());
        }
        let have = self
            .witnesses
            .iter()
            .filter(|w| cosigners.contains(&w.key))
            .count();
        let need = self.min_cosigners();
        Err(CheckpointError::QuorumNotMet { have, need })
    }
}
