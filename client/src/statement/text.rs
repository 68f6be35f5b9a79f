//! The statement text (`urne/v1 <type>`, then `<field> <value>` lines in the type's
//! fixed order): [`Statement::to_text`] beside [`Statement::parse_text`], the field
//! syntaxes they share (ids, free text, decimals), and [`Statement::validate`].

use super::{
    bad, Body, ElectionBody, Revote, Role, Statement, StatementError, StatementType, Tag, Time,
    MAX_GRACE_SECS, MAX_TEXT_LEN, MAX_TIME, MAX_TOLERANCE_SECS,
};
use crate::note::VerifierKey;
use std::fmt;

fn check_id(what: &str, v: &str) -> Result<(), StatementError> {
    let b = v.as_bytes();
    let ok = !b.is_empty()
        && b.len() <= 64
        && (b[0].is_ascii_lowercase() || b[0].is_ascii_digit())
        && b.iter().all(|c| {
            c.is_ascii_lowercase() || c.is_ascii_digit() || matches!(c, b'.' | b'_' | b'-')
        });
    if ok {
        Ok(())
    } else {
        Err(bad(format!(
            "{what} {v:?} is not an id ([a-z0-9][a-z0-9._-]{{0,63}})"
        )))
    }
}

/// An event type as the protocol writes it: case is kept (Belenios's `EndBallots`),
/// so it is not an id; `[A-Za-z][A-Za-z0-9_-]{0,63}`.
fn check_event_type(v: &str) -> Result<(), StatementError> {
    let b = v.as_bytes();
    let ok = !b.is_empty()
        && b.len() <= 64
        && b[0].is_ascii_alphabetic()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(bad(format!(
            "event {:?} is not an event type ([A-Za-z][A-Za-z0-9_-]{{0,63}})",
            v.chars().take(80).collect::<String>()
        )))
    }
}

fn check_text(what: &str, v: &str) -> Result<(), StatementError> {
    if v.is_empty() || v.chars().count() > MAX_TEXT_LEN || v.chars().any(char::is_control) {
        return Err(bad(format!(
            "{what}: 1 to {MAX_TEXT_LEN} printable characters"
        )));
    }
    Ok(())
}

fn parse_u64(what: &str, v: &str) -> Result<u64, StatementError> {
    if v.is_empty() || !v.bytes().all(|c| c.is_ascii_digit()) || (v.len() > 1 && v.starts_with('0'))
    {
        return Err(bad(format!("{what} {v:?} is not a decimal number")));
    }
    v.parse()
        .map_err(|_| bad(format!("{what} {v:?} out of range")))
}

/// A cursor over the `field value` lines of a statement, in their fixed order.
struct Fields<'a> {
    lines: Vec<(&'a str, &'a str)>,
    pos: usize,
}

impl<'a> Fields<'a> {
    fn next(&mut self, name: &str) -> Result<&'a str, StatementError> {
        match self.lines.get(self.pos) {
            Some((n, v)) if *n == name => {
                self.pos += 1;
                Ok(v)
            }
            Some((n, _)) if self.lines[self.pos..].iter().any(|(m, _)| *m == name) => Err(
                StatementError::NotCanonical(format!("field {n:?} before {name:?}")),
            ),
            Some((n, _)) => Err(StatementError::NotCanonical(format!(
                "unexpected field {n:?} where {name:?} belongs"
            ))),
            None => Err(bad(format!("missing field {name:?}"))),
        }
    }

    /// Refuses a field line whose name was already read: a repeated field is not
    /// canonical, even where the parser was looking for a repeatable field (`scrutin`,
    /// `authority`) and would otherwise report that one missing.
    fn not_repeated(&self) -> Result<(), StatementError> {
        match self.lines.get(self.pos) {
            Some((n, _)) if self.lines[..self.pos].iter().any(|(m, _)| m == n) => Err(
                StatementError::NotCanonical(format!("field {n:?} repeated")),
            ),
            _ => Ok(()),
        }
    }

    fn peek(&self, name: &str) -> bool {
        self.lines.get(self.pos).is_some_and(|(n, _)| *n == name)
    }

    fn text(&mut self, name: &str) -> Result<String, StatementError> {
        let v = self.next(name)?;
        check_text(name, v)?;
        Ok(v.to_string())
    }

    fn id(&mut self, name: &str) -> Result<String, StatementError> {
        let v = self.next(name)?;
        check_id(name, v)?;
        Ok(v.to_string())
    }

    fn tag(&mut self, name: &str) -> Result<Tag, StatementError> {
        self.next(name)?.parse()
    }

    fn end(&self) -> Result<(), StatementError> {
        match self.lines.get(self.pos) {
            None => Ok(()),
            Some((n, _)) => Err(StatementError::NotCanonical(format!(
                "unexpected or repeated field {n:?}"
            ))),
        }
    }
}

