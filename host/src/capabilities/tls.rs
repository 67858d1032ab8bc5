//! TLS for the database clients: the process's one crypto provider, and the
//! authorities a client trusts (a PEM file's, or the system's).

use std::path::Path;
use std::sync::Arc;

use anyhow::{Context, Result, bail};
use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject;
use rustls::{ClientConfig, RootCertStore};

/// Chooses the process's TLS crypto provider (ring) before a client speaks
/// TLS: the database drivers bring more than one, so rustls cannot pick.
pub(crate) fn install_provider() {
    static ONCE: std::sync::Once = std::sync::Once::new();
    ONCE.call_once(|| {
        // Err: another provider was installed first, which serves as well.
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// The certificates of a PEM file of authorities; `setting` names where
/// the path came from, for messages.
pub(crate) fn read_authorities(path: &Path, setting: &str) -> Result<Vec<u8>> {
    let pem =
        std::fs::read(path).with_context(|| format!("reading {setting} {}", path.display()))?;
    let certificates = CertificateDer::pem_slice_iter(&pem)
        .collect::<Result<Vec<_>, _>>()
        .with_context(|| format!("reading {setting} {}", path.display()))?;
    if certificates.is_empty() {
        bail!("{setting} {} holds no PEM certificate", path.display());
    }
    Ok(pem)
}

/// A client configuration that verifies servers against `authorities` (a
/// PEM file named by `setting`), or the system's when `None`.
pub(crate) fn client_config(
    authorities: Option<&Path>,
    setting: &str,
) -> Result<Arc<ClientConfig>> {
    install_provider();
    let mut roots = RootCertStore::empty();
    match authorities {
        Some(path) => {
            let pem = read_authorities(path, setting)?;
            for certificate in CertificateDer::pem_slice_iter(&pem) {
                roots
                    .add(certificate.context("parsing a certificate")?)
                    .with_context(|| format!("adding {setting} {}", path.display()))?;
            }
        }
        None => {
            let system = rustls_native_certs::load_native_certs();
            roots.add_parsable_certificates(system.certs);
            if roots.is_empty() {
                bail!("the system has no certificate authorities to verify servers with");
            }
        }
    }
    let config = ClientConfig::builder()
        .with_root_certificates(roots)
        .with_no_client_auth();
    Ok(Arc::new(config))
}

/// Asserts that a connection was refused over its certificate, in a
/// message naming `backend` and the reason.
#[cfg(test)]
pub(crate) fn assert_certificate_refused<T>(connected: Result<T>, backend: &str) {
    let Err(error) = connected else {
        panic!("{backend}: an unverifiable certificate was accepted");
    };
    let message = format!("{error:#}");
    assert!(message.contains(backend), "{message}");
    assert!(message.to_lowercase().contains("certificate"), "{message}");
    assert!(!message.contains("summer-secret"), "{message}");
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_file_without_certificates_is_refused_by_name() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("empty.pem");
        std::fs::write(&path, "not a certificate").unwrap();
        let error = client_config(Some(&path), "SOME_TLS_CA_FILE").unwrap_err();
        assert!(
            format!("{error:#}").contains("SOME_TLS_CA_FILE"),
            "{error:#}"
        );
        let missing = client_config(Some(&dir.path().join("nope.pem")), "SOME_TLS_CA_FILE");
        assert!(format!("{:#}", missing.unwrap_err()).contains("nope.pem"));
    }

    #[test]
    fn the_services_authority_is_read() {
        let path = crate::config::services_tls_file("ca.pem");
        client_config(Some(&path), "SOME_TLS_CA_FILE").unwrap();
    }
}
