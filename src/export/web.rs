//! Protecting the web endpoints: `--web-config FILE` in the Prometheus
//! exporter-toolkit format (TLS with an optional client CA, basic-auth
//! users with bcrypt hashes), so the scrape configs and Ansible roles
//! written for node_exporter work unchanged, and the limits every
//! connection is held to.
//!
//! ```yaml
//! tls_server_config:
//!   cert_file: /etc/ringflow/tls.crt
//!   key_file: /etc/ringflow/tls.key
//!   client_auth_type: RequireAndVerifyClientCert   # or VerifyClientCertIfGiven, NoClientCert
//!   client_ca_file: /etc/ringflow/clients.pem
//!   min_version: TLS12                             # or TLS13
//! basic_auth_users:
//!   prometheus: $2y$10$...                         # htpasswd -nBC 10 "" | tr -d ':\n'
//! ```

use serde::Deserialize;
use std::collections::{BTreeMap, HashMap};
use std::hash::BuildHasher;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

/// How long a client has to send a request head (also between requests
/// on a kept-alive connection) and to finish a TLS handshake.
pub const HEAD_TIMEOUT: Duration = Duration::from_secs(10);
/// The most a request head may take, in bytes.
pub const MAX_HEAD_BYTES: usize = 16 * 1024;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct WebConfigFile {
    tls_server_config: Option<TlsFile>,
    basic_auth_users: Option<BTreeMap<String, String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct TlsFile {
    cert_file: PathBuf,
    key_file: PathBuf,
    client_auth_type: Option<String>,
    client_ca_file: Option<PathBuf>,
    min_version: Option<String>,
    max_version: Option<String>,
}

/// What the HTTP server enforces.
#[derive(Clone)]
pub struct WebSettings {
    /// TLS, if configured.
    pub tls: Option<Arc<rustls::ServerConfig>>,
    /// Users and their bcrypt hashes; empty: no authentication.
    users: Arc<BTreeMap<String, String>>,
    /// Connections served at once; the least recently active one gives
    /// way to a new one beyond this.
    pub max_connections: usize,
    /// The file it was read from.
    pub path: Option<PathBuf>,
    auth: Arc<Mutex<AuthState>>,
    /// What an unknown user's password is checked against: a hash at the
    /// highest cost among the users, so that a name that does not exist
    /// costs what the dearest that does costs.
    dummy_hash: Arc<String>,
    /// Bcrypt checks running at once, at most one per core the HTTP
    /// side may use (made on its thread, at the first check).
    hashing: Arc<OnceLock<Arc<tokio::sync::Semaphore>>>,
    /// `Host` names and addresses requests may name (see
    /// [`allow_hosts`](Self::allow_hosts)); `None`: any.
    allowed_hosts: Option<Arc<AllowedHosts>>,
}

/// What a request's credentials come to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    Granted,
    /// Missing, wrong, or a password longer than bcrypt checks.
    Denied,
    /// Not checked now: as many checks as the HTTP side has cores are
    /// running, or the source failed too often lately; ask again after
    /// this many seconds.
    Busy {
        retry_after: u64,
    },
}

/// A check that verified lasts this long: a scraper with the right
/// password costs one hash a minute, not one a scrape.
const VERIFIED_FOR: Duration = Duration::from_secs(60);
/// Credentials kept verified at most.
const MAX_VERIFIED: usize = 256;
/// Failures a source may have within [`FAILURE_WINDOW`] before it is
/// made to wait; each one after doubles the wait, up to [`MAX_BACKOFF`].
const FREE_FAILURES: u32 = 5;
const FAILURE_WINDOW: Duration = Duration::from_secs(60);
const MAX_BACKOFF: u64 = 60;
/// Sources with recent failures kept at most (the oldest goes first).
const MAX_SOURCES: usize = 4096;
/// bcrypt looks at the first 72 bytes of a password only: a longer one
/// is refused rather than cut.
pub const MAX_PASSWORD_BYTES: usize = 72;

/// Recent failures of one source address.
struct Failures {
    count: u32,
    first: Instant,
    last: Instant,
    /// No check for this source before then.
    until: Option<Instant>,
}

