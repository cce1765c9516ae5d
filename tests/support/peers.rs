//! Peers the tests install on first use from the registries, each into its own
//! directory under `target/peers/` (a Python venv for PyPI, a `node_modules` for npm),
//! reused by later runs.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::Mutex;

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
