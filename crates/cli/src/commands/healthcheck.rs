//! `crust healthcheck`: the container's HEALTHCHECK. Exits 0 when `GET /healthz` answers
//! 200 within [`TIMEOUT`], non-zero with one line on stderr otherwise.
//!
//! Without `--url` it asks the server this configuration describes: `CRUST_BIND` (or
//! `CRUST_CONFIG`'s `bind`), with a wildcard address (`0.0.0.0`, `::`) asked on loopback.
//! It speaks plain HTTP only (the command line has no TLS client): when the server serves
//! HTTPS itself (`CRUST_TLS_CERT`) it says so and fails rather than guess, and an
//! `https://` URL is refused the same way. Behind a TLS proxy (the compose file, the
//! usual deployment) the container serves plain HTTP and the check works as is.

use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::time::Duration;

use anyhow::{bail, Context};
use crust_api::config::Source;

/// The whole exchange (connect, request, answer) must fit in this.
const TIMEOUT: Duration = Duration::from_secs(3);

#[derive(clap::Args)]
pub struct Args {
    /// The URL to ask (default: `http://<CRUST_BIND>/healthz`, a wildcard bind asked on
    /// loopback). Plain HTTP only.
    #[arg(long)]
    url: Option<String>,
}

pub fn run(args: Args) -> anyhow::Result<()> {
    let url = match args.url {
        Some(url) => url,
        None => url_from_config()?,
    };
    if !url.starts_with("http://") {
        bail!("{url}: only plain http:// URLs can be checked (no TLS client here)");
    }
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(check(&url))
}

async fn check(url: &str) -> anyhow::Result<()> {
    let client = reqwest::Client::builder()
        .timeout(TIMEOUT)
        // Loopback, never through an HTTP(S)_PROXY of the environment; and only the
        // server's own answer counts, not where a redirect leads.
        .no_proxy()
        .redirect(reqwest::redirect::Policy::none())
        .build()
        .context("cannot build the HTTP client")?;
    let response = client.get(url).send().await.map_err(|e| {
        let why = if e.is_timeout() {
            format!("no answer within {} s", TIMEOUT.as_secs())
        } else if e.is_connect() {
            "connection failed (is the server running?)".to_owned()
        } else {
            e.without_url().to_string()
        };
        anyhow::anyhow!("{url}: {why}")
    })?;
    let status = response.status();
    if status != reqwest::StatusCode::OK {
        bail!("{url}: answered {status}, not 200");
    }
    Ok(())
}

/// `http://<bind>/healthz` from the configuration the server reads.
fn url_from_config() -> anyhow::Result<String> {
    let config = Source::from_env()
        .and_then(|s| s.load_for_check())
        // The loader reports every problem on its own line: one line here.
        .map_err(|e| {
            let text = e.to_string();
            let text: Vec<&str> = text.lines().map(str::trim).collect();
            let text = text.join(" ");
            anyhow::anyhow!("cannot read the configuration: {text}")
        })?;
    if config.http.tls_cert.is_some() {
        bail!(
            "the server serves HTTPS (CRUST_TLS_CERT is set) and this check speaks plain HTTP \
             only: check it with a TLS client, or pass --url to a plain-HTTP listener"
        );
    }
    Ok(format!("http://{}/healthz", local(config.http.bind)))
}

/// Where to reach a server bound to `bind` from the same host.
fn local(bind: SocketAddr) -> SocketAddr {
    let ip = match bind.ip() {
        IpAddr::V4(ip) if ip.is_unspecified() => IpAddr::V4(Ipv4Addr::LOCALHOST),
        IpAddr::V6(ip) if ip.is_unspecified() => IpAddr::V6(Ipv6Addr::LOCALHOST),
        ip => ip,
    };
    SocketAddr::new(ip, bind.port())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_wildcard_bind_is_asked_on_loopback() {
        let cases = [
            ("0.0.0.0:8080", "127.0.0.1:8080"),
            ("[::]:8080", "[::1]:8080"),
            ("10.1.2.3:9000", "10.1.2.3:9000"),
            ("127.0.0.1:8080", "127.0.0.1:8080"),
        ];
        for (bind, want) in cases {
            let bind: SocketAddr = bind.parse().unwrap_or_else(|e| panic!("{bind}: {e}"));
            assert_eq!(local(bind).to_string(), want);
        }
    }
}
