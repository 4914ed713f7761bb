#!/bin/sh
# Installs polyship from its release archives: the archive for this machine and the release's
# SHA256SUMS are downloaded, the archive is checked against its line there, and `polyship` is put
# in the install directory. Nothing is installed when the checksum does not match.
#
#   curl -fsSL https://github.com/polyship/polyship/releases/latest/download/install.sh | POLYSHIP_VERSION=1.2.0 sh
#
# POLYSHIP_VERSION       the version to install (required)
# POLYSHIP_INSTALL_DIR   where `polyship` goes (default: ~/.local/bin)
# POLYSHIP_DOWNLOAD_URL  the releases' download root, `<url>/v<version>/<file>`
#                        (default: https://github.com/polyship/polyship/releases/download)
# POLYSHIP_TARGET        the target triple (default: this machine's)
set -eu

version="${POLYSHIP_VERSION:?set POLYSHIP_VERSION to the version to install, for example 1.2.0}"
version="${version#v}"
dir="${POLYSHIP_INSTALL_DIR:-$HOME/.local/bin}"
base="${POLYSHIP_DOWNLOAD_URL:-https://github.com/polyship/polyship/releases/download}"

if [ -z "${POLYSHIP_TARGET:-}" ]; then
    case "$(uname -s)-$(uname -m)" in
    Linux-x86_64 | Linux-amd64) POLYSHIP_TARGET=x86_64-unknown-linux-gnu ;;
    Linux-aarch64 | Linux-arm64) POLYSHIP_TARGET=aarch64-unknown-linux-gnu ;;
    Darwin-x86_64) POLYSHIP_TARGET=x86_64-apple-darwin ;;
    Darwin-arm64) POLYSHIP_TARGET=aarch64-apple-darwin ;;
    *)
        echo "install.sh: no prebuilt polyship for $(uname -s) $(uname -m); install it from source with \`cargo install polyship\`" >&2
        exit 1
        ;;
    esac
fi
name="polyship-$version-$POLYSHIP_TARGET"

fetch() {
    if command -v curl >/dev/null 2>&1; then
        curl -fsSL --retry 3 -o "$2" "$1"
    elif command -v wget >/dev/null 2>&1; then
        wget -q -O "$2" "$1"
    else
        echo "install.sh: curl or wget is required" >&2
        exit 1
    fi
}

work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
fetch "$base/v$version/$name.tar.gz" "$work/$name.tar.gz" || {
    echo "install.sh: could not download $base/v$version/$name.tar.gz" >&2
    exit 1
}
fetch "$base/v$version/SHA256SUMS" "$work/SHA256SUMS" || {
    echo "install.sh: could not download $base/v$version/SHA256SUMS" >&2
    exit 1
}
line="$(grep "  $name.tar.gz\$" "$work/SHA256SUMS" || true)"
if [ -z "$line" ]; then
    echo "install.sh: SHA256SUMS of v$version has no line for $name.tar.gz" >&2
    exit 1
fi
if command -v sha256sum >/dev/null 2>&1; then
    (cd "$work" && echo "$line" | sha256sum -c --status) || {
        echo "install.sh: $name.tar.gz does not match its checksum in SHA256SUMS; nothing was installed" >&2
        exit 1
    }
else
    (cd "$work" && echo "$line" | shasum -a 256 -c --status) || {
        echo "install.sh: $name.tar.gz does not match its checksum in SHA256SUMS; nothing was installed" >&2
        exit 1
    }
fi
tar -xzf "$work/$name.tar.gz" -C "$work"
mkdir -p "$dir"
cp "$work/$name/polyship" "$dir/polyship.partial"
chmod 755 "$dir/polyship.partial"
mv "$dir/polyship.partial" "$dir/polyship"
echo "installed $("$dir/polyship" --version 2>/dev/null || echo "polyship $version") to $dir/polyship"
