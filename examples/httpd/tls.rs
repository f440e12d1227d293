//! HTTPS configuration: the certificate and key (PEM files), the rustls server
//! configuration every TLS connection of every worker shares (so the session cache and the
//! ticket keys are shared too), and the reload of the certificate on SIGHUP.
//!
//! The crypto provider is aws-lc-rs by default (feature `tls-aws-lc`), ring with the
//! `tls-ring` feature; aws-lc-rs was chosen by measurement (both built and measured side by
//! side by `TLS_RING=1 scripts/bench-httpd.sh`; see the README, "HTTPS").
//!
//! Encrypting and decrypting a connection's bytes is in `conn::tls`; this module only makes
//! the configuration.

use std::sync::{Arc, RwLock};

use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert, ServerSessionMemoryCache};
use rustls::sign::CertifiedKey;
use rustls::{ServerConfig, ServerConnection};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// The crypto provider: aws-lc-rs by default (`tls-aws-lc`), ring with `tls-ring`.
#[cfg(feature = "tls-ring")]
mod provider {
    pub(super) use rustls::crypto::ring::Ticketer;

    /// ring's provider. Deprecated only for lacking the post-quantum key exchange
    /// (X25519MLKEM768), which only aws-lc-rs has; the classical groups (X25519, P-256,
    /// P-384) are all here.
    pub(super) fn default_provider() -> rustls::crypto::CryptoProvider {
        #[allow(deprecated)]
        rustls::crypto::ring::default_provider()
    }
}
#[cfg(all(feature = "tls-aws-lc", not(feature = "tls-ring")))]
mod provider {
    pub(super) use rustls::crypto::aws_lc_rs::{Ticketer, default_provider};
}
#[cfg(not(any(feature = "tls-aws-lc", feature = "tls-ring")))]
compile_error!("httpd needs a TLS crypto provider: the feature tls-aws-lc (default) or tls-ring");

/// Sessions kept for resumption by session ID (TLS 1.2 clients without tickets), shared by
/// every worker; the oldest goes when it is full.
const SESSION_CACHE: usize = 16 * 1024;

/// TLS 1.3 session tickets sent after each handshake (full or resumed).
const TLS13_TICKETS: usize = 1;

/// The certificate chain and key in use, swapped whole on a successful reload; a connection
/// takes the one current at its handshake.
#[derive(Debug)]
pub(crate) struct CertStore {
    cert_path: String,
    key_path: String,
    provider: Arc<CryptoProvider>,
    current: RwLock<Arc<CertifiedKey>>,
}

impl ResolvesServerCert for CertStore {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        let current = self.current.read().unwrap_or_else(|e| e.into_inner());
        Some(Arc::clone(&current))
    }
}

impl CertStore {
    /// Reads the files again; on success the new certificate serves every handshake from
    /// now on (open connections keep theirs). On failure the old one stays, and the error
    /// says why.
    pub(crate) fn reload(&self) -> Result<(), String> {
        let key = load_certified_key(&self.cert_path, &self.key_path, &self.provider)?;
        *self.current.write().unwrap_or_else(|e| e.into_inner()) = Arc::new(key);
        Ok(())
    }
}

/// What the workers need for TLS: the shared configuration, and the certificate store to
/// reload.
pub(crate) struct Tls {
    pub(crate) config: Arc<ServerConfig>,
    pub(crate) certs: Arc<CertStore>,
}

impl Tls {
    /// Reads and checks the certificate chain and key and builds the server configuration:
    /// TLS 1.3 and 1.2, ALPN `http/1.1`, session tickets and a shared session cache. An
    /// error is one line naming the file and what is wrong with it.
    pub(crate) fn load(cert_path: &str, key_path: &str) -> Result<Tls, String> {
        let mut provider = provider::default_provider();
        prefer_aes_128(&mut provider);
        let provider = Arc::new(provider);
        let key = load_certified_key(cert_path, key_path, &provider)?;
        let certs = Arc::new(CertStore {
            cert_path: cert_path.to_string(),
            key_path: key_path.to_string(),
            provider: Arc::clone(&provider),
            current: RwLock::new(Arc::new(key)),
        });
        let mut config = ServerConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(|e| format!("TLS: {e}"))?
            .with_no_client_auth()
            .with_cert_resolver(Arc::clone(&certs) as Arc<dyn ResolvesServerCert>);
        config.alpn_protocols = vec![b"http/1.1".to_vec()];
        // The server's order of cipher suites decides (see `prefer_aes_128`).
        config.ignore_client_order = true;
        // Resumption: TLS 1.3 by stateless tickets (the session sealed into the ticket by
        // the provider's `Ticketer`, whose keys every worker shares), TLS 1.2 by tickets or,
        // for clients without them, by session ID from the shared cache. Not TLS 1.3
        // tickets naming a cached session: rustls' cache takes such a session out with a
        // linear search of its eviction queue, so once full handshakes have filled it
        // (16,384 sessions) a resumed connection cost 30-40 us more server CPU than a full
        // one (see the README, "HTTPS", *Resumption*).
        config.session_storage = ServerSessionMemoryCache::new(SESSION_CACHE);
        config.ticketer = provider::Ticketer::new().map_err(|e| format!("TLS tickets: {e}"))?;
        // One TLS 1.3 ticket per connection (rustls sends 2 by default): a client that
        // resumes gets a fresh one on every resumed connection, so one is all it uses; the
        // second is a key derivation, a ticket sealed and record bytes for nothing (-3.3 %
        // of the instructions per full handshake, -3.7 % per resumed one).
        config.send_tls13_tickets = TLS13_TICKETS;
        Ok(Tls {
            config: Arc::new(config),
            certs,
        })
    }

