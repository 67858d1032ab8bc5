# Chooses how to build wasm components and exports WASM_CARGO, WASM_TARGET and
# the environment the build needs. Source it after common.sh.
#
# 1. A rustup toolchain with the wasm32-wasip2 target: cargo builds
#    components directly.
# 2. Otherwise, Debian's rustc-web with its std source: std is built for
#    wasm32-wasip1 (-Zbuild-std) and wasm-component-ld links the result into a
#    WASI 0.2 component with the built-in `proxy` adapter. This needs no
#    network beyond Debian's packages.

select_wasm_toolchain() {
    if command -v rustup >/dev/null && rustup target list --installed 2>/dev/null | grep -qx wasm32-wasip2; then
        WASM_CARGO=cargo
        WASM_TARGET=wasm32-wasip2
        WASM_BUILD_ARGS=()
        say "building components with rustup's wasm32-wasip2 target"
        return
    fi
    apt_install rustc-web cargo-web rust-web-src wasi-libc lld-16
    local linker=/usr/lib/rustlib/x86_64-unknown-linux-gnu/bin/wasm-component-ld
    [ -x "$linker" ] || die "wasm-component-ld not found at $linker (package rustc-web)"
    [ -d /usr/lib/rustlib/src/rust/library ] || die "std source missing (package rust-web-src)"
    WASM_CARGO=/usr/bin/cargo
    WASM_TARGET=wasm32-wasip1
    WASM_BUILD_ARGS=(-Zbuild-std=std,panic_abort)
    export PATH=/usr/lib/llvm-16/bin:/usr/bin:$PATH
    export RUSTC=/usr/bin/rustc
    export RUSTC_BOOTSTRAP=1
    export CARGO_TARGET_WASM32_WASIP1_LINKER=$linker
    export CARGO_TARGET_WASM32_WASIP1_RUSTFLAGS="-L /usr/lib/wasm32-wasi -C link-self-contained=no -C link-arg=--wasi-adapter=proxy"
    say "building components with Debian's rustc-web for wasm32-wasip1 + the proxy adapter"
}
