# syntax=docker/dockerfile:1
# gatehouse in a container: built with the Rust toolchain, run from a distroless image (glibc,
# CA certificates, no shell) as a non-root user. Migrations are embedded in the binary
# (`sqlx::migrate!`) and run at startup.
#
#   docker build --build-arg GATEHOUSE_GIT_COMMIT=$(git rev-parse --short=12 HEAD) -t gatehouse .

FROM rust:1.95-slim-bookworm AS build
WORKDIR /src
# No .git in the build context: the commit for gatehouse_build_info comes in as an argument.
ARG GATEHOUSE_GIT_COMMIT=unknown
ENV GATEHOUSE_GIT_COMMIT=${GATEHOUSE_GIT_COMMIT}
COPY Cargo.toml Cargo.lock build.rs ./
COPY migrations ./migrations
COPY src ./src
RUN --mount=type=cache,target=/usr/local/cargo/registry \
    --mount=type=cache,target=/src/target \
    cargo build --release --locked --bin gatehouse \
    && install -D -m 0755 target/release/gatehouse /out/gatehouse

FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /out/gatehouse /usr/local/bin/gatehouse
# Listen on every interface inside the container; publish only what should be reachable.
# The metrics listener stays on its own port (9100), for Prometheus on the internal network.
ENV HOST=0.0.0.0 \
    PORT=3001 \
    METRICS_ADDR=0.0.0.0:9100 \
    RUST_LOG=info
EXPOSE 3001 9100
USER nonroot:nonroot
# `gatehouse healthcheck` asks its own /health/ready: healthy once PostgreSQL and Redis answer.
HEALTHCHECK --interval=10s --timeout=5s --start-period=15s --retries=3 \
    CMD ["/usr/local/bin/gatehouse", "healthcheck"]
ENTRYPOINT ["/usr/local/bin/gatehouse"]
