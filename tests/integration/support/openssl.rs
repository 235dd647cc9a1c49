//! Debian's `openssl` CLI for what rustls cannot serve: TLS 1.0/1.1 servers (`s_server` at
//! security level 0), RSA-1024 and P-521 keys, SHA-1 signatures. The tool is required: a
//! missing `openssl` fails the test (`.ci/run` installs it), never skips it.

use std::io::{BufRead, BufReader};
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Runs `openssl` with `args`, panicking with its stderr on failure.
pub fn run(args: &[&str]) {
    let out = Command::new("openssl")
        .args(args)
        .output()
        .expect("the openssl CLI is required (apt-get install openssl); .ci/run installs it");
    assert!(
        out.status.success(),
        "openssl {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// `openssl version`, e.g. `OpenSSL 3.0.19 27 Jan 2026`.
pub fn version() -> String {
    let out = Command::new("openssl")
        .arg("version")
        .output()
        .expect("the openssl CLI is required (apt-get install openssl); .ci/run installs it");
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// Whether this OpenSSL build's `s_server` has the given protocol flag (e.g. `-ssl3`).
pub fn s_server_supports(flag: &str) -> bool {
    let out = Command::new("openssl")
        .args(["s_server", "-help"])
        .output()
        .expect("the openssl CLI is required (apt-get install openssl); .ci/run installs it");
    let help =
        String::from_utf8_lossy(&out.stderr).into_owned() + &String::from_utf8_lossy(&out.stdout);
    help.lines()
        .any(|l| l.trim_start().starts_with(&format!("{flag} ")))
}

/// A leaf key (`rsa:1024`, `rsa-pss:2048`, `ec:P-521` …) and a certificate for `san` (e.g. `IP:127.0.0.1`)
/// signed by the CA at `ca_cert`/`ca_key` with `digest` (`sha256`; `sha1-pss` for RSASSA-PSS
/// with SHA-1, which needs an RSA CA key): (cert path, key path).
pub fn leaf(
    dir: &Path,
    name: &str,
    key_spec: &str,
    san: &str,
    digest: &str,
    ca: (&Path, &Path),
) -> (PathBuf, PathBuf) {
    let ext =
        format!("subjectAltName={san}\nbasicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\n");
    cert(dir, name, key_spec, &ext, digest, ca)
}

/// An X.509 version 1 certificate (no extensions at all, so no SAN), as old tooling and
/// browser-sync's bundled certificate are, signed by `ca`: (cert path, key path).
pub fn v1_leaf(dir: &Path, name: &str, ca: (&Path, &Path)) -> (PathBuf, PathBuf) {
    cert(dir, name, "ec:P-256", "", "sha256", ca)
}

/// An intermediate CA certificate and key signed by `ca`: (cert path, key path).
pub fn intermediate(
    dir: &Path,
    name: &str,
    key_spec: &str,
    ca: (&Path, &Path),
) -> (PathBuf, PathBuf) {
    let ext = "basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign\n";
    cert(dir, name, key_spec, ext, "sha256", ca)
}

/// A self-signed CA certificate and its key (`rsa:2048` …), valid for 60 days: (cert path,
/// key path).
pub fn ca(dir: &Path, name: &str, key_spec: &str) -> (PathBuf, PathBuf) {
    let key = dir.join(format!("{name}.key"));
    let cert = dir.join(format!("{name}.pem"));
    generate_key(key_spec, &key);
    run(&[
        "req",
        "-x509",
        "-new",
        "-key",
        key.to_str().unwrap(),
        "-subj",
        &format!("/CN={name}"),
        "-sha256",
        "-days",
        "60",
        "-addext",
        "basicConstraints=critical,CA:TRUE",
        "-addext",
        "keyUsage=critical,keyCertSign,cRLSign",
        "-out",
        cert.to_str().unwrap(),
    ]);
    (cert, key)
}

fn cert(
    dir: &Path,
    name: &str,
    key_spec: &str,
    ext_lines: &str,
    digest: &str,
    ca: (&Path, &Path),
) -> (PathBuf, PathBuf) {
    let key = dir.join(format!("{name}.key"));
    let csr = dir.join(format!("{name}.csr"));
    let cert = dir.join(format!("{name}.pem"));
    let ext = dir.join(format!("{name}.ext"));
    let key_s = key.to_str().unwrap();
    generate_key(key_spec, &key);
    run(&[
        "req",
        "-new",
        "-key",
        key_s,
        "-subj",
        &format!("/CN={name}"),
        "-out",
        csr.to_str().unwrap(),
    ]);
    std::fs::write(&ext, ext_lines).unwrap();
    let digest_flag = format!("-{}", digest.trim_end_matches("-pss"));
    let mut args = vec![
        "x509",
        "-req",
        "-in",
        csr.to_str().unwrap(),
        "-CA",
        ca.0.to_str().unwrap(),
        "-CAkey",
        ca.1.to_str().unwrap(),
        "-CAcreateserial",
        &digest_flag,
        "-days",
        "60",
        "-out",
        cert.to_str().unwrap(),
    ];
    // Without an extension file OpenSSL writes a version 1 certificate.
    if !ext_lines.is_empty() {
        args.extend(["-extfile", ext.to_str().unwrap()]);
    }
    if digest.ends_with("-pss") {
        // A salt as long as the hash: the encoding WebPKI accepts for SHA-256 and up.
        args.extend([
            "-sigopt",
            "rsa_padding_mode:pss",
            "-sigopt",
            "rsa_pss_saltlen:digest",
        ]);
    }
    run(&args);
    (cert, key)
}

/// Writes a new private key of `key_spec` (`rsa:2048`, `rsa-pss:2048`, `ec:P-256` …) to `key`.
fn generate_key(key_spec: &str, key: &Path) {
    let key_s = key.to_str().unwrap();
    match key_spec.split_once(':') {
        Some(("rsa", bits)) => run(&[
            "genpkey",
            "-algorithm",
            "RSA",
            "-pkeyopt",
            &format!("rsa_keygen_bits:{bits}"),
            "-out",
            key_s,
        ]),
        // An RSA key restricted to PSS: its SPKI says id-RSASSA-PSS (RFC 4055 §1.2).
        Some(("rsa-pss", bits)) => run(&[
            "genpkey",
            "-algorithm",
            "RSA-PSS",
            "-pkeyopt",
            &format!("rsa_keygen_bits:{bits}"),
            "-out",
            key_s,
        ]),
        Some(("ec", curve)) => run(&[
            "genpkey",
            "-algorithm",
            "EC",
            "-pkeyopt",
            &format!("ec_paramgen_curve:{curve}"),
            "-out",
            key_s,
        ]),
        _ => panic!("unknown key spec {key_spec}"),
    }
}

/// `openssl s_server` on 127.0.0.1 (an ephemeral port it picks and prints), killed by PID on
/// drop.
pub struct SServer {
    child: Child,
    /// Held open and never written: s_server stops at EOF on its stdin.
    _stdin: std::process::ChildStdin,
    pub addr: SocketAddr,
}

impl Drop for SServer {
    fn drop(&mut self) {
        // Our own child, by PID.
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl SServer {
    /// Starts `s_server` with `cert`/`key` and `extra` flags, and waits (at most 10 s) for its
    /// `ACCEPT 127.0.0.1:PORT` line.
    pub fn start(cert: &Path, key: &Path, extra: &[&str]) -> Self {
        let mut child = Command::new("openssl")
            .args([
                "s_server",
                "-accept",
                "127.0.0.1:0",
                "-naccept",
                "1000",
                "-cert",
            ])
            .arg(cert)
            .arg("-key")
            .arg(key)
            .args(extra)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("the openssl CLI is required (apt-get install openssl); .ci/run installs it");
        let stdin = child.stdin.take().unwrap();
        let stdout = child.stdout.take().unwrap();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let mut sent = false;
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if !sent && let Some(addr) = line.strip_prefix("ACCEPT ") {
                    let _ = tx.send(addr.trim().to_owned());
                    sent = true;
                }
                // Keep draining so s_server never blocks on a full pipe.
            }
        });
        let addr = match rx.recv_timeout(Duration::from_secs(10)) {
            Ok(a) => a.parse().expect("s_server printed an address"),
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("openssl s_server {extra:?} did not print ACCEPT within 10 s");
            }
        };
        SServer {
            child,
            _stdin: stdin,
            addr,
        }
    }
}
