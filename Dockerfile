# The API image used by docker-compose.yml. Build: docker build -t crust .
# Plain Dockerfile syntax (no BuildKit-only features): the classic builder and BuildKit
# both build it, and Bitbucket's `docker` cache keeps its layers.
FROM rust:1-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends libpq-dev && rm -rf /var/lib/apt/lists/*
WORKDIR /src

# 1. The dependencies alone, in a layer that changes only with a manifest or Cargo.lock:
#    every member's Cargo.toml (cargo loads the whole workspace), empty stand-ins for
#    their sources, and a release build of crust-cli's dependency tree.
COPY Cargo.toml Cargo.lock ./
COPY .cargo .cargo
COPY crates/domain/Cargo.toml crates/domain/
COPY crates/dal/Cargo.toml crates/dal/
COPY crates/api/Cargo.toml crates/api/
COPY crates/cli/Cargo.toml crates/cli/
COPY tests/Cargo.toml tests/
#    Then the stand-ins' own artifacts are forgotten: the real sources, copied next, may
#    carry older modification times than these, and cargo must not take the stand-ins
#    for up to date.
RUN mkdir -p crates/domain/src crates/dal/src crates/api/src crates/cli/src tests/support \
 && touch crates/domain/src/lib.rs crates/dal/src/lib.rs crates/api/src/lib.rs tests/support/lib.rs \
 && echo 'fn main() {}' > crates/cli/src/main.rs \
 && cargo build --release --locked -p crust-cli \
 && cargo clean --release -p crust-domain -p crust-dal -p crust-api -p crust-cli \
 && rm -rf crates tests/support

# 2. The sources. The build embeds migrations/ (diesel_migrations) and
#    crates/domain/data/ (include_str!); crates/dal/build.rs watches migrations/.
COPY crates crates
COPY tests tests
COPY migrations migrations
RUN cargo build --release --locked -p crust-cli \
 && install -m 0755 target/release/crust /usr/local/bin/crust

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends libpq5 ca-certificates && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 crust \
 && install -d -o crust -m 0700 /var/lib/crust/files
COPY --from=build /usr/local/bin/crust /usr/local/bin/crust
USER crust
ENV CRUST_BIND=0.0.0.0:8080
EXPOSE 8080
# GET /healthz on the bind address (0.0.0.0 is asked on 127.0.0.1), 3 s at most. Plain
# HTTP only: a container given CRUST_TLS_CERT (serving HTTPS itself) reports unhealthy;
# override this check there (`healthcheck:` in compose, or `--no-healthcheck`).
HEALTHCHECK --interval=30s --timeout=5s --start-period=30s --retries=3 CMD ["crust", "healthcheck"]
ENTRYPOINT ["crust"]
CMD ["serve"]
