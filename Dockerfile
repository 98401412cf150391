# Build: cargo in a full Rust image. Run: a slim Debian with only the binary and CA roots.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY Cargo.toml Cargo.lock ./
COPY src src
COPY migrations migrations
COPY config config
COPY rules rules
RUN cargo build --release --locked --bins

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates curl \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --no-create-home okta-ingest
COPY --from=build /src/target/release/okta-ingest /src/target/release/okta-ingest-bench /usr/local/bin/
USER okta-ingest
ENV OKTA_INGEST_LISTEN=0.0.0.0:8080 OKTA_INGEST_LOG_FORMAT=json
EXPOSE 8080
HEALTHCHECK --interval=15s --timeout=3s --start-period=20s --retries=3 \
    CMD curl -fsS http://127.0.0.1:8080/readyz || exit 1
ENTRYPOINT ["okta-ingest"]
CMD ["serve"]