impl std::fmt::Debug for WebSettings {
    // never the hashes
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebSettings")
            .field("tls", &self.tls.is_some())
            .field("users", &self.users.keys().collect::<Vec<_>>())
            .field("max_connections", &self.max_connections)
            .finish()
    }
}

#[derive(Default)]
struct AuthState {
    /// (user, keyed hash of the password) that verified, and when: so
    /// that bcrypt's deliberate cost is paid once a minute per credential
    /// rather than per scrape. The password itself is not kept.
    verified: HashMap<(String, u64), Instant>,
    key: std::collections::hash_map::RandomState,
    /// Sources that failed lately.
    sources: HashMap<IpAddr, Failures>,
    /// Failed attempts since the last log line, which says them.
    failures: u64,
    failure_lines: crate::Complaints,
    /// Refused `Host` names, said once a minute at most.
    host_lines: crate::Complaints,
}

impl AuthState {
    /// How long `ip` must still wait, in whole seconds (0: it may try).
    fn waiting(&mut self, ip: IpAddr, now: Instant) -> u64 {
        match self.sources.get(&ip).and_then(|f| f.until) {
            Some(t) if t > now => (t - now).as_secs() + 1,
            _ => 0,
        }
    }

    /// Counts a failure of `ip`; beyond [`FREE_FAILURES`] in the window it
    /// must wait 1, 2, 4, ... seconds before its next check.
    fn failed(&mut self, ip: IpAddr, now: Instant) {
        if !self.sources.contains_key(&ip) && self.sources.len() >= MAX_SOURCES {
            let oldest = self
                .sources
                .iter()
                .min_by_key(|(_, f)| f.last)
                .map(|(k, _)| *k);
            if let Some(k) = oldest {
                self.sources.remove(&k);
            }
        }
        let f = self.sources.entry(ip).or_insert(Failures {
            count: 0,
            first: now,
            last: now,
            until: None,
        });
        if now.duration_since(f.first) > FAILURE_WINDOW {
            (f.count, f.first) = (0, now);
        }
        f.count += 1;
        f.last = now;
        if f.count > FREE_FAILURES {
            let wait = (1u64 << (f.count - FREE_FAILURES - 1).min(6)).min(MAX_BACKOFF);
            f.until = Some(now + Duration::from_secs(wait));
        }
    }

    fn password_key(&self, password: &str) -> u64 {
        self.key.hash_one(password)
    }
}

/// The `Host` values requests may carry: names (lower case) and
/// addresses, and whether any address of this box goes too (listening on
/// all of them).
#[derive(Debug)]
pub struct AllowedHosts {
    names: Vec<String>,
    any_own_address: bool,
}

