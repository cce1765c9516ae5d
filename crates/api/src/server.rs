//! Running the HTTP server (the state it shares with every handler is `state`).

use std::net::TcpListener;
use std::time::Duration;

use actix_web::{web, App, HttpServer};

use crate::config::Config;
use crate::state::AppState;

/// A server running on its own thread (used by the tests and `crust serve`).
pub struct RunningServer {
    pub addr: std::net::SocketAddr,
    handle: actix_web::dev::ServerHandle,
    thread: Option<std::thread::JoinHandle<std::io::Result<()>>>,
    /// The metrics listener, when configured: it lives and stops with the server.
    pub metrics: Option<Box<RunningServer>>,
}

impl RunningServer {
    /// Stops accepting, finishes in-flight requests, and joins the server thread.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        if let Some(metrics) = self.metrics.take() {
            metrics.stop();
        }
        if let Some(thread) = self.thread.take() {
            let handle = self.handle.clone();
            let _ = std::thread::spawn(move || {
                actix_web::rt::System::new().block_on(handle.stop(true))
            })
            .join();
            let _ = thread.join();
        }
    }
}

impl Drop for RunningServer {
    fn drop(&mut self) {
        self.shutdown();
    }
}

/// The parts of the configuration the HTTP layer itself needs.
#[derive(Clone)]
struct HttpOptions {
    graphiql: bool,
    hsts: bool,
    client_timeout: Duration,
    shutdown_grace: Duration,
    cors_origins: Vec<String>,
    tls: Option<(std::path::PathBuf, std::path::PathBuf)>,
    spa_dir: Option<std::path::PathBuf>,
}

impl HttpOptions {
    fn from(config: &Config) -> Self {
        HttpOptions {
            graphiql: config.diagnostics.graphiql,
            hsts: config.hsts(),
            client_timeout: Duration::from_millis(config.http.client_timeout_ms),
            shutdown_grace: Duration::from_secs(config.http.shutdown_grace_secs),
            cors_origins: config.http.cors_origins.clone(),
            spa_dir: config.http.spa_dir.clone(),
            tls: config
                .http
                .tls_cert
                .clone()
                .zip(config.http.tls_key.clone()),
        }
    }
}

fn http_server(
    state: AppState,
    options: HttpOptions,
    listener: TcpListener,
    workers: usize,
) -> std::io::Result<actix_web::dev::Server> {
    let client_timeout = options.client_timeout;
    let tls = match &options.tls {
        Some((cert, key)) => Some(crate::tls::server_config(cert, key)?),
        None => None,
    };
    let server = HttpServer::new(move || {
        App::new()
            .app_data(web::Data::new(state.clone()))
            .wrap(crate::http::cors(&options.cors_origins))
            .wrap(crate::http::security_headers(options.hsts))
            .wrap(actix_web::middleware::from_fn(crate::http::startup::gate))
            .wrap(actix_web::middleware::from_fn(crate::http::request_id))
            .configure(|cfg| {
                crate::http::routes(cfg, options.graphiql);
                if let Some(dir) = &options.spa_dir {
                    crate::http::spa(cfg, dir);
                }
            })
    })
    .workers(workers)
    // A client that has not sent its request head in time is dropped (slowloris).
    .client_request_timeout(client_timeout)
    .client_disconnect_timeout(Duration::from_secs(2))
    .shutdown_timeout(options.shutdown_grace.as_secs())
    // `serve` handles the signals itself, to bound the shutdown (see there).
    .disable_signals();
    let server = match tls {
        Some(tls) => server.listen_rustls_0_23(listener, tls)?,
        None => server.listen(listener)?,
    };
    Ok(server.run())
}

/// The plain-HTTP listener that only redirects to HTTPS on `https_port`.
fn redirect_server(
    listener: TcpListener,
    https_port: u16,
) -> std::io::Result<actix_web::dev::Server> {
    Ok(HttpServer::new(move || {
        App::new()
            .app_data(web::Data::new(https_port))
            .wrap(crate::http::security_headers(false))
            .default_service(web::to(crate::tls::redirect))
    })
    .workers(1)
    .client_request_timeout(Duration::from_secs(5))
    .listen(listener)?
    .run())
}

/// The metrics listener: `/metrics` and nothing else, on its own address.
fn metrics_server(
    listener: TcpListener,
    db: crate::db::Db,
) -> std::io::Result<actix_web::dev::Server> {
    Ok(HttpServer::new(move || {
        App::new()
            .app_data(web::Data::new(db.clone()))
            .route("/metrics", web::get().to(scrape))
    })
    .workers(1)
    .client_request_timeout(Duration::from_secs(5))
    .disable_signals()
    .listen(listener)?
    .run())
}

async fn scrape(db: web::Data<crate::db::Db>) -> actix_web::HttpResponse {
    match crate::metrics::metrics().render(&db) {
        Ok(text) => actix_web::HttpResponse::Ok()
            .content_type(crate::metrics::CONTENT_TYPE)
            .body(text),
        Err(_) => actix_web::HttpResponse::InternalServerError().finish(),
    }
}

