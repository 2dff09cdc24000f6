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
use std::collections::{BTreeMap, HashSet};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
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
    /// (user, password) pairs that verified, so that bcrypt's deliberate
    /// cost is paid once per credential rather than per scrape.
    verified: HashSet<(String, String)>,
    /// Failed attempts since the last log line, and when that was.
    failures: u64,
    last_logged: Option<Instant>,
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

    /// Checks an `Authorization` header; bcrypt runs on a blocking thread
    /// so the server goes on answering meanwhile. A failure is counted
    /// and logged at most once a minute, without the password.
    pub async fn authorized(&self, header: Option<&str>, peer: std::net::SocketAddr) -> bool {
        let Some((user, password)) = header.and_then(basic_credentials) else {
            self.failed(peer, None);
            return false;
        };
        let key = (user.clone(), password.clone());
        if self.auth.lock().is_ok_and(|a| a.verified.contains(&key)) {
            return true;
        }
        let Some(hash) = self.users.get(&user).cloned() else {
            // as slow as a wrong password, so names cannot be probed
            let _ =
                tokio::task::spawn_blocking(move || bcrypt::verify(&password, DUMMY_HASH)).await;
            self.failed(peer, Some(&user));
            return false;
        };
        let ok = tokio::task::spawn_blocking(move || bcrypt::verify(&password, &hash))
            .await
            .is_ok_and(|r| r.unwrap_or(false));
        if ok {
            if let Ok(mut a) = self.auth.lock() {
                if a.verified.len() >= 256 {
                    a.verified.clear();
                }
                a.verified.insert(key);
            }
        } else {
            self.failed(peer, Some(&user));
        }
        ok
    }

    fn failed(&self, peer: std::net::SocketAddr, user: Option<&str>) {
        let Ok(mut a) = self.auth.lock() else {
            return;
        };
        a.failures += 1;
        if a.last_logged
            .is_none_or(|t| t.elapsed() >= Duration::from_secs(60))
        {
            let who = match user {
                Some(u) => format!("user {u:?}"),
                None => "no credentials".into(),
            };
            crate::log!(
                "ringflow: HTTP: {} failed login(s) in the last minute, the latest from {peer} ({who})",
                a.failures
            );
            a.failures = 0;
            a.last_logged = Some(Instant::now());
        }
    }
}

/// A bcrypt hash of nothing anyone sends, for unknown users.
const DUMMY_HASH: &str = "$2b$10$N9qo8uLOickgx2ZMRZoMyeIjZAgcfl7p92ldGxad68LJZdL17lhWy";

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