impl Statement {
    /// Formats the statement text (ending in a newline), the canonical form.
    pub fn to_text(&self) -> String {
        use std::fmt::Write as _;
        let mut s = format!(
            "urne/v1 {}\nelection {}\ntime {}\n",
            self.statement_type(),
            self.election,
            self.time
        );
        let mut f = |k: &str, v: &dyn fmt::Display| {
            let _ = writeln!(s, "{k} {v}");
        };
        match &self.body {
            Body::Election(e) => {
                f("title", &e.title);
                for sc in &e.scrutins {
                    f("scrutin", sc);
                }
                for (role, key) in &e.authorities {
                    f("authority", &format!("{role} {key}"));
                }
                f("quorum", &e.quorum);
                if let Some(t) = &e.tolerance {
                    f("tolerance", t);
                }
                if let Some(g) = &e.grace {
                    f("grace", g);
                }
                if e.revote != Revote::Single {
                    f("revote", &e.revote);
                }
                f("opens", &e.opens);
                f("closes", &e.closes);
                if let Some((h, n)) = &e.roll {
                    f("roll", &format!("{h} {n}"));
                }
            }
            Body::Open | Body::Close => {}
            Body::Suspend { reason } | Body::Resume { reason } => f("reason", reason),
            Body::Credential {
                voter,
                credential,
                channel,
                reason,
            } => {
                f("voter", voter);
                f("credential", credential);
                f("channel", channel);
                f("reason", reason);
            }
            Body::Revoke { credential, reason } => {
                f("credential", credential);
                f("reason", reason);
            }
            Body::Ballot {
                scrutin,
                credential,
                receipt,
            } => {
                f("scrutin", scrutin);
                f("credential", credential);
                f("receipt", receipt);
            }
            Body::Results {
                scrutin,
                ballots,
                digest,
            } => {
                f("scrutin", scrutin);
                f("ballots", ballots);
                f("digest", digest);
            }
            Body::Intervention {
                actor,
                action,
                reason,
                reissues,
            } => {
                f("actor", actor);
                f("action", action);
                f("reason", reason);
                if let Some(n) = reissues {
                    f("reissues", n);
                }
            }
            Body::Void {
                reason,
                authorisation,
            } => {
                f("reason", reason);
                f("authorisation", authorisation);
            }
            Body::Event {
                protocol,
                event,
                hash,
                position,
            } => {
                f("protocol", protocol);
                f("event", event);
                f("hash", hash);
                f("position", position);
            }
        }
        s
    }