impl WebSettings {
    /// Reads `--web-config` (none: no TLS, no users); every problem is
    /// one line that names the file and the setting, never a secret.
    pub fn load(path: Option<&Path>, max_connections: usize) -> Result<WebSettings, String> {
        if max_connections == 0 {
            return Err("--web-max-connections must be at least 1".into());
        }
        let mut s = WebSettings {
            tls: None,
            users: Arc::default(),
            max_connections,
            path: None,
            auth: Arc::default(),
            dummy_hash: Arc::default(),
            hashing: Arc::default(),
            allowed_hosts: None,
        };
        let Some(path) = path else {
            return Ok(s);
        };
        s.path = Some(path.to_path_buf());
        let shown = path.display();
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("cannot read web config {shown}: {e}"))?;
        let file: WebConfigFile = serde_yaml_ng::from_str(&text)
            .map_err(|e| format!("web config {shown}: {}", one_line(&e.to_string())))?;
        if let Some(users) = file.basic_auth_users {
            for (user, hash) in &users {
                if user.is_empty() || user.contains(':') {
                    return Err(format!(
                        "web config {shown}: user name {user:?} is empty or holds ':'"
                    ));
                }
                // a well-formed hash verifies (false) rather than failing
                if bcrypt::verify("", hash).is_err() {
                    return Err(format!(
                        "web config {shown}: the password of user {user:?} is not a bcrypt hash (make one with `htpasswd -nBC 10 \"\" | tr -d ':\\n'`)"
                    ));
                }
            }
            // the cost is the two digits after the version: $2b$12$...
            let cost = users
                .values()
                .filter_map(|h| h.get(4..6).and_then(|c| c.parse::<u32>().ok()))
                .max();
            if let Some(cost) = cost {
                s.dummy_hash = Arc::new(
                    bcrypt::hash("ringflow: no such user", cost)
                        .map_err(|e| format!("web config {shown}: {e}"))?,
                );
            }
            s.users = Arc::new(users);
        }
        if let Some(tls) = file.tls_server_config {
            s.tls = Some(Arc::new(
                tls_config(&tls).map_err(|e| format!("web config {shown}: {e}"))?,
            ));
        }
        Ok(s)
    }

    /// Whether requests need a user and password.
    pub fn needs_auth(&self) -> bool {
        !self.users.is_empty()
    }

    /// Which `Host` values requests may carry: `given` (`*` for any), or
    /// by default the listen address, `localhost`, the loopback addresses
    /// and this machine's names, and with an unspecified listen address
    /// (0.0.0.0, ::) every address of the box. A page from elsewhere that
    /// rebinds its name to a local address is refused (421).
    pub fn allow_hosts(&mut self, listen: SocketAddr, given: Option<&[String]>) {
        let norm = |h: &str| h.trim().trim_end_matches('.').to_ascii_lowercase();
        let hosts = match given {
            Some(g) if g.iter().any(|h| h.trim() == "*") => None,
            Some(g) => Some(AllowedHosts {
                names: g.iter().map(|h| norm(h)).collect(),
                any_own_address: false,
            }),
            None => {
                let mut names = vec!["localhost".to_string(), "127.0.0.1".into(), "::1".into()];
                if !listen.ip().is_unspecified() {
                    names.push(listen.ip().to_string());
                }
                // this machine's names: its host name (and the short form
                // of a dotted one), and every name /etc/hosts gives an
                // address of one of them (Debian writes the FQDN there);
                // no DNS lookup, which could hang a start
                let mut own: Vec<String> = Vec::new();
                for f in [
                    "/proc/sys/kernel/hostname",
                    "/etc/hostname",
                    "/etc/mailname",
                ] {
                    if let Ok(n) = std::fs::read_to_string(f) {
                        own.push(norm(&n));
                    }
                }
                let hosts = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
                for line in hosts.lines() {
                    let line = line.split('#').next().unwrap_or("");
                    let fields: Vec<String> = line.split_whitespace().skip(1).map(norm).collect();
                    if fields.iter().any(|n| own.contains(n)) {
                        own.extend(fields);
                    }
                }
                for n in own {
                    let short = n.split_once('.').map(|(s, _)| s.to_string());
                    for n in [Some(n), short].into_iter().flatten() {
                        if !n.is_empty() && !names.contains(&n) {
                            names.push(n);
                        }
                    }
                }
                Some(AllowedHosts {
                    names,
                    any_own_address: listen.ip().is_unspecified(),
                })
            }
        };
        self.allowed_hosts = hosts.map(Arc::new);
    }

    /// [`host_allowed`](Self::host_allowed), and a refusal logged (at most
    /// once a minute, with the name, so that an operator whose scraper
    /// names the box otherwise knows what to add).
    pub fn check_host(&self, host: Option<&str>, peer: SocketAddr) -> bool {
        if self.host_allowed(host) {
            return true;
        }
        crate::lock(&self.auth).host_lines.say(format_args!(
            "ringflow: HTTP: refused a request from {peer} for Host {:?} (421); if that is how this box is reached, add it with --web-allowed-hosts",
            host.unwrap_or_default()
        ));
        false
    }

    /// Whether a request's `Host` header is one it may carry (a request
    /// without one, HTTP/1.0, goes: no browser sends one).
    pub fn host_allowed(&self, host: Option<&str>) -> bool {
        let (Some(allowed), Some(host)) = (&self.allowed_hosts, host) else {
            return true;
        };
        // name or address, without the port; IPv6 in brackets
        let h = host.trim();
        let name = match h.strip_prefix('[') {
            Some(rest) => rest.split(']').next().unwrap_or(""),
            None => h.rsplit_once(':').map_or(h, |(n, p)| {
                if p.bytes().all(|b| b.is_ascii_digit()) {
                    n
                } else {
                    h
                }
            }),
        };
        let name = name.trim_end_matches('.').to_ascii_lowercase();
        if allowed.names.contains(&name) {
            return true;
        }
        allowed.any_own_address
            && name.parse::<IpAddr>().is_ok_and(|ip| {
                crate::sys::netlink::host_addresses()
                    .iter()
                    .any(|(a, _)| *a == ip)
            })
    }

    /// Checks an `Authorization` header. Credentials that verified within
    /// a minute go without a hash; a source that failed more than
    /// [`FREE_FAILURES`] times in a minute waits before its next check; else
    /// bcrypt runs on a blocking thread, at most as many at once as the
    /// HTTP side has cores (the rest are told to come back, never
    /// queued). A failure is counted and logged at most once a minute,
    /// without the password.
    pub async fn authorized(&self, header: Option<&str>, peer: SocketAddr) -> Auth {
        let Some((user, password)) = header.and_then(basic_credentials) else {
            // logged, but costs nothing: a browser asks without first
            self.failed(peer, None, false);
            return Auth::Denied;
        };
        if password.len() > MAX_PASSWORD_BYTES {
            self.failed(peer, Some(&user), true);
            return Auth::Denied;
        }
        let now = Instant::now();
        let key = {
            let mut a = crate::lock(&self.auth);
            // credentials that verified go first: a scraper behind the
            // same address as someone guessing is not held up by them
            let key = (user.clone(), a.password_key(&password));
            if a.verified
                .get(&key)
                .is_some_and(|t| now.duration_since(*t) < VERIFIED_FOR)
            {
                return Auth::Granted;
            }
            let wait = a.waiting(peer.ip(), now);
            if wait > 0 {
                return Auth::Busy { retry_after: wait };
            }
            key
        };
        let hashing = self.hashing.get_or_init(|| {
            let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
            Arc::new(tokio::sync::Semaphore::new(cores))
        });
        let Ok(permit) = hashing.clone().try_acquire_owned() else {
            return Auth::Busy { retry_after: 1 };
        };
        let (hash, known) = match self.users.get(&user) {
            Some(h) => (h.clone(), true),
            None => (self.dummy_hash.to_string(), false),
        };
        // the permit goes with the hash: it is given back when the hash
        // ends, even if the client is gone by then
        let ok = tokio::task::spawn_blocking(move || {
            let ok = bcrypt::verify(&password, &hash).unwrap_or(false);
            drop(permit);
            ok
        })
        .await
        .unwrap_or(false)
            && known;
        if ok {
            let mut a = crate::lock(&self.auth);
            if a.verified.len() >= MAX_VERIFIED {
                a.verified
                    .retain(|_, t| now.duration_since(*t) < VERIFIED_FOR);
                if a.verified.len() >= MAX_VERIFIED {
                    a.verified.clear();
                }
            }
            a.verified.insert(key, now);
            a.sources.remove(&peer.ip());
            Auth::Granted
        } else {
            self.failed(peer, Some(&user), true);
            Auth::Denied
        }
    }

    /// Logs a failure (once a minute at most); `counts`: toward the
    /// source's wait.
    fn failed(&self, peer: SocketAddr, user: Option<&str>, counts: bool) {
        let mut a = crate::lock(&self.auth);
        if counts {
            a.failed(peer.ip(), Instant::now());
        }
        a.failures += 1;
        let who = match user {
            Some(u) => format!("user {u:?}"),
            None => "no credentials".into(),
        };
        let n = a.failures;
        if a.failure_lines.say(format_args!(
            "ringflow: HTTP: {n} failed login(s) in the last minute, the latest from {peer} ({who})"
        )) {
            a.failures = 0;
        }
    }
}

