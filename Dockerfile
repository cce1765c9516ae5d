# The API image used by docker-compose.yml. Build: docker build -t crust .
FROM rust:1-bookworm AS build
RUN apt-get update && apt-get install -y --no-install-recommends libpq-dev && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN cargo build --release -p crust-cli

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends libpq5 ca-certificates && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 crust \
 && install -d -o crust -m 0700 /var/lib/crust/files
COPY --from=build /src/target/release/crust /usr/local/bin/crust
USER crust
ENV CRUST_BIND=0.0.0.0:8080
EXPOSE 8080
ENTRYPOINT ["crust"]
CMD ["serve"]