    /// Parses a statement text strictly: fixed field order, no duplicate or unknown
    /// field, single spaces, LF line ends, final newline, canonical values.
    ///
    /// # Errors
    /// A [`StatementError`] saying what is wrong.
    pub fn parse_text(text: &str) -> Result<Statement, StatementError> {
        if text.contains('\r') {
            return Err(StatementError::NotCanonical(
                "CR in text: lines end with LF only".into(),
            ));
        }
        let body_text = text
            .strip_suffix('\n')
            .ok_or_else(|| StatementError::NotCanonical("text must end with a newline".into()))?;
        if let Some(l) = body_text
            .split('\n')
            .find(|l| l.starts_with(' ') || l.ends_with(' ') || l.ends_with('\t'))
        {
            return Err(StatementError::NotCanonical(format!(
                "extra spaces in line {:?}",
                l.chars().take(60).collect::<String>()
            )));
        }
        let mut lines = body_text.split('\n');
        let first = lines.next().unwrap_or_default();
        let ty = first
            .strip_prefix("urne/v1 ")
            .ok_or_else(|| StatementError::UnknownType(first.chars().take(60).collect()))?;
        let ty: StatementType = ty
            .parse()
            .map_err(|_| StatementError::UnknownType(ty.chars().take(60).collect()))?;
        let mut pairs = Vec::new();
        for line in lines {
            let (k, v) = line.split_once(' ').ok_or_else(|| {
                if line.is_empty() {
                    StatementError::NotCanonical("empty line in statement text".into())
                } else {
                    bad(format!(
                        "line {:?} is not `field value`",
                        line.chars().take(60).collect::<String>()
                    ))
                }
            })?;
            if k.is_empty()
                || v.is_empty()
                || v.starts_with(' ')
                || v.ends_with(' ')
                || v.ends_with('\t')
            {
                return Err(StatementError::NotCanonical(format!(
                    "extra spaces in line {:?}",
                    line.chars().take(60).collect::<String>()
                )));
            }
            pairs.push((k, v));
        }
        let mut f = Fields {
            lines: pairs,
            pos: 0,
        };
        let election = f.id("election")?;
        let time: Time = f.next("time")?.parse()?;
        let body = match ty {
            StatementType::Election => {
                let title = f.text("title")?;
                let mut scrutins = Vec::new();
                while f.peek("scrutin") {
                    let s = f.id("scrutin")?;
                    if scrutins.contains(&s) {
                        return Err(StatementError::NotCanonical(format!("scrutin {s:?} twice")));
                    }
                    scrutins.push(s);
                }
                if scrutins.is_empty() {
                    f.not_repeated()?;
                    return Err(bad("an election needs at least one scrutin"));
                }
                let mut authorities: Vec<(Role, VerifierKey)> = Vec::new();
                while f.peek("authority") {
                    let v = f.next("authority")?;
                    let (role, key) = v
                        .split_once(' ')
                        .ok_or_else(|| bad("authority is `<role> <verifier key>`"))?;
                    let role: Role = role.parse()?;
                    let key =
                        VerifierKey::parse(key).map_err(|e| bad(format!("authority key: {e}")))?;
                    // One public key is one signer, whatever names it is listed
                    // under: listed twice (as two board members, or in two roles) it
                    // would let one key holder count twice towards the quorum.
                    if let Some((_, k)) = authorities
                        .iter()
                        .find(|(_, k)| k.public_key() == key.public_key())
                    {
                        return Err(StatementError::NotCanonical(format!(
                            "authority public key of {} listed twice (also as {})",
                            key.name(),
                            k.name()
                        )));
                    }
                    authorities.push((role, key));
                }
                let boards = authorities
                    .iter()
                    .filter(|(r, _)| *r == Role::Board)
                    .count() as u64;
                if boards == 0 {
                    f.not_repeated()?;
                    return Err(bad("an election needs at least one board key"));
                }
                let quorum = parse_u64("quorum", f.next("quorum")?)?;
                if quorum == 0 || quorum > boards {
                    return Err(bad(format!(
                        "quorum {quorum} must be between 1 and the {boards} board keys"
                    )));
                }
                let tolerance = if f.peek("tolerance") {
                    let t = parse_u64("tolerance", f.next("tolerance")?)?;
                    if t > MAX_TOLERANCE_SECS {
                        return Err(bad(format!(
                            "tolerance {t} exceeds {MAX_TOLERANCE_SECS} seconds"
                        )));
                    }
                    Some(t)
                } else {
                    None
                };
                let grace = if f.peek("grace") {
                    let g = parse_u64("grace", f.next("grace")?)?;
                    if g > MAX_GRACE_SECS {
                        return Err(bad(format!("grace {g} exceeds {MAX_GRACE_SECS} seconds")));
                    }
                    Some(g)
                } else {
                    None
                };
                let revote = if f.peek("revote") {
                    // The default has no line: `revote single` would be a second
                    // spelling of the same election.
                    match f.next("revote")?.parse()? {
                        Revote::Single => {
                            return Err(StatementError::NotCanonical(
                                "`revote single` is the default: write no revote line".into(),
                            ))
                        }
                        r => r,
                    }
                } else {
                    Revote::Single
                };
                let opens: Time = f.next("opens")?.parse()?;
                let closes: Time = f.next("closes")?.parse()?;
                if closes <= opens {
                    return Err(bad("closes must be after opens"));
                }
                let roll = if f.peek("roll") {
                    let v = f.next("roll")?;
                    let (h, n) = v
                        .split_once(' ')
                        .ok_or_else(|| bad("roll is `<hex hash> <count>`"))?;
                    Some((h.parse()?, parse_u64("roll count", n)?))
                } else {
                    None
                };
                Body::Election(ElectionBody {
                    title,
                    scrutins,
                    authorities,
                    quorum: quorum as u32,
                    tolerance,
                    grace,
                    revote,
                    opens,
                    closes,
                    roll,
                })
            }
            StatementType::Open => Body::Open,
            StatementType::Close => Body::Close,
            StatementType::Suspend => Body::Suspend {
                reason: f.text("reason")?,
            },
            StatementType::Resume => Body::Resume {
                reason: f.text("reason")?,
            },
            StatementType::Credential => Body::Credential {
                voter: f.tag("voter")?,
                credential: f.tag("credential")?,
                channel: f.next("channel")?.parse()?,
                reason: f.next("reason")?.parse()?,
            },
            StatementType::Revoke => Body::Revoke {
                credential: f.tag("credential")?,
                reason: f.text("reason")?,
            },
            StatementType::Ballot => Body::Ballot {
                scrutin: f.id("scrutin")?,
                credential: f.tag("credential")?,
                receipt: f.tag("receipt")?,
            },
            StatementType::Results => Body::Results {
                scrutin: f.id("scrutin")?,
                ballots: parse_u64("ballots", f.next("ballots")?)?,
                digest: f.tag("digest")?,
            },
            StatementType::Intervention => Body::Intervention {
                actor: f.text("actor")?,
                action: f.text("action")?,
                reason: f.text("reason")?,
                reissues: if f.peek("reissues") {
                    let n = parse_u64("reissues", f.next("reissues")?)?;
                    if n == 0 {
                        return Err(bad("reissues must be at least 1"));
                    }
                    Some(n)
                } else {
                    None
                },
            },
            StatementType::Void => Body::Void {
                reason: f.text("reason")?,
                authorisation: f.text("authorisation")?,
            },
            StatementType::Event => Body::Event {
                protocol: f.id("protocol")?,
                event: {
                    let v = f.next("event")?;
                    check_event_type(v)?;
                    v.to_string()
                },
                hash: f.tag("hash")?,
                position: parse_u64("position", f.next("position")?)?,
            },
        };
        f.end()?;
        let st = Statement {
            election,
            time,
            body,
        };
        if st.to_text() != text {
            return Err(StatementError::NotCanonical(
                "the text is not written the way urne writes it".into(),
            ));
        }
        Ok(st)
    }