    /// A server-side TLS session for a new connection.
    pub(crate) fn session(&self) -> Option<Box<ServerConnection>> {
        let mut session = ServerConnection::new(Arc::clone(&self.config)).ok()?;
        // Output is bounded by the connection code (a batch, or one file chunk, at a time).
        session.set_buffer_limit(None);
        Some(Box::new(session))
    }
}

/// Puts the AES-128-GCM suites first, then ChaCha20-Poly1305, then AES-256-GCM (TLS 1.3 and
/// TLS 1.2 alike; the order within each kind is the provider's), Mozilla's recommended order.
/// Clients (OpenSSL, rustls, wrk, curl) list AES-256-GCM with SHA-384 first: its key
/// schedule hashes with SHA-512, which this host's CPU (AMD EPYC: SHA extensions for SHA-256
/// only) runs in plain C (aws-lc's `sha512_block_data_order_nohw`: 20 % of the server's CPU
/// per resumed handshake), and its AES has 14 rounds to AES-128's 10. Measured: see the
/// README ("HTTPS", *Cipher suites*).
fn prefer_aes_128(provider: &mut CryptoProvider) {
    use rustls::CipherSuite as S;
    provider.cipher_suites.sort_by_key(|s| match s.suite() {
        S::TLS13_AES_128_GCM_SHA256
        | S::TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256
        | S::TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256 => 0,
        S::TLS13_CHACHA20_POLY1305_SHA256
        | S::TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256
        | S::TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256 => 1,
        _ => 2,
    });
}

/// Reads a whole file, with an error naming the flag and the path.
fn read_file(flag: &str, path: &str) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("{flag} {path}: cannot read: {e}"))
}

/// The chain of `cert_path` and the key of `key_path`, checked to belong together.
fn load_certified_key(
    cert_path: &str,
    key_path: &str,
    provider: &CryptoProvider,
) -> Result<CertifiedKey, String> {
    let cert_pem = read_file("--tls-cert", cert_path)?;
    let key_pem = read_file("--tls-key", key_path)?;
    let chain = CertificateDer::pem_slice_iter(&cert_pem)
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("--tls-cert {cert_path}: not a PEM certificate file: {e}"))?;
    if chain.is_empty() {
        return Err(format!(
            "--tls-cert {cert_path}: no certificate (\"BEGIN CERTIFICATE\") in the file"
        ));
    }
    let key = PrivateKeyDer::from_pem_slice(&key_pem).map_err(|e| match e {
        rustls_pki_types::pem::Error::NoItemsFound => {
            format!("--tls-key {key_path}: no private key (\"BEGIN ... PRIVATE KEY\") in the file")
        }
        e => format!("--tls-key {key_path}: not a PEM private key file: {e}"),
    })?;
    let signing = provider
        .key_provider
        .load_private_key(key)
        .map_err(|e| format!("--tls-key {key_path}: unusable private key: {e}"))?;
    let certified = CertifiedKey::new(chain, signing);
    match certified.keys_match() {
        Ok(()) => Ok(certified),
        Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::KeyMismatch)) => Err(
            format!("--tls-key {key_path}: the key does not match the certificate in {cert_path}"),
        ),
        Err(rustls::Error::InconsistentKeys(rustls::InconsistentKeys::Unknown)) => Ok(certified),
        Err(e) => Err(format!("--tls-cert {cert_path}: unusable certificate: {e}")),
    }
}
