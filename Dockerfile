# syntax=docker/dockerfile:1

# --- build -------------------------------------------------------------------------------------
FROM rust:1.95-slim-bookworm AS build
WORKDIR /src

# Dependency layer: compile every dependency against stub sources, so this layer is reused until
# Cargo.toml or Cargo.lock change.
COPY Cargo.toml Cargo.lock ./
COPY probes/Cargo.toml probes/Cargo.toml
# The benchmarks are a workspace member the image does not need: a stub keeps the workspace whole.
COPY bench/Cargo.toml bench/Cargo.toml
RUN mkdir -p src probes/src bench/src tests/integration \
 && echo 'fn main() {}' > src/main.rs \
 && echo 'fn main() {}' > bench/src/main.rs \
 && touch src/lib.rs probes/src/lib.rs tests/integration/main.rs \
 && cargo build --release --locked --bin prodprobe \
 && rm -rf src probes/src

# The real sources.
COPY build.rs build.rs
COPY src src
COPY probes/src probes/src
RUN touch src/main.rs src/lib.rs probes/src/lib.rs \
 && cargo build --release --locked --bin prodprobe

# --- runtime -----------------------------------------------------------------------------------
# distroless/cc: glibc, CA certificates, a non-root user, no shell.
FROM gcr.io/distroless/cc-debian12:nonroot
COPY --from=build /src/target/release/prodprobe /usr/local/bin/prodprobe
COPY config/example.yaml /etc/prodprobe/prodprobe.yaml
USER 65532:65532
EXPOSE 9747
ENTRYPOINT ["/usr/local/bin/prodprobe"]
CMD ["serve", "--config", "/etc/prodprobe/prodprobe.yaml"]
