# Builds the rapport binary and runs it on a slim image. libpq, OpenSSL and SQLite are built from
# source into the binary (see Cargo.toml), so neither stage needs their system packages.
FROM rust:1-bookworm AS build
WORKDIR /src
COPY . .
RUN cargo build --release --bin rapport

FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /var/lib/rapport --create-home rapport
COPY --from=build /src/target/release/rapport /usr/local/bin/rapport
USER rapport
WORKDIR /var/lib/rapport
ENV RAPPORT_BIND=0.0.0.0:8080
EXPOSE 8080
ENTRYPOINT ["rapport"]
CMD ["serve"]
