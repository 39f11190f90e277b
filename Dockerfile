# syntax=docker/dockerfile:1
#
# The roster service in a container: `docker compose up --build` (see
# docker-compose.yml and README.md, "Run with PostgreSQL"), or alone:
#   docker build -t roster . && docker run -p 8080:8080 roster
# (alone it keeps its data in SQLite, /var/lib/roster/roster.db; mount a volume there).

# ---- build: the release binary ----
# The builder's Rust is the workspace's minimum (Cargo.toml: rust-version).
# rust-toolchain.toml is left out of the context (.dockerignore): its channel
# "stable" would make rustup download another toolchain instead of this one.
FROM rust:1.95-bookworm AS build
WORKDIR /src
COPY . .
# The registry and target/ are cache mounts (kept between builds, not in the
# image), so the binary is copied out of target/ in the same step.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/usr/local/cargo/git \
    --mount=type=cache,target=/src/target,sharing=locked \
    cargo build --locked --release -p roster --bin roster \
    && cp target/release/roster /usr/local/bin/roster

# ---- run: the binary alone on a small Debian ----
# Same Debian release as the builder, so the same glibc. No OpenSSL needed:
# the database drivers are built without TLS.
FROM debian:bookworm-slim AS run
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --user-group --home-dir /var/lib/roster --create-home roster
COPY --from=build /usr/local/bin/roster /usr/local/bin/roster
USER roster
WORKDIR /var/lib/roster
# In a container roster must listen on every interface, not on 127.0.0.1.
ENV ROSTER_LISTEN=0.0.0.0:8080
EXPOSE 8080
# Exec form: roster is PID 1 and gets SIGTERM itself (it finishes the
# requests in flight, then exits 0). `roster healthcheck` is the health
# check (see docker-compose.yml).
ENTRYPOINT ["roster"]
CMD ["serve"]
