//! `urne-client keygen` and `urne-client statement new|sign|inspect`: an authority
//! writes a statement, co-signs it, and checks it before it reaches the log.
//!
//! Owns: the command lines, reading key and statement files, fetching an election's
//! sealed statement from a log (authenticated through the tiles against the log's
//! signed checkpoint), and printing. Does not own: the fields of each type, the
//! canonical signature place, who may sign what, the quorum, the rules
//! (`urne_client::authoring`, `urne_client::rules`): every decision is the library's.

use crate::engine::stream_entries;
use crate::fail::{ctx, Fail, Kind, Res};
use crate::http::Log;
use crate::trust::{LogArgs, Trust};
use clap::Args;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use urne_client::authoring::{self, Draft};
use urne_client::note::{SignerKey, VerifierKey};
use urne_client::rules::{
    self, Context, ElectionState, MemoryState, RefusalCode, StateKey, StateValue,
};
use urne_client::statement::{Body, Role, SignedStatement, StatementType, Time, MAX_ENTRY_SIZE};

/// Largest key file read (a key line is about 100 bytes).
const MAX_KEY_FILE: u64 = 4096;

/// Reads a signer key file: one line `PRIVATE+KEY+<name>+<hex8>+<base64(0x01 ‖ seed)>`
/// (Go's note format, what `urne keygen` and `urne-client keygen` write). The error
/// never quotes the file: it is a secret.
pub fn read_signer(path: &Path) -> Res<SignerKey> {
    let f = std::fs::File::open(path).map_err(ctx(
        Kind::Other,
        format!("reading key file {}", path.display()),
    ))?;
    let mut s = String::new();
    use std::io::Read as _;
    f.take(MAX_KEY_FILE).read_to_string(&mut s).map_err(ctx(
        Kind::Other,
        format!("key file {} is not text", path.display()),
    ))?;
    SignerKey::parse(s.trim_end()).map_err(|_| {
        Fail::new(
            Kind::Other,
            format!(
                "{} is not a signer key file (one line PRIVATE+KEY+<name>+<8 hex>+<base64>, as `urne-client keygen` writes)",
                path.display()
            ),
        )
    })
}

/// Reads a statement file (`-` for standard input), at most one entry's size.
pub fn read_statement_file(path: &Path) -> Res<Vec<u8>> {
    let mut b = Vec::new();
    use std::io::Read as _;
    let limit = MAX_ENTRY_SIZE as u64 + 1;
    if path == Path::new("-") {
        std::io::stdin()
            .take(limit)
            .read_to_end(&mut b)
            .map_err(ctx(Kind::Other, "reading standard input"))?;
    } else {
        std::fs::File::open(path)
            .and_then(|f| f.take(limit).read_to_end(&mut b))
            .map_err(ctx(Kind::Other, format!("reading {}", path.display())))?;
    }
    Ok(b)
}

fn parse_draft(path: &Path, bytes: &[u8]) -> Res<Draft> {
    Draft::parse(bytes).map_err(|e| {
        Fail::new(
            Kind::Refused,
            format!("{}: {}: {e}", path.display(), e.code()),
        )
    })
}

/// Writes `text` to `out` (atomically: a temporary file renamed), or to standard
/// output for `None` or `-`.
fn write_out(out: Option<&Path>, text: &str) -> Res<()> {
    match out {
        None => {
            print!("{text}");
            Ok(())
        }
        Some(p) if p == Path::new("-") => {
            print!("{text}");
            Ok(())
        }
        Some(p) => {
            let tmp = p.with_extension("urne-tmp");
            std::fs::write(&tmp, text)
                .and_then(|()| std::fs::rename(&tmp, p))
                .map_err(ctx(Kind::Other, format!("writing {}", p.display())))
        }
    }
}

// ---------------------------------------------------------------------------------------
// keygen
// ---------------------------------------------------------------------------------------

