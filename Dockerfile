# The Summer host with the Summer-Trip components, on the embedded defaults
# unless the database settings of .env.example are passed in.
FROM rust:1.95-bookworm AS build
RUN rustup target add wasm32-wasip2
WORKDIR /src
COPY . .
RUN tooling/build-components && cargo build --release -p summer

FROM debian:bookworm-slim
RUN useradd --system --home-dir /app summer && mkdir -p /data && chown summer /data
WORKDIR /app
COPY --from=build /src/target/release/summer /usr/local/bin/summer
COPY --from=build /src/target/components ./target/components
COPY --from=build /src/components ./components
COPY api ./api
COPY summer.toml ./
ENV SUMMER_HOST=0.0.0.0 PORT=3000 SUMMER_DATA_DIR=/data
VOLUME /data
EXPOSE 3000
USER summer
CMD ["summer", "serve"]
