//! A PostgreSQL cluster of the test's own (initdb into a temporary directory, on a
//! free port, trust on loopback), for tests that stop and start the database under a
//! running server: never the shared cluster other tests use.

use std::path::PathBuf;
use std::process::Command;

use crate::replica::{as_postgres, bin, chown, discard, free_port, postgres_dir};

pub struct Cluster {
    pub port: u16,
    dir: PathBuf,
}

fn run(mut cmd: Command, what: &str, log: Option<&std::path::Path>) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{what}: {e}"));
    assert!(
        out.status.success(),
        "{what} failed: {}{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
        log.map(|l| std::fs::read_to_string(l).unwrap_or_default())
            .unwrap_or_default()
    );
}

impl Cluster {
    /// A new, running cluster with the superuser `postgres`.
    pub fn start() -> Cluster {
        let (port, dir) = (free_port(), postgres_dir("cluster"));
        let mut initdb = as_postgres(&bin("initdb"));
        initdb
            .args([
                "-U",
                "postgres",
                "--auth=trust",
                "-E",
                "UTF8",
                "--no-sync",
                "-D",
            ])
            .arg(dir.join("data"));
        run(initdb, "initdb", None);
        std::fs::write(
            dir.join("data").join("postgresql.auto.conf"),
            format!(
                "listen_addresses = '127.0.0.1'\nport = {port}\nunix_socket_directories = '{}'\n\
                 shared_buffers = 16MB\nfsync = off\nmax_connections = 50\n",
                dir.display()
            ),
        )
        .unwrap();
        chown(&dir);
        let cluster = Cluster { port, dir };
        cluster.up();
        cluster
    }

    /// A URL for `database` as the superuser.
    pub fn url(&self, database: &str) -> String {
        format!("postgres://postgres@127.0.0.1:{}/{database}", self.port)
    }

    /// Starts the stopped cluster and waits until it accepts connections.
    pub fn up(&self) {
        let mut start = as_postgres(&bin("pg_ctl"));
        start
            .arg("-D")
            .arg(self.dir.join("data"))
            .arg("-l")
            .arg(self.dir.join("log"))
            .args(["-w", "-t", "60", "start"]);
        run(start, "pg_ctl start", Some(&self.dir.join("log")));
    }

    /// Stops the cluster the way an operator's restart does: every connection is
    /// ended (`-m fast`), and it waits until the server is gone.
    pub fn down(&self) {
        let mut stop = as_postgres(&bin("pg_ctl"));
        stop.arg("-D")
            .arg(self.dir.join("data"))
            .args(["-m", "fast", "-w", "stop"]);
        run(stop, "pg_ctl stop", Some(&self.dir.join("log")));
    }
}

impl Drop for Cluster {
    fn drop(&mut self) {
        discard(&self.dir);
    }
}