/// Starts the metrics listener on its own thread.
pub fn spawn_metrics(
    listener: TcpListener,
    db: crate::db::Db,
) -> Result<RunningServer, Box<dyn std::error::Error>> {
    let addr = listener.local_addr()?;
    let (tx, rx) = std::sync::mpsc::channel();
    let thread = std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let server = metrics_server(listener, db)?;
            let _ = tx.send(server.handle());
            server.await
        })
    });
    let handle = rx
        .recv()
        .map_err(|_| "the metrics thread failed to start")?;
    tracing::info!(%addr, "metrics served");
    Ok(RunningServer {
        addr,
        handle,
        thread: Some(thread),
        metrics: None,
    })
}

/// Starts the redirect listener on its own thread (tests, `crust serve`).
pub fn spawn_redirect(
    listener: TcpListener,
    https_port: u16,
) -> Result<RunningServer, Box<dyn std::error::Error>> {
    let addr = listener.local_addr()?;
    let (tx, rx) = std::sync::mpsc::channel();
    let thread = std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            let server = redirect_server(listener, https_port)?;
            let _ = tx.send(server.handle());
            server.await
        })
    });
    let handle = rx
        .recv()
        .map_err(|_| "the redirect thread failed to start")?;
    Ok(RunningServer {
        addr,
        handle,
        thread: Some(thread),
        metrics: None,
    })
}

/// How long past the grace period a shutdown may take before the process exits anyway.
pub const SHUTDOWN_MARGIN: Duration = Duration::from_secs(5);

/// Serves until the process is told to stop (SIGINT/SIGTERM). The shutdown is graceful
/// — no new connections, requests in flight may finish for `CRUST_SHUTDOWN_GRACE_SECS`
/// — and bounded: a request stuck on a worker thread (a blocking call, a runaway
/// computation) never answers actix's stop message, so a watchdog exits the process
/// [`SHUTDOWN_MARGIN`] after the grace period whatever is still running. Every
/// mutation is one database transaction, so an exit mid-request loses nothing committed.
pub async fn serve(
    config: &Config,
    listener: TcpListener,
) -> Result<(), Box<dyn std::error::Error>> {
    let state = AppState::new(config).map_err(|e| e.message())?;
    let workers = std::thread::available_parallelism()
        .map(|n| n.get())
        .unwrap_or(2);
    let https_port = listener.local_addr()?.port();
    let _redirect = match config.http.http_redirect_bind {
        Some(addr) => Some(spawn_redirect(TcpListener::bind(addr)?, https_port)?),
        None => None,
    };
    let _metrics = match config.diagnostics.metrics_bind {
        Some(addr) => Some(spawn_metrics(TcpListener::bind(addr)?, state.db.clone())?),
        None => None,
    };
    let options = HttpOptions::from(config);
    let deadline = options.shutdown_grace + SHUTDOWN_MARGIN;
    start_workers(&state);
    let server = http_server(state, options, listener, workers)?;
    let handle = server.handle();
    actix_web::rt::spawn(async move {
        let signal = stop_signal().await;
        tracing::info!(signal, "shutting down: finishing requests in flight");
        std::thread::spawn(move || {
            std::thread::sleep(deadline);
            tracing::error!(
                after_secs = deadline.as_secs(),
                "shutdown deadline passed with requests still running: exiting"
            );
            std::process::exit(1);
        });
        handle.stop(true).await;
    });
    server.await?;
    tracing::info!("stopped");
    Ok(())
}

/// Waits for SIGTERM or SIGINT and says which came.
async fn stop_signal() -> &'static str {
    use actix_web::rt::signal;
    #[cfg(unix)]
    {
        let Ok(mut term) = signal::unix::signal(signal::unix::SignalKind::terminate()) else {
            let _ = signal::ctrl_c().await;
            return "SIGINT";
        };
        tokio::select! {
            _ = term.recv() => "SIGTERM",
            _ = signal::ctrl_c() => "SIGINT",
        }
    }
    #[cfg(not(unix))]
    {
        let _ = signal::ctrl_c().await;
        "SIGINT"
    }
}

/// Runs the outbox worker, the blob purge and the memory trim beside the server (on
/// its runtime, so they stop with it).
fn start_workers(state: &AppState) {
    actix_web::rt::spawn(crate::memory::return_when_idle(state.activity.clone()));
    if let Some(worker) = state.mail_worker.clone() {
        actix_web::rt::spawn(worker.run(state.mail.clone()));
    }
    actix_web::rt::spawn(crate::files::purge::run(
        state.db.clone(),
        state.files.store.clone(),
        state.files.purge.clone(),
        state.files.purge_every,
    ));
}

/// Starts the server on its own thread and returns once it accepts connections.
pub fn spawn(
    config: &Config,
    listener: TcpListener,
    workers: usize,
) -> Result<RunningServer, Box<dyn std::error::Error>> {
    let state = AppState::new(config).map_err(|e| e.message())?;
    let addr = listener.local_addr()?;
    let options = HttpOptions::from(config);
    let metrics = match config.diagnostics.metrics_bind {
        Some(at) => Some(Box::new(spawn_metrics(
            TcpListener::bind(at)?,
            state.db.clone(),
        )?)),
        None => None,
    };
    let (tx, rx) = std::sync::mpsc::channel();
    let thread = std::thread::spawn(move || {
        actix_web::rt::System::new().block_on(async move {
            start_workers(&state);
            let server = http_server(state, options, listener, workers)?;
            let _ = tx.send(server.handle());
            server.await
        })
    });
    let handle = rx.recv().map_err(|_| "the server thread failed to start")?;
    Ok(RunningServer {
        addr,
        handle,
        thread: Some(thread),
        metrics,
    })
}
