//! Peers the tests install on first use from the registries, each into its own
//! directory under `target/peers/` (a Python venv for PyPI, a `node_modules` for npm),
//! reused by later runs.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

use sha2::Digest;

pub fn peers_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/peers")
}

/// The python of venv `name` with `packages` installed (once per process; a marker
/// file written last tells a finished install from a half-done one).
pub fn venv(name: &str, packages: &[&str]) -> PathBuf {
    static INSTALL: Mutex<()> = Mutex::new(());
    let _guard = INSTALL.lock().unwrap_or_else(|p| p.into_inner());
    let venv = peers_dir().join(name);
    let python = venv.join("bin/python");
    let ready = venv.join("crust-ready");
    let wanted = packages.join(" ");
    if std::fs::read_to_string(&ready).is_ok_and(|s| s == wanted) {
        return python;
    }
    std::fs::create_dir_all(peers_dir()).unwrap();
    // A venv holds its own path, so it is made where it stays.
    let _ = std::fs::remove_dir_all(&venv);
    let ok = Command::new("python3")
        .args(["-m", "venv"])
        .arg(&venv)
        .status()
        .expect("python3 is needed for the tests' peers")
        .success()
        && Command::new(venv.join("bin/pip"))
            .args(["install", "--quiet", "--disable-pip-version-check"])
            .args(packages)
            .status()
            .unwrap()
            .success();
    assert!(ok, "installing {wanted} into {} failed", venv.display());
    std::fs::write(&ready, wanted).unwrap();
    python
}

/// A directory with npm `packages` (exact versions, `name@version`) installed in its
/// `node_modules`, for scripts run with `node` from there (once per process; a marker
/// file written last tells a finished install from a half-done one).
pub fn npm(name: &str, packages: &[&str]) -> PathBuf {
    static INSTALL: Mutex<()> = Mutex::new(());
    let _guard = INSTALL.lock().unwrap_or_else(|p| p.into_inner());
    let dir = peers_dir().join(name);
    let ready = dir.join("crust-ready");
    let wanted = packages.join(" ");
    if std::fs::read_to_string(&ready).is_ok_and(|s| s == wanted) {
        return dir;
    }
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    std::fs::write(dir.join("package.json"), "{\"private\": true}\n").unwrap();
    let ok = Command::new("npm")
        .args([
            "install",
            "--silent",
            "--no-audit",
            "--no-fund",
            "--save-exact",
        ])
        .args(packages)
        .current_dir(&dir)
        .status()
        .expect("npm (Node.js) is needed for the tests' peers")
        .success();
    assert!(ok, "npm install {wanted} into {} failed", dir.display());
    std::fs::write(&ready, wanted).unwrap();
    dir
}

/// Debian's Chromium (never a browser a tool downloads itself), installed on first use
/// when the tests run as root; `.ci/run` installs it beforehand.
pub fn chromium() -> PathBuf {
    let path = PathBuf::from("/usr/bin/chromium");
    if path.exists() {
        return path;
    }
    static INSTALL: Mutex<()> = Mutex::new(());
    let _guard = INSTALL.lock().unwrap_or_else(|p| p.into_inner());
    if !path.exists() {
        let root = Command::new("id")
            .arg("-u")
            .output()
            .is_ok_and(|o| o.stdout.starts_with(b"0"));
        assert!(
            root,
            "the browser test needs Debian's Chromium: apt-get install chromium"
        );
        let ok = Command::new("apt-get")
            .args(["update", "-qq"])
            .status()
            .is_ok_and(|s| s.success())
            && Command::new("apt-get")
                .args(["install", "-y", "-qq", "chromium"])
                .env("DEBIAN_FRONTEND", "noninteractive")
                .status()
                .is_ok_and(|s| s.success());
        assert!(ok, "apt-get install chromium failed");
    }
    path
}

/// The sample app of `examples/spa`, built: its dependencies installed as its lock file
/// says (again only when the lock file changed), its trusted-document manifest generated
/// by Apollo's tool from its operations, and its bundle. Returns (dist, manifest).
pub fn sample_app() -> (PathBuf, PathBuf) {
    static BUILD: Mutex<()> = Mutex::new(());
    let _guard = BUILD.lock().unwrap_or_else(|p| p.into_inner());
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../examples/spa");
    let lock = std::fs::read(dir.join("package-lock.json")).unwrap();
    let wanted = format!("{:x}", sha2::Sha256::digest(&lock));
    let marker = dir.join("node_modules/.crust-installed");
    if std::fs::read_to_string(&marker).ok().as_deref() != Some(wanted.as_str()) {
        let ok = Command::new("npm")
            .args(["ci", "--no-audit", "--no-fund", "--silent"])
            .current_dir(&dir)
            .status()
            .expect("npm (Node.js) is needed for the sample app")
            .success();
        assert!(ok, "npm ci in {} failed", dir.display());
        std::fs::write(&marker, wanted).unwrap();
    }
    let ok = Command::new("npm")
        .args(["run", "--silent", "build"])
        .current_dir(&dir)
        .status()
        .unwrap()
        .success();
    assert!(ok, "npm run build in {} failed", dir.display());
    (
        dir.join("dist"),
        dir.join("manifest/persisted-query-manifest.json"),
    )
}