/// Arguments of `keygen`.
#[derive(Args, Debug)]
pub struct KeygenArgs {
    /// Key name, e.g. `bureau.president.acme-cse-2026` (no spaces, no '+').
    #[arg(long)]
    pub name: String,
    /// File for the secret key [default: <name>.key]; the verifier key goes to
    /// <file>.pub. Neither is overwritten.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

fn create_new(path: &Path, text: &str, secret: bool) -> Res<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    if secret {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let _ = secret;
    let mut f = opts
        .open(path)
        .map_err(ctx(Kind::Other, format!("creating {}", path.display())))?;
    f.write_all(text.as_bytes())
        .and_then(|()| f.sync_all())
        .map_err(ctx(Kind::Other, format!("writing {}", path.display())))
}

/// Runs `keygen`: a fresh Ed25519 key, the secret in a 0600 file, the verifier key
/// printed and written next to it.
pub fn keygen(a: &KeygenArgs) -> Res<()> {
    let key = SignerKey::generate(&a.name).map_err(ctx(Kind::Other, "--name"))?;
    let out = a
        .out
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("{}.key", a.name.replace('/', "_"))));
    let mut pub_path = out.clone().into_os_string();
    pub_path.push(".pub");
    let pub_path = PathBuf::from(pub_path);
    if pub_path.exists() {
        return Err(Fail::new(
            Kind::Other,
            format!("{} exists: not overwritten", pub_path.display()),
        ));
    }
    create_new(&out, &format!("{}\n", key.to_signer_string()), true)?;
    create_new(&pub_path, &format!("{}\n", key.verifier()), false)?;
    eprintln!(
        "secret key written to {} (mode 0600; keep it offline), verifier key to {}",
        out.display(),
        pub_path.display()
    );
    println!("{}", key.verifier());
    Ok(())
}

// ---------------------------------------------------------------------------------------
// The election's keys: from a file, or sealed in a log
// ---------------------------------------------------------------------------------------

/// Where the election's keys come from: `--election FILE` or `--log URL --log-key`.
#[derive(Args, Debug, Clone)]
pub struct ElectionSource {
    /// The election's `election` statement (the file the board signed), to know its
    /// keys, their order and the quorum.
    #[arg(long = "election-file", value_name = "FILE")]
    pub election_file: Option<PathBuf>,
    /// A log to read the sealed election from (with --log-key), authenticated by the
    /// log's signed checkpoint and the entry's tile.
    #[arg(long, value_name = "URL")]
    pub log: Option<String>,
    /// The log's verifier key.
    #[arg(long = "log-key", value_name = "LOGKEY", env = "URNE_LOG_KEY")]
    pub log_key: Option<String>,
}

/// An election as a log serves it: its sealed statement (authenticated) and the
/// state the log reports (not authenticated: used only to predict a verdict).
pub struct Sealed {
    /// The `election` statement, read through the tiles and proved.
    pub statement: SignedStatement,
    /// The state as the log reports it at `tree_size`.
    pub state: ElectionState,
    /// Size of the signed checkpoint the statement was proved against.
    pub tree_size: u64,
}

/// Reads election `id` from a log: `/v1/elections/<id>` for its state and the index
/// of its `election` statement, then that entry through the tiles, authenticated
/// against the log's signed checkpoint; the keys and quorum the log reports must be
/// the sealed ones.
///
/// # Errors
/// [`Kind::NotFound`] for an unknown election; [`Kind::ProofFailed`] if the
/// checkpoint, the tile or the reported state does not match; [`Kind::Network`].
pub fn sealed_election(log: &Log, trust: &Trust, id: &str) -> Res<Sealed> {
    let v = log
        .get_json(&format!("v1/elections/{id}"))?
        .ok_or_else(|| {
            Fail::new(
                Kind::NotFound,
                format!("the log {} has no election {id:?}", log.base()),
            )
        })?;
    let state: ElectionState = serde_json::from_value(v["state"].clone()).map_err(|e| {
        Fail::new(
            Kind::Network,
            format!("the log's state of election {id:?} does not decode: {e}"),
        )
    })?;
    // The checkpoint after the state: it covers the election's entry.
    let cp = trust.open(&log.checkpoint()?)?;
    let index = state.sealed_at_index;
    if index >= cp.checkpoint.size {
        return Err(Fail::new(
            Kind::ProofFailed,
            format!(
                "the log says election {id:?} was sealed at entry {index}, beyond its checkpoint of {} entries",
                cp.checkpoint.size
            ),
        ));
    }
    let mut entry = None;
    stream_entries(log, &cp.checkpoint, index, index + 1, 1, |_, mut es| {
        entry = es.pop();
        Ok(())
    })?;
    let entry =
        entry.ok_or_else(|| Fail::new(Kind::ProofFailed, format!("entry {index} missing")))?;
    let statement = SignedStatement::parse(&entry).map_err(|e| {
        Fail::new(
            Kind::ProofFailed,
            format!("entry {index} is not a signed statement: {e}"),
        )
    })?;
    let same = match &statement.statement.body {
        Body::Election(e) => {
            statement.statement.election == id
                && e.authorities == state.authorities
                && e.quorum == state.quorum
        }
        _ => false,
    };
    if !same {
        return Err(Fail::new(
            Kind::ProofFailed,
            format!(
                "the log's state of election {id:?} does not match the sealed statement at entry {index}"
            ),
        ));
    }
    Ok(Sealed {
        statement,
        state,
        tree_size: cp.checkpoint.size,
    })
}

