//! Optional mutual TLS for the TCP transport, with rustls (the `ring`
//! provider: no C toolchain beyond `cc`, no system OpenSSL).
//!
//! Every node holds the cluster's CA certificate and a certificate of its
//! own signed by it, whose subject alternative name is `node-<id>`. A
//! dialer verifies that the listener's certificate chains to the CA and
//! names the node it meant to reach; a listener requires a client
//! certificate chaining to the CA, and that it names the node the hello
//! says it comes from. A peer without a valid certificate is refused (the
//! TLS handshake fails) and the reason logged.

use rustls::StreamOwned;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName};
use rustls::server::WebPkiClientVerifier;
use rustls::{ClientConfig, ClientConnection, RootCertStore, ServerConfig, ServerConnection};
// `ring`'s provider; rustls deprecates it only for lacking post-quantum key
// exchange, which `aws-lc-rs` would bring with a cmake build.
#[allow(deprecated)]
use rustls::crypto::ring::default_provider;
use std::io::{self, Read, Write};
use std::net::TcpStream;
use std::sync::Arc;

/// The name a node's certificate must carry: `node-<id>`.
pub fn node_name(id: u64) -> String {
    format!("node-{id}")
}

/// A node's TLS identity: the cluster's CA and its own certificate chain
/// and key, made into the client and server settings of rustls.
#[derive(Clone)]
pub struct TlsConfig {
    client: Arc<ClientConfig>,
    server: Arc<ServerConfig>,
}

impl std::fmt::Debug for TlsConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("TlsConfig { .. }")
    }
}

/// Why a TLS identity cannot be used.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// A PEM input holds no certificate, or no key, or does not parse.
    #[error("bad PEM: {0}")]
    Pem(String),
    /// rustls refused the certificates or the key.
    #[error("TLS configuration: {0}")]
    Config(String),
}

impl TlsConfig {
    /// From DER: the cluster's CA certificate, this node's certificate
    /// chain (its own first) and its private key.
    pub fn new(
        ca: CertificateDer<'static>,
        chain: Vec<CertificateDer<'static>>,
        key: PrivateKeyDer<'static>,
    ) -> Result<TlsConfig, TlsError> {
        let config = |e: rustls::Error| TlsError::Config(e.to_string());
        #[allow(deprecated)]
        let provider = Arc::new(default_provider());
        let mut roots = RootCertStore::empty();
        roots.add(ca).map_err(config)?;
        let roots = Arc::new(roots);
        let verifier = WebPkiClientVerifier::builder_with_provider(roots.clone(), provider.clone())
            .build()
            .map_err(|e| TlsError::Config(e.to_string()))?;
        let server = ServerConfig::builder_with_provider(provider.clone())
            .with_safe_default_protocol_versions()
            .map_err(config)?
            .with_client_cert_verifier(verifier)
            .with_single_cert(chain.clone(), key.clone_key())
            .map_err(config)?;
        let client = ClientConfig::builder_with_provider(provider)
            .with_safe_default_protocol_versions()
            .map_err(config)?
            .with_root_certificates(roots)
            .with_client_auth_cert(chain, key)
            .map_err(config)?;
        Ok(TlsConfig {
            client: Arc::new(client),
            server: Arc::new(server),
        })
    }

    /// From PEM text: the CA certificate, this node's chain, its key.
    pub fn from_pem(ca: &str, chain: &str, key: &str) -> Result<TlsConfig, TlsError> {
        let pem =
            |what: &str, e: rustls::pki_types::pem::Error| TlsError::Pem(format!("{what}: {e}"));
        let ca = CertificateDer::from_pem_slice(ca.as_bytes()).map_err(|e| pem("CA", e))?;
        let chain = CertificateDer::pem_slice_iter(chain.as_bytes())
            .collect::<Result<Vec<_>, _>>()
            .map_err(|e| pem("certificate", e))?;
        if chain.is_empty() {
            return Err(TlsError::Pem("certificate: none found".into()));
        }
        let key = PrivateKeyDer::from_pem_slice(key.as_bytes()).map_err(|e| pem("key", e))?;
        TlsConfig::new(ca, chain, key)
    }
}

/// A connection, in the clear or under TLS.
pub(super) enum Conn {
    Plain(TcpStream),
    Client(Box<StreamOwned<ClientConnection, TcpStream>>),
    Server(Box<StreamOwned<ServerConnection, TcpStream>>),
}

impl Conn {
    /// The dialer's side: under TLS, verifying that the listener is
    /// `node-<to>` of the cluster's CA.
    pub(super) fn dial(
        tls: Option<&TlsConfig>,
        stream: TcpStream,
        to: u64,
    ) -> Result<Conn, String> {
        let Some(tls) = tls else {
            return Ok(Conn::Plain(stream));
        };
        let name = ServerName::try_from(node_name(to)).map_err(|e| e.to_string())?;
        let conn = ClientConnection::new(tls.client.clone(), name).map_err(|e| e.to_string())?;
        Ok(Conn::Client(Box::new(StreamOwned::new(conn, stream))))
    }

    /// The listener's side.
    pub(super) fn accept(tls: Option<&TlsConfig>, stream: TcpStream) -> Result<Conn, String> {
        let Some(tls) = tls else {
            return Ok(Conn::Plain(stream));
        };
        let conn = ServerConnection::new(tls.server.clone()).map_err(|e| e.to_string())?;
        Ok(Conn::Server(Box::new(StreamOwned::new(conn, stream))))
    }

    /// Under TLS, whether the dialer's certificate names node `from`
    /// (its chain to the CA was verified in the handshake); in the
    /// clear, always.
    pub(super) fn certifies(&self, from: u64) -> bool {
        let Conn::Server(stream) = self else {
            return true;
        };
        let Some(cert) = stream.conn.peer_certificates().and_then(|c| c.first()) else {
            return false;
        };
        let Ok(name) = ServerName::try_from(node_name(from)) else {
            return false;
        };
        webpki::EndEntityCert::try_from(cert)
            .is_ok_and(|cert| cert.verify_is_valid_for_subject_name(&name).is_ok())
    }
}

impl Read for Conn {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Conn::Plain(s) => s.read(buf),
            Conn::Client(s) => s.read(buf),
            Conn::Server(s) => s.read(buf),
        }
    }
}

impl Write for Conn {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        match self {
            Conn::Plain(s) => s.write(buf),
            Conn::Client(s) => s.write(buf),
            Conn::Server(s) => s.write(buf),
        }
    }

    fn flush(&mut self) -> io::Result<()> {
        match self {
            Conn::Plain(s) => s.flush(),
            Conn::Client(s) => s.flush(),
            Conn::Server(s) => s.flush(),
        }
    }
}
