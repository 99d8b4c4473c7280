#!/usr/bin/env bash
# Install the system packages the test suite needs where they are missing (Java for Spark, Chromium for the
# report tests). On CI (CI=true) a missing package must be installed, not skipped; elsewhere we try and warn.
set -euo pipefail
need=()
command -v java >/dev/null 2>&1 || need+=(openjdk-17-jre-headless)
if [ "${SOCIALVALUE_NEEDS_CHROMIUM:-1}" = "1" ]; then
  command -v chromium >/dev/null 2>&1 || need+=(chromium)
fi
[ ${#need[@]} -eq 0 ] && exit 0
echo "installing system packages: ${need[*]}"
if [ "$(id -u)" = "0" ]; then SUDO=""; else SUDO="sudo"; fi
if ! { $SUDO apt-get update -qq && DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y -qq --no-install-recommends "${need[@]}"; } >/tmp/socialvalue-apt.log 2>&1; then
  tail -20 /tmp/socialvalue-apt.log
  if [ "${CI:-}" = "true" ]; then echo "could not install ${need[*]} (required in CI)"; exit 1; fi
  echo "warning: could not install ${need[*]}; tests that need them will fail"
fi