fn trust_of(log: &str, key: Option<&str>) -> Res<Trust> {
    LogArgs {
        log: Some(log.to_string()),
        key: key.map(str::to_string),
        witnesses: Vec::new(),
        quorum: None,
        policy: None,
        peers: Vec::new(),
    }
    .trust()
}

/// An election's keys and quorum, and what its log serves when read from one.
struct Known {
    keys: Vec<(Role, VerifierKey)>,
    quorum: u32,
    sealed: Option<Sealed>,
}

/// The election's keys and quorum, if a source was given; and what the log serves.
fn election_keys(src: &ElectionSource, id: &str) -> Res<Option<Known>> {
    if let Some(f) = &src.election_file {
        let b = read_statement_file(f)?;
        let d = parse_draft(f, &b)?;
        let Body::Election(e) = &d.statement.body else {
            return Err(Fail::new(
                Kind::Other,
                format!(
                    "{} is a {} statement, not an election",
                    f.display(),
                    d.statement.statement_type()
                ),
            ));
        };
        if d.statement.election != id {
            return Err(Fail::new(
                Kind::Other,
                format!(
                    "{} seals election {:?}, the statement is of {id:?}",
                    f.display(),
                    d.statement.election
                ),
            ));
        }
        return Ok(Some(Known {
            keys: e.authorities.clone(),
            quorum: e.quorum,
            sealed: None,
        }));
    }
    if let Some(url) = &src.log {
        let trust = trust_of(url, src.log_key.as_deref())?;
        let log = Log::new(url);
        let sealed = sealed_election(&log, &trust, id)?;
        return Ok(Some(Known {
            keys: sealed.state.authorities.clone(),
            quorum: sealed.state.quorum,
            sealed: Some(sealed),
        }));
    }
    Ok(None)
}

// ---------------------------------------------------------------------------------------
// statement new
// ---------------------------------------------------------------------------------------

/// Arguments of `statement new`.
#[derive(Args, Debug)]
#[command(disable_help_flag = true)]
pub struct NewArgs {
    /// Statement type: election, open, suspend, resume, close, credential, revoke,
    /// ballot, results, intervention, void. `statement new TYPE --help` lists its
    /// fields in order and who signs it.
    #[arg(value_name = "TYPE")]
    pub ty: Option<String>,
    /// Election id.
    #[arg(long, value_name = "ID")]
    pub election: Option<String>,
    /// Statement time, YYYY-MM-DDTHH:MM:SSZ [default: now].
    #[arg(long, value_name = "TIME")]
    pub time: Option<String>,
    /// Sign right away with this key file (repeatable: several board keys on one
    /// machine; their lines are put in the election's order).
    #[arg(long = "key", value_name = "FILE")]
    pub keys: Vec<PathBuf>,
    /// Write the statement to FILE instead of standard output.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    /// Print help (with TYPE: its fields and signers).
    #[arg(short = 'h', long = "help")]
    pub help: bool,
    #[command(flatten)]
    pub source: ElectionSource,
    /// The type's fields, as `--<field> <value>` (repeat --scrutin and --authority).
    #[arg(
        value_name = "--FIELD VALUE",
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    pub fields: Vec<String>,
}

