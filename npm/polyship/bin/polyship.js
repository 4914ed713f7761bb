#!/usr/bin/env node
// Runs the polyship binary of this platform, from the `@polyship/cli-<os>-<cpu>[-musl]` package
// npm installed beside this one (as an optional dependency, only where it fits).
"use strict";

const { spawnSync } = require("node:child_process");
const path = require("node:path");

const { platform, arch } = process;
const exe = platform === "win32" ? "polyship.exe" : "polyship";

/** Whether this Linux runs on musl: Node reports a glibc version only on glibc. */
function musl() {
  if (platform !== "linux") return false;
  try {
    const report = process.report && process.report.getReport();
    const header = report && (typeof report === "string" ? JSON.parse(report) : report).header;
    return !(header && header.glibcVersionRuntime);
  } catch {
    return false;
  }
}

/** The packages that could hold this platform's binary, best first. */
function candidates() {
  const base = `@polyship/cli-${platform}-${arch}`;
  if (platform !== "linux") return [base];
  // A static musl build also runs on glibc, so each libc falls back on the other's package.
  return musl() ? [`${base}-musl`, base] : [base, `${base}-musl`];
}

function find() {
  if (process.env.POLYSHIP_BINARY) return process.env.POLYSHIP_BINARY;
  for (const pkg of candidates()) {
    try {
      return require.resolve(`${pkg}/bin/${exe}`);
    } catch {
      // not installed here: try the next
    }
  }
  return null;
}

const binary = find();
if (!binary) {
  const wanted = candidates()[0];
  process.stderr.write(
    `polyship: there is no prebuilt polyship for ${platform}-${arch}${musl() ? " (musl)" : ""}: ` +
      `the package ${wanted} is not installed.\n` +
      "  If your package manager skips optional dependencies (--no-optional, --omit=optional), install without that flag.\n" +
      "  Otherwise install polyship from source with `cargo install polyship`, and set POLYSHIP_BINARY to its path\n" +
      "  to run it through this package.\n",
  );
  process.exit(1);
}

const result = spawnSync(binary, process.argv.slice(2), { stdio: "inherit", windowsHide: true });
if (result.error) {
  const code = result.error.code;
  const why =
    code === "ENOEXEC" || code === "EBADARCH" || code === "UNKNOWN"
      ? "it is not built for this machine"
      : result.error.message;
  process.stderr.write(
    `polyship: could not run ${path.relative(process.cwd(), binary) || binary}: ${why}.\n` +
      "  Install polyship from source with `cargo install polyship`, and set POLYSHIP_BINARY to its path.\n",
  );
  process.exit(1);
}
if (result.signal) {
  process.kill(process.pid, result.signal);
}
process.exit(result.status === null ? 1 : result.status);
