# syntax=docker/dockerfile:1
# Parley's container image for people who build with Docker. It is the image that bin/image.sh builds with
# Jib (the way CI builds it, with no Docker daemon): the build stage runs that same script, so the runtime
# holds the same jlink'd modules, the same C library files and an AOT cache trained on that runtime; the
# final stage has the same user, port, environment and entrypoint (ImageIT checks that this file and the
# Jib image agree).
#
#   docker build --platform linux/amd64 -t parley .
#   docker run --rm -p 8080:8080 parley
#
# Cloud Run needs linux/amd64. Keep glibc with glibc: the build stage is Ubuntu-based Temurin, and the
# image carries that stage's C library.

FROM eclipse-temurin:25-jdk AS build
# binutils: strip, which takes the symbol table out of libjvm.so as the Jib build does.
RUN apt-get update && apt-get install -y --no-install-recommends binutils && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN bin/image.sh --rootfs /rootfs

FROM scratch
COPY --from=build /rootfs/ /
COPY --from=build --chown=65532:65532 /rootfs/data /data
USER 65532:65532
WORKDIR /data
ENV PORT=8080 PARLEY_LOG_FORMAT=json PARLEY_DATA_DIR=/data
EXPOSE 8080
ENTRYPOINT ["/opt/java/bin/java", "-XX:MaxRAMPercentage=65", "-XX:+UseSerialGC", "-XX:NewSize=24m", "-XX:+ExitOnOutOfMemoryError", "-XX:TrimNativeHeapInterval=5000", "-Dorg.sqlite.lib.path=/app/native", "-Dorg.sqlite.lib.name=libsqlitejdbc.so", "-XX:AOTCache=/app/parley.aot", "-jar", "/app/parley-server.jar", "serve"]