/// Returns the help of one statement type, from the library's tables.
pub fn type_help(t: StatementType) -> String {
    let mut s = format!(
        "urne-client statement new {t} --election ID [--time TIME] [--key FILE…] [--out FILE]"
    );
    for f in authoring::fields(t) {
        let arg = format!(" --{} VALUE", f.name);
        if f.optional {
            s.push_str(&format!(" [{}]", arg.trim_start()));
        } else {
            s.push_str(&arg);
        }
        if f.repeated {
            s.push('…');
        }
    }
    s.push_str(&format!(
        "\n\nA {t} statement is {}.\nIts lines, in order:\n  urne/v1 {t}\n  election <id>\n  time <YYYY-MM-DDTHH:MM:SSZ, UTC; default now>\n",
        authoring::signers_sentence(t)
    ));
    for f in authoring::fields(t) {
        let mut tags = Vec::new();
        if f.optional {
            tags.push("optional");
        }
        if f.repeated {
            tags.push("one line each, at least one");
        }
        let tags = if tags.is_empty() {
            String::new()
        } else {
            format!(" ({})", tags.join(", "))
        };
        s.push_str(&format!(
            "  {} <{}>{tags}\n      {}\n",
            f.name,
            f.syntax.describe(),
            f.help
        ));
    }
    s
}

fn all_types_help() -> String {
    let mut s = String::from(
        "Write a statement: urne-client statement new TYPE --election ID [--time TIME] [--key FILE…] [--out FILE] [--FIELD VALUE…]\n\nTypes and who signs them:\n",
    );
    for t in StatementType::ALL {
        let names: Vec<&str> = authoring::fields(*t).iter().map(|f| f.name).collect();
        s.push_str(&format!(
            "  {:<13}{}\n  {:<13}fields: {}\n",
            t.as_str(),
            authoring::signers_sentence(*t),
            "",
            if names.is_empty() {
                "(none)".into()
            } else {
                names.join(", ")
            }
        ));
    }
    s.push_str("\n`urne-client statement new TYPE --help` gives a type's fields, their syntax and order.\n");
    s
}

/// Splits `--field value` / `--field=value` arguments into pairs.
fn field_pairs(args: &[String]) -> Res<Vec<(String, String)>> {
    let mut out = Vec::new();
    let mut it = args.iter();
    while let Some(a) = it.next() {
        let Some(name) = a.strip_prefix("--") else {
            return Err(Fail::new(
                Kind::Other,
                format!("expected --FIELD VALUE, found {a:?}"),
            ));
        };
        if let Some((n, v)) = name.split_once('=') {
            out.push((n.to_string(), v.to_string()));
            continue;
        }
        let v = it
            .next()
            .ok_or_else(|| Fail::new(Kind::Other, format!("--{name} needs a value")))?;
        out.push((name.to_string(), v.clone()));
    }
    Ok(out)
}

/// Signs a draft with `keys`: each in the canonical place when the election's keys
/// are known, else one key alone (a single line is in place whatever the order).
fn sign_draft(
    mut draft: Draft,
    keys: &[SignerKey],
    known: Option<(&[(Role, VerifierKey)], u32)>,
) -> Res<Draft> {
    let known = authoring::keys_for(&draft.statement, known).map(|(a, q)| (a.to_vec(), q));
    for key in keys {
        draft = match &known {
            Some((auth, q)) => authoring::add_signature(&draft, key, auth, *q)
                .map_err(|e| Fail::new(Kind::Refused, format!("signing with {}: {e}", key.name())))?,
            None if draft.signatures.is_empty() => {
                let signed = draft
                    .statement
                    .sign(&[key])
                    .map_err(|e| Fail::new(Kind::Refused, format!("{}: {e}", e.code())))?;
                Draft::parse(signed.as_bytes())
                    .map_err(|e| Fail::new(Kind::Other, format!("signed statement: {e}")))?
            }
            None => {
                return Err(Fail::new(
                    Kind::Other,
                    "the statement already carries a signature: give --election-file FILE or --log URL --log-key LOGKEY so that this one goes in the election's order",
                ))
            }
        };
    }
    Ok(draft)
}

