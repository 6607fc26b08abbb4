#!/usr/bin/env bash
# Stop the local Kafka and wipe its state (var/kafka/: data, logs, cluster id).
# The fetched jars in deploy/kafka/lib/ are kept. The next up.sh formats a fresh node.
set -euo pipefail
# shellcheck source-path=SCRIPTDIR source=common.sh
source "$(dirname "${BASH_SOURCE[0]}")/common.sh"

"$KAFKA_DIR/down.sh"
rm -rf "$VAR_DIR"
log "wiped ${VAR_DIR#"$REPO_ROOT"/}"
