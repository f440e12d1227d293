//! TLS for the httpd tests: a test PKI made with the `openssl` command (a root CA, an
//! intermediate, server certificates), a rustls client trusting that root, and [`Stream`],
//! a connection that is plain TCP or TLS over it, so the scenarios shared by the plain tests
//! run over TLS too.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, ServerName};
use rustls::{ClientConfig, ClientConnection, RootCertStore, StreamOwned};

use super::TempDir;

/// Runs `openssl` with `args` in `dir`, panicking with its output on failure.
pub fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl")
        .current_dir(dir)
        .args(args)
        .output()
        .expect("openssl is installed");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A test PKI in `dir`: `ca.pem` (root), `int.pem` (intermediate, signed by the root), and
/// server certificates made by [`Pki::server`].
pub struct Pki<'a> {
    dir: &'a Path,
}

impl<'a> Pki<'a> {
    pub fn new(dir: &'a Path) -> Pki<'a> {
        std::fs::write(
            dir.join("ca.ext"),
            "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n",
        )
        .unwrap();
        openssl(
            dir,
            &[
                "req",
                "-x509",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-keyout",
                "ca.key",
                "-out",
                "ca.pem",
                "-days",
                "2",
                "-subj",
                "/CN=lp-test root CA",
            ],
        );
        openssl(
            dir,
            &[
                "req",
                "-newkey",
                "ec",
                "-pkeyopt",
                "ec_paramgen_curve:P-256",
                "-nodes",
                "-keyout",
                "int.key",
                "-out",
                "int.csr",
                "-subj",
                "/CN=lp-test intermediate CA",
            ],
        );
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                "int.csr",
                "-CA",
                "ca.pem",
                "-CAkey",
                "ca.key",
                "-CAcreateserial",
                "-out",
                "int.pem",
                "-days",
                "2",
                "-extfile",
                "ca.ext",
            ],
        );
        Pki { dir }
    }

    /// A server certificate for `localhost`, 127.0.0.1 and ::1 named `name` (`NAME.key`,
    /// `NAME.pem` with the chain: server certificate, then the intermediate), with an `ec`
    /// (P-256) or `rsa` (2048) key.
    pub fn server(&self, name: &str, kind: &str) -> (PathBuf, PathBuf) {
        let dir = self.dir;
        std::fs::write(
            dir.join("srv.ext"),
            "subjectAltName=DNS:localhost,IP:127.0.0.1,IP:::1\nextendedKeyUsage=serverAuth\n",
        )
        .unwrap();
        let key = format!("{name}.key");
        let csr = format!("{name}.csr");
        let leaf = format!("{name}.leaf");
        let subj = format!("/CN={name}");
        let opt = if kind == "rsa" {
            "rsa_keygen_bits:2048"
        } else {
            "ec_paramgen_curve:P-256"
        };
        openssl(
            dir,
            &[
                "req", "-newkey", kind, "-pkeyopt", opt, "-nodes", "-keyout", &key, "-out", &csr,
                "-subj", &subj,
            ],
        );
        openssl(
            dir,
            &[
                "x509",
                "-req",
                "-in",
                &csr,
                "-CA",
                "int.pem",
                "-CAkey",
                "int.key",
                "-CAcreateserial",
                "-out",
                &leaf,
                "-days",
                "2",
                "-extfile",
                "srv.ext",
            ],
        );
        let mut chain = std::fs::read(dir.join(&leaf)).unwrap();
        chain.extend(std::fs::read(dir.join("int.pem")).unwrap());
        let pem = dir.join(format!("{name}.pem"));
        std::fs::write(&pem, chain).unwrap();
        (pem, dir.join(key))
    }

    pub fn ca(&self) -> PathBuf {
        self.dir.join("ca.pem")
    }
}

/// The crypto provider of the build's TLS feature (as httpd's).
pub fn provider() -> rustls::crypto::CryptoProvider {
    #[cfg(feature = "tls-ring")]
    #[allow(deprecated)]
    let p = rustls::crypto::ring::default_provider();
    #[cfg(not(feature = "tls-ring"))]
    let p = rustls::crypto::aws_lc_rs::default_provider();
    p
}

/// A rustls client trusting only `ca` (a PEM file), TLS 1.3 and 1.2, ALPN `http/1.1`.
pub fn client_config(ca: &Path) -> Arc<ClientConfig> {
    let mut roots = RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(ca).expect("CA file") {
        roots.add(cert.expect("CA certificate")).unwrap();
    }
    let mut config = ClientConfig::builder_with_provider(Arc::new(provider()))
        .with_safe_default_protocol_versions()
        .unwrap()
        .with_root_certificates(roots)
        .with_no_client_auth();
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Arc::new(config)
}

/// What a test needs to serve and reach HTTPS: a PKI in its own directory, an ECDSA server
/// certificate (with the intermediate) and its key, a client trusting the root.
pub struct TlsSetup {
    pub dir: TempDir,
    pub cert: PathBuf,
    pub key: PathBuf,
    pub ca: PathBuf,
    pub client: Arc<ClientConfig>,
}

impl TlsSetup {
    pub fn new(tag: &str) -> TlsSetup {
        let dir = TempDir::new(&format!("{tag}-pki"));
        let pki = Pki::new(dir.path());
        let (cert, key) = pki.server("server", "ec");
        let ca = pki.ca();
        let client = client_config(&ca);
        TlsSetup {
            dir,
            cert,
            key,
            ca,
            client,
        }
    }

    /// httpd's flags for this certificate and key.
    pub fn args(&self) -> [&str; 4] {
        [
            "--tls-cert",
            self.cert.to_str().unwrap(),
            "--tls-key",
            self.key.to_str().unwrap(),
        ]
    }
}

/// A TLS connection with `config` over `tcp` to `localhost`, handshake done.
pub fn handshake(config: &Arc<ClientConfig>, tcp: TcpStream) -> Stream {
    let name = ServerName::try_from("localhost").unwrap();
    let conn = ClientConnection::new(Arc::clone(config), name).expect("client session");
    let mut s = StreamOwned::new(conn, tcp);
    while s.conn.is_handshaking() {
        s.conn.complete_io(&mut s.sock).expect("TLS handshake");
    }
    Stream::Tls(Box::new(s))
}

/// A client connection: plain TCP, or TLS over it.
pub enum Stream {
    Plain(TcpStream),
    Tls(Box<StreamOwned<ClientConnection, TcpStream>>),
}

impl Stream {
    /// The TCP connection underneath.
    pub fn tcp(&self) -> &TcpStream {
        match self {
            Stream::Plain(s) => s,
            Stream::Tls(s) => &s.sock,
        }
    }

    /// Ends the sending side: over TLS a `close_notify` first, then the TCP FIN.
    pub fn shutdown_write(&mut self) {
        if let Stream::Tls(s) = self {
            s.conn.send_close_notify();
            while s.conn.wants_write() {
                s.conn.write_tls(&mut s.sock).unwrap();
            }
        }
        self.tcp().shutdown(std::net::Shutdown::Write).unwrap();
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            Stream::Tls(s) => s.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write(buf),
            Stream::Tls(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush(),
            Stream::Tls(s) => s.flush(),
        }
    }
}