/// Moves the command's own options that came after the first field (where clap's
/// trailing arguments took them) back to their place: no type has a field of these
/// names.
fn own_options(a: &NewArgs) -> Res<(NewArgs, Vec<(String, String)>)> {
    let mut own = NewArgs {
        ty: a.ty.clone(),
        election: a.election.clone(),
        time: a.time.clone(),
        keys: a.keys.clone(),
        out: a.out.clone(),
        help: a.help,
        source: a.source.clone(),
        fields: Vec::new(),
    };
    let mut fields = Vec::new();
    for (k, v) in field_pairs(&a.fields)? {
        match k.as_str() {
            "election" => own.election = Some(v),
            "time" => own.time = Some(v),
            "key" => own.keys.push(PathBuf::from(v)),
            "out" => own.out = Some(PathBuf::from(v)),
            "election-file" => own.source.election_file = Some(PathBuf::from(v)),
            "log" => own.source.log = Some(v),
            "log-key" => own.source.log_key = Some(v),
            _ => fields.push((k, v)),
        }
    }
    Ok((own, fields))
}

/// Runs `statement new`.
pub fn new(a: &NewArgs) -> Res<()> {
    if a.help || a.fields.iter().any(|f| f == "--help" || f == "-h") {
        return match a.ty.as_deref().map(str::parse::<StatementType>) {
            Some(Ok(ty)) => {
                print!("{}", type_help(ty));
                Ok(())
            }
            _ => {
                print!("{}", all_types_help());
                Ok(())
            }
        };
    }
    let (a, pairs) = own_options(a)?;
    let a = &a;
    let ty = match &a.ty {
        None => {
            print!("{}", all_types_help());
            return if a.help {
                Ok(())
            } else {
                Err(Fail::new(Kind::Other, "statement new needs a TYPE"))
            };
        }
        Some(t) => t.parse::<StatementType>().map_err(|_| {
            Fail::new(
                Kind::Other,
                format!(
                    "unknown statement type {t:?}; `urne-client statement new --help` lists them"
                ),
            )
        })?,
    };
    let election = a
        .election
        .as_deref()
        .ok_or_else(|| Fail::new(Kind::Other, "--election ID is required"))?;
    let time = match &a.time {
        Some(t) => t
            .parse::<Time>()
            .map_err(|e| Fail::new(Kind::Other, format!("--time: {e}")))?,
        None => Time::now(),
    };
    let st = authoring::build(ty, election, time, &pairs)
        .map_err(|e| Fail::new(Kind::Other, format!("{e}\n\n{}", type_help(ty))))?;
    let keys = a
        .keys
        .iter()
        .map(|p| read_signer(p))
        .collect::<Res<Vec<_>>>()?;
    let mut draft = Draft {
        statement: st,
        signatures: Vec::new(),
    };
    if !keys.is_empty() {
        let src = if ty == StatementType::Election {
            None
        } else {
            election_keys(&a.source, election)?
        };
        let known = src.as_ref().map(|k| (k.keys.as_slice(), k.quorum));
        draft = sign_draft(draft, &keys, known)?;
    }
    write_out(a.out.as_deref(), &draft.to_text())
}

// ---------------------------------------------------------------------------------------
// statement sign
// ---------------------------------------------------------------------------------------

/// Arguments of `statement sign`.
#[derive(Args, Debug)]
pub struct SignArgs {
    /// Your signer key file.
    #[arg(long, value_name = "FILE")]
    pub key: PathBuf,
    /// Write the signed statement here [default: back to STATEMENT; standard output
    /// when STATEMENT is -].
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
    #[command(flatten)]
    pub source: ElectionSource,
    /// The statement file (text alone, or already signed by others), or -.
    #[arg(value_name = "STATEMENT")]
    pub statement: PathBuf,
}

/// Runs `statement sign`: adds this key's line in the canonical place.
pub fn sign(a: &SignArgs) -> Res<()> {
    let key = read_signer(&a.key)?;
    let bytes = read_statement_file(&a.statement)?;
    let draft = parse_draft(&a.statement, &bytes)?;
    // An `election` statement names its own keys: nothing to read elsewhere (and the
    // log has no such election yet).
    let src = if matches!(draft.statement.body, Body::Election(_)) {
        None
    } else {
        election_keys(&a.source, &draft.statement.election)?
    };
    let known = src.as_ref().map(|k| (k.keys.as_slice(), k.quorum));
    let known = authoring::keys_for(&draft.statement, known).map(|(a, q)| (a.to_vec(), q));
    let signed = sign_draft(
        draft,
        std::slice::from_ref(&key),
        known.as_ref().map(|(a, q)| (a.as_slice(), *q)),
    )?;
    let out = a.out.as_deref().unwrap_or(&a.statement);
    write_out(Some(out), &signed.to_text())?;
    let status = match &known {
        Some((auth, q)) => {
            let r = authoring::signature_report(&signed, auth, *q);
            let valid = r.present.iter().filter(|p| p.verifies).count();
            format!("{valid} of the {} signature(s) it needs", r.needed)
        }
        None => format!("{} signature(s)", signed.signatures.len()),
    };
    eprintln!(
        "signed by {}: the {} statement now carries {status}{}",
        key.name(),
        signed.statement.statement_type(),
        if out == Path::new("-") {
            String::new()
        } else {
            format!(" ({})", out.display())
        }
    );
    Ok(())
}