fn one_line(s: &str) -> String {
    s.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// `Basic base64(user:password)` into its parts.
fn basic_credentials(header: &str) -> Option<(String, String)> {
    use base64::Engine;
    let (scheme, value) = header.trim().split_once(' ')?;
    if !scheme.eq_ignore_ascii_case("basic") {
        return None;
    }
    let raw = base64::engine::general_purpose::STANDARD
        .decode(value.trim())
        .ok()?;
    let text = String::from_utf8(raw).ok()?;
    let (user, password) = text.split_once(':')?;
    Some((user.to_string(), password.to_string()))
}

/// The rustls server config of `tls_server_config`: its settings are
/// checked first, then the files they name are read.
fn tls_config(t: &TlsFile) -> Result<rustls::ServerConfig, String> {
    use rustls::pki_types::pem::PemObject;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let known = [
        ("TLS12", &rustls::version::TLS12),
        ("TLS13", &rustls::version::TLS13),
    ];
    let position = |v: &str| {
        known
            .iter()
            .position(|(name, _)| *name == v)
            .ok_or_else(|| format!("TLS version {v:?}: TLS12 or TLS13"))
    };
    let min = position(t.min_version.as_deref().unwrap_or("TLS12"))?;
    let max = position(t.max_version.as_deref().unwrap_or("TLS13"))?;
    if min > max {
        return Err("min_version is above max_version".into());
    }
    let versions: Vec<&'static rustls::SupportedProtocolVersion> =
        known[min..=max].iter().map(|(_, v)| *v).collect();
    // None: no client certificates; Some(optional)
    let client_certs = match t.client_auth_type.as_deref().unwrap_or("NoClientCert") {
        "NoClientCert" => None,
        "RequireAndVerifyClientCert" => Some(false),
        "VerifyClientCertIfGiven" => Some(true),
        other => {
            return Err(format!(
                "client_auth_type {other:?}: NoClientCert, VerifyClientCertIfGiven or RequireAndVerifyClientCert"
            ));
        }
    };
    let ca = match (client_certs, &t.client_ca_file) {
        (None, _) => None,
        (Some(_), Some(ca)) => Some(ca),
        (Some(_), None) => {
            return Err(format!(
                "client_auth_type {} needs client_ca_file",
                t.client_auth_type.as_deref().unwrap_or_default()
            ));
        }
    };

    let certs: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(&t.cert_file)
        .and_then(|i| i.collect::<Result<_, _>>())
        .map_err(|e| format!("cert_file {}: {e}", t.cert_file.display()))?;
    if certs.is_empty() {
        return Err(format!(
            "cert_file {}: no certificate in it",
            t.cert_file.display()
        ));
    }
    // the key's path is named, never its contents
    let key = PrivateKeyDer::from_pem_file(&t.key_file).map_err(|_| {
        format!(
            "key_file {}: no PEM private key in it",
            t.key_file.display()
        )
    })?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let builder = rustls::ServerConfig::builder_with_provider(provider.clone())
        .with_protocol_versions(&versions)
        .map_err(|e| format!("TLS versions: {e}"))?;
    let builder = match (client_certs, ca) {
        (Some(optional), Some(ca)) => {
            let bad_ca =
                |e: &dyn std::fmt::Display| format!("client_ca_file {}: {e}", ca.display());
            let mut roots = rustls::RootCertStore::empty();
            for c in CertificateDer::pem_file_iter(ca).map_err(|e| bad_ca(&e))? {
                roots
                    .add(c.map_err(|e| bad_ca(&e))?)
                    .map_err(|e| bad_ca(&e))?;
            }
            let verifier = rustls::server::WebPkiClientVerifier::builder_with_provider(
                Arc::new(roots),
                provider,
            );
            let verifier = if optional {
                verifier.allow_unauthenticated()
            } else {
                verifier
            };
            builder.with_client_cert_verifier(verifier.build().map_err(|e| bad_ca(&e))?)
        }
        _ => builder.with_no_client_auth(),
    };
    let mut config = builder
        .with_single_cert(certs, key)
        .map_err(|e| format!("cert_file and key_file: {e}"))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok(config)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_names_the_server_answers_for() {
        let mut w = WebSettings::load(None, 64).unwrap();
        assert!(w.host_allowed(Some("anything.example")));
        w.allow_hosts("127.0.0.1:19213".parse().unwrap(), None);
        for ok in [
            "127.0.0.1:19213",
            "localhost",
            "LocalHost.:80",
            "[::1]:19213",
            "[::1]",
        ] {
            assert!(w.host_allowed(Some(ok)), "{ok}");
        }
        for bad in [
            "evil.example",
            "evil.example:19213",
            "10.213.9.9",
            "[fd00::1]:1",
            "",
        ] {
            assert!(!w.host_allowed(Some(bad)), "{bad}");
        }
        // HTTP/1.0 without a Host
        assert!(w.host_allowed(None));
        // on all addresses: any of the box's own, as a scraper names it
        w.allow_hosts("0.0.0.0:19213".parse().unwrap(), None);
        assert!(w.host_allowed(Some("127.0.0.1:19213")));
        assert!(!w.host_allowed(Some("192.0.2.77:19213")));
        w.allow_hosts(
            "127.0.0.1:1".parse().unwrap(),
            Some(&["Monitor.Example".to_string()]),
        );
        assert!(w.host_allowed(Some("monitor.example:443")));
        assert!(!w.host_allowed(Some("localhost")));
        w.allow_hosts("127.0.0.1:1".parse().unwrap(), Some(&["*".to_string()]));
        assert!(w.host_allowed(Some("whatever")));
    }

    #[test]
    fn a_failing_source_waits_longer_each_time_then_is_forgiven() {
        let mut a = AuthState::default();
        let ip: IpAddr = "192.0.2.1".parse().unwrap();
        let t0 = Instant::now();
        for _ in 0..FREE_FAILURES {
            a.failed(ip, t0);
            assert_eq!(a.waiting(ip, t0), 0);
        }
        // then 1, 2, 4 s (said in whole seconds, rounded up)
        for wait in [1, 2, 4] {
            a.failed(ip, t0);
            assert_eq!(a.waiting(ip, t0), wait + 1);
            assert_eq!(a.waiting(ip, t0 + Duration::from_secs(wait)), 0);
        }
        // another source is not held up
        assert_eq!(a.waiting("192.0.2.2".parse().unwrap(), t0), 0);
        // a minute later the count starts again
        let later = t0 + FAILURE_WINDOW + Duration::from_secs(1);
        a.failed(ip, later);
        assert_eq!(a.sources[&ip].count, 1);
        // the table is bounded: the oldest source goes
        for i in 0..MAX_SOURCES as u32 + 10 {
            a.failed(IpAddr::from((0x0a00_0000 + i).to_be_bytes()), later);
        }
        assert_eq!(a.sources.len(), MAX_SOURCES);
    }

    #[test]
    fn basic_credentials_are_read_as_the_rfc_says() {
        // "alice:open sesame"
        assert_eq!(
            basic_credentials("Basic YWxpY2U6b3BlbiBzZXNhbWU="),
            Some(("alice".into(), "open sesame".into()))
        );
        assert_eq!(
            basic_credentials("basic YWxpY2U6b3BlbiBzZXNhbWU="),
            Some(("alice".into(), "open sesame".into()))
        );
        for bad in ["Bearer abc", "Basic !!!", "Basic YWxpY2U=", "Basic", ""] {
            assert_eq!(basic_credentials(bad), None, "{bad}");
        }
    }

    #[test]
    fn bad_files_are_one_line_naming_the_setting_and_no_secret() {
        let dir = std::env::temp_dir().join(format!("ringflow-web-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let write = |name: &str, text: &str| {
            let p = dir.join(name);
            std::fs::write(&p, text).unwrap();
            p
        };
        let cases = [
            (
                "unknown.yml",
                "tls_server_config:\n  cert_file: a\n  key_file: b\n  bogus: 1\n",
                "bogus",
            ),
            (
                "top.yml",
                "http_server_config:\n  http2: true\n",
                "http_server_config",
            ),
            (
                "hash.yml",
                "basic_auth_users:\n  alice: secret-not-a-hash\n",
                "not a bcrypt hash",
            ),
            (
                "cert.yml",
                "tls_server_config:\n  cert_file: /nonexistent/c.pem\n  key_file: /nonexistent/k.pem\n",
                "cert_file /nonexistent/c.pem",
            ),
        ];
        for (name, text, want) in cases {
            let e = WebSettings::load(Some(&write(name, text)), 64).unwrap_err();
            assert!(e.contains(want), "{name}: {e}");
            assert!(!e.contains('\n'), "{name}: {e}");
            assert!(!e.contains("secret-not-a-hash"), "{name}: {e}");
        }
        assert!(WebSettings::load(None, 0).is_err());
        let hash = bcrypt::hash("pw", 4).unwrap();
        let ok = write("ok.yml", &format!("basic_auth_users:\n  alice: {hash}\n"));
        // a hash of the right shape is taken
        let s = WebSettings::load(Some(&ok), 64);
        assert!(s.is_ok_and(|s| s.needs_auth()));
        let _ = std::fs::remove_dir_all(&dir);
    }
}