    /// Checks that a statement built by hand is one urne can write and read back:
    /// every id, time and free text has its syntax (no tab, newline or other control
    /// character that would forge or break a line), and the text it writes parses back
    /// to exactly this statement, so every invariant of [`Statement::parse_text`]
    /// (election quorum, distinct keys and scrutins, schedule) holds too.
    ///
    /// # Errors
    /// The [`StatementError`] that parsing the written text would give, or
    /// [`StatementError::BadField`] naming the field whose value cannot be written.
    pub fn validate(&self) -> Result<(), StatementError> {
        // Field by field first, so that the error names the field at fault instead of
        // the line a newline in it would have forged.
        check_id("election", &self.election)?;
        if !(0..=MAX_TIME).contains(&self.time.0) {
            return Err(bad(format!(
                "time {} is outside 1970-01-01T00:00:00Z..9999-12-31T23:59:59Z",
                self.time.0
            )));
        }
        match &self.body {
            Body::Election(e) => {
                check_text("title", &e.title)?;
                for sc in &e.scrutins {
                    check_id("scrutin", sc)?;
                }
                // Keys, quorum, schedule and roll are typed values: the read-back
                // below checks their invariants with the parser's own code.
            }
            Body::Open | Body::Close | Body::Credential { .. } => {}
            Body::Suspend { reason } | Body::Resume { reason } | Body::Revoke { reason, .. } => {
                check_text("reason", reason)?
            }
            Body::Ballot { scrutin, .. } | Body::Results { scrutin, .. } => {
                check_id("scrutin", scrutin)?
            }
            Body::Intervention {
                actor,
                action,
                reason,
                ..
            } => {
                check_text("actor", actor)?;
                check_text("action", action)?;
                check_text("reason", reason)?;
            }
            Body::Void {
                reason,
                authorisation,
            } => {
                check_text("reason", reason)?;
                check_text("authorisation", authorisation)?;
            }
            Body::Event {
                protocol, event, ..
            } => {
                check_id("protocol", protocol)?;
                check_event_type(event)?;
            }
        }
        // Then the whole: what is signed must be what every verifier will parse.
        let back = Statement::parse_text(&self.to_text())?;
        if &back != self {
            return Err(StatementError::NotCanonical(
                "the statement does not read back as written".into(),
            ));
        }
        Ok(())
    }
}