// ---------------------------------------------------------------------------------------
// statement inspect
// ---------------------------------------------------------------------------------------

/// Arguments of `statement inspect`.
#[derive(Args, Debug)]
pub struct InspectArgs {
    /// The log's verifier key, with --log.
    #[arg(long, value_name = "LOGKEY", env = "URNE_LOG_KEY")]
    pub key: Option<String>,
    /// A log to read the sealed election and its state from.
    #[arg(long, value_name = "URL")]
    pub log: Option<String>,
    /// The election's `election` statement, when no log is asked.
    #[arg(long = "election-file", value_name = "FILE")]
    pub election_file: Option<PathBuf>,
    /// The statement file, or -.
    #[arg(value_name = "STATEMENT")]
    pub statement: PathBuf,
}

/// The refusals that depend on a voter's or credential's own history, which a log
/// does not serve as state: `inspect` cannot predict them.
fn per_voter(code: RefusalCode) -> bool {
    matches!(
        code,
        RefusalCode::CredentialUnknown
            | RefusalCode::CredentialRevoked
            | RefusalCode::CredentialExists
            | RefusalCode::AlreadyVoted
            | RefusalCode::DuplicateReceipt
            | RefusalCode::CredentialReasonMismatch
    )
}

/// Runs `statement inspect`; returns the report to print (the error's message is
/// the report too when the statement is incomplete or would be refused).
pub fn inspect(a: &InspectArgs) -> Res<String> {
    let bytes = read_statement_file(&a.statement)?;
    let draft = parse_draft(&a.statement, &bytes)?;
    let st = &draft.statement;
    let ty = st.statement_type();
    let mut out = format!(
        "{ty} statement of election {} at {}, {}\n",
        st.election,
        st.time,
        authoring::signers_sentence(ty)
    );
    for l in st.to_text().lines().skip(3) {
        out.push_str(&format!("  {l}\n"));
    }
    // With --log, the election's keys are the ones sealed in that log (the verdict is
    // that log's); else those of --election-file.
    let src = ElectionSource {
        election_file: if a.log.is_some() {
            None
        } else {
            a.election_file.clone()
        },
        log: a.log.clone(),
        log_key: a.key.clone(),
    };
    let fetched = if matches!(st.body, Body::Election(_)) && a.log.is_none() {
        None
    } else if matches!(st.body, Body::Election(_)) {
        // An election statement's keys are its own; the log only says if the id is
        // taken.
        None
    } else {
        election_keys(&src, &st.election)?
    };
    let known = authoring::keys_for(st, fetched.as_ref().map(|k| (k.keys.as_slice(), k.quorum)));
    let mut kind = None;
    match known {
        None => {
            out.push_str(&format!(
                "signatures: {} line(s):\n",
                draft.signatures.len()
            ));
            for l in &draft.signatures {
                out.push_str(&format!(
                    "  {} (key ID {:08x}): not checked\n",
                    l.name, l.key_id
                ));
            }
            out.push_str("which keys may sign and how many are needed cannot be known without the election: give --election-file FILE or --log URL --key LOGKEY\n");
        }
        Some((auth, quorum)) => {
            let r = authoring::signature_report(&draft, auth, quorum);
            let valid = r.present.iter().filter(|p| p.verifies).count();
            out.push_str(&format!(
                "signatures: {valid} valid of the {} needed\n",
                r.needed
            ));
            for p in &r.present {
                let name = &p.name;
                out.push_str(&match (&p.key, p.verifies) {
                    (Some((role, _)), true) => format!("  {name} ({role}): verifies\n"),
                    (Some((role, _)), false) => format!("  {name} ({role}): DOES NOT VERIFY\n"),
                    (None, _) => format!("  {name}: not a key of the election\n"),
                });
            }
            if valid < r.needed {
                out.push_str(&format!(
                    "missing: {} more signature(s), from any of:\n",
                    r.needed - valid
                ));
                for (role, k) in &r.missing {
                    out.push_str(&format!("  {} ({role}) {k}\n", k.name()));
                }
            }
            match &r.refusal {
                None => out.push_str("signature block: complete and canonical\n"),
                Some(f) => {
                    out.push_str(&format!(
                        "signature block: the log would refuse it now: {}: {}\n",
                        f.code.as_str(),
                        f.detail
                    ));
                    kind = Some(
                        if matches!(f.code, RefusalCode::QuorumNotMet | RefusalCode::Malformed) {
                            Kind::Incomplete
                        } else {
                            Kind::Refused
                        },
                    );
                }
            }
        }
    }
    if let Some(url) = &a.log {
        let verdict = log_verdict(
            url,
            a.key.as_deref(),
            &draft,
            fetched.and_then(|f| f.sealed),
        )?;
        out.push_str(&verdict.0);
        if kind.is_none() {
            kind = verdict.1;
        }
    }
    match kind {
        None => Ok(out),
        Some(k) => Err(Fail::new(k, out.trim_end().to_string())),
    }
}

/// Predicts the log's verdict: the library's rules run against the election state
/// the log reports, with the log's clock taken as ours.
fn log_verdict(
    url: &str,
    key: Option<&str>,
    draft: &Draft,
    sealed: Option<Sealed>,
) -> Res<(String, Option<Kind>)> {
    let st = &draft.statement;
    let Some(signed) = draft.signed() else {
        return Ok(("log: not asked (no signature yet)\n".into(), None));
    };
    let log = Log::new(url);
    // A log that does not say (or not in this shape) gets the rules' defaults.
    let info: urne_client::api::LogInfo = log
        .get_json("v1/log")?
        .and_then(|v| serde_json::from_value(v).ok())
        .unwrap_or_default();
    let mut state = MemoryState::new();
    let index;
    let mut caveat;
    match sealed {
        Some(s) => {
            index = s.tree_size;
            caveat = format!(
                "; its keys and quorum are those sealed at entry {} (proved against the log's checkpoint); its phase is the log's word",
                s.state.sealed_at_index
            );
            debug_assert!(matches!(s.statement.statement.body, Body::Election(_)));
            state.insert(
                StateKey::Election(st.election.clone()),
                StateValue::Election(Box::new(s.state)),
            );
        }
        None => {
            // An `election` statement: is its id taken?
            let trust = trust_of(url, key)?;
            let cp = trust.open(&log.checkpoint()?)?;
            index = cp.checkpoint.size;
            if log
                .get_json(&format!("v1/elections/{}", st.election))?
                .is_some()
            {
                return Ok((
                    format!(
                        "log: would refuse it now: election_exists: election {:?} is already sealed in {url}\n",
                        st.election
                    ),
                    Some(Kind::Refused),
                ));
            }
            caveat = "; whether this log's operator allows its board keys (--allow-board) is not published".into();
        }
    }
    let ctx = Context {
        index,
        now: Some(Time::now()),
        tolerance_secs: info
            .time_tolerance_secs
            .unwrap_or(rules::DEFAULT_TOLERANCE_SECS),
        max_tolerance_secs: info.max_time_tolerance_secs,
    };
    let per_voter_type = matches!(
        st.statement_type(),
        StatementType::Credential | StatementType::Revoke | StatementType::Ballot
    );
    if per_voter_type {
        caveat = format!(
            "; the voter's and credential's own history (already issued, revoked, voted, receipt used, initial or reissue) is checked by the log alone{caveat}"
        );
    }
    caveat.push_str(
        "; and whether this very text is already logged (then submit answers it as a duplicate)",
    );
    Ok(match rules::check(&state, &signed, None, &ctx) {
        Ok(_) => (
            format!("log: would accept it now as far as the election's state at tree size {index} shows{caveat}\n"),
            None,
        ),
        Err(r) if per_voter(r.code) => (
            format!("log: the election's state at tree size {index} allows it{caveat}\n"),
            None,
        ),
        Err(r) => (
            format!(
                "log: would refuse it now: {}: {}\n",
                r.code.as_str(),
                r.detail
            ),
            Some(Kind::Refused),
        ),
    })
}
