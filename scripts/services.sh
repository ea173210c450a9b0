#!/usr/bin/env bash
# Brings up the external services Herald's tests need on this machine:
#   - the local Debian PostgreSQL cluster, with logical decoding enabled;
#   - the local MariaDB (the MySQL store's tests);
#   - a real single-node Apache Kafka broker (KRaft, broker+controller in one JVM);
#   - the Google Cloud Pub/Sub emulator from the installed google-cloud-cli.
#
# Also makes sure Debian's Chromium is installed (/usr/bin/chromium), which the browser tests
# (test/**/*.e2e.test.ts with playwright-core) drive; playwright-core never downloads a browser.
#
# Usage:
#   scripts/services.sh [start]        PostgreSQL + a Kafka broker + the Pub/Sub emulator on FRESH data,
#                                      and Chromium for the browser tests
#   scripts/services.sh stop           stop the broker and the emulator and delete their data
#   scripts/services.sh kafka-stop     stop the broker, keep its data (simulated outage)
#   scripts/services.sh kafka-start    start it again on the same data and wait until ready
#   scripts/services.sh kafka-restart  kafka-stop + kafka-start
#   scripts/services.sh pubsub-start   start the Pub/Sub emulator (fresh data dir if there is none yet)
#   scripts/services.sh pubsub-stop    stop the emulator, keep its data dir (simulated outage)
#   scripts/services.sh pubsub-restart pubsub-stop + pubsub-start on the same data dir. The emulator
#                                      keeps topics, subscriptions and messages in memory only, so
#                                      they are gone after a restart (its data dir holds env.yaml).
#   scripts/services.sh status         say what is running
#   scripts/services.sh chromium       install Debian's chromium package if /usr/bin/chromium is missing
#   scripts/services.sh kafka-class MAIN [ARGS...]
#                                      run a Kafka CLI class from the cached jars, e.g.
#                                      org.apache.kafka.tools.TopicCommand --bootstrap-server 127.0.0.1:9092 --list
#
# Environment:
#   HERALD_CACHE          jar cache (default ~/.cache/herald); kept across runs
#   HERALD_RUN_DIR        run state, broker data and logs (default /tmp/herald-services)
#   HERALD_KAFKA_VERSION  force one Kafka version instead of 4.1.1 with 4.0.1 fallback
#   HERALD_KAFKA_HEAP     JVM heap flags for the broker (default -Xms256m -Xmx768m)
#   HERALD_PUBSUB_HEAP    JVM heap flags for the Pub/Sub emulator (default -Xms64m -Xmx512m)
#
# Tests read ${HERALD_RUN_DIR}/env (HERALD_TEST_KAFKA=..., HERALD_TEST_PG=..., HERALD_TEST_PUBSUB=...).
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
CACHE_DIR=${HERALD_CACHE:-$HOME/.cache/herald}
RUN_DIR=${HERALD_RUN_DIR:-/tmp/herald-services}
PID_FILE=$RUN_DIR/kafka.pid
DIR_FILE=$RUN_DIR/kafka.dir     # path of the current broker's data dir

KAFKA_HOST=127.0.0.1
KAFKA_PORT=9092
CONTROLLER_PORT=9093
KAFKA_BOOTSTRAP=$KAFKA_HOST:$KAFKA_PORT
PG_URL=postgres://postgres@127.0.0.1:5432/postgres
READY_TIMEOUT=90
STOP_TIMEOUT=30
# Put on the broker's command line so that we can tell our broker apart from
# any other JVM when we have to find it by port.
OWNER_MARK=-Dherald.kafka=1

PUBSUB_HOST=127.0.0.1
PUBSUB_PORT=8085
PUBSUB_HOSTPORT=$PUBSUB_HOST:$PUBSUB_PORT
PUBSUB_PID_FILE=$RUN_DIR/pubsub.pid # gcloud's pid, which is also the emulator's process group
PUBSUB_DIR_FILE=$RUN_DIR/pubsub.dir # path of the current emulator's data dir
# Passed to the emulator's JVM (through CLOUD_PUBSUB_EMULATOR_OPTS), like OWNER_MARK.
PUBSUB_MARK=-Dherald.pubsub=1

log() { echo "[services] $*"; }
warn() { echo "[services] WARNING: $*" >&2; }
die() { echo "[services] ERROR: $*" >&2; exit 1; }

# ---------------------------------------------------------------- PostgreSQL

pg_version() {
  # Debian keeps one directory per installed major version; use the newest.
  local v
  # shellcheck disable=SC2012 # version dirs are plain numbers
  v=$(ls /etc/postgresql 2>/dev/null | sort -V | tail -n1)
  [[ -n $v ]] || die "no PostgreSQL cluster under /etc/postgresql"
  echo "$v"
}

pg_wait_ready() {
  local i
  for ((i = 0; i < 60; i++)); do
    pg_isready -q -h 127.0.0.1 -p 5432 && return 0
    sleep 0.5
  done
  die "PostgreSQL did not become ready on 127.0.0.1:5432 within 30s"
}

pg_setting() { psql -h 127.0.0.1 -U postgres -Atc "show $1"; }

ensure_postgres() {
  local ver
  if pg_isready -q -h 127.0.0.1 -p 5432; then
    log "PostgreSQL: answering on 127.0.0.1:5432"
  else
    ver=$(pg_version)
    log "PostgreSQL: not answering, starting cluster $ver/main"
    pg_ctlcluster --skip-systemctl-redirect "$ver" main start
    pg_wait_ready
  fi

  # Herald's PG source uses logical replication slots; these settings only
  # take effect after a restart, so restart only when something changed.
  local changed=0
  if [[ $(pg_setting wal_level) != logical ]]; then
    psql -q -h 127.0.0.1 -U postgres -c "ALTER SYSTEM SET wal_level = logical"
    changed=1
  fi
  local s
  for s in max_replication_slots max_wal_senders; do
    if (($(pg_setting "$s") < 20)); then
      psql -q -h 127.0.0.1 -U postgres -c "ALTER SYSTEM SET $s = 20"
      changed=1
    fi
  done
  if ((changed)); then
    ver=$(pg_version)
    log "PostgreSQL: restarting cluster $ver/main to apply wal_level=logical / replication limits"
    pg_ctlcluster --skip-systemctl-redirect "$ver" main restart
    pg_wait_ready
  fi
  log "PostgreSQL: ready (wal_level=$(pg_setting wal_level), max_replication_slots=$(pg_setting max_replication_slots), max_wal_senders=$(pg_setting max_wal_senders))"
}

# ---------------------------------------------------------------- MariaDB

# The MySQL store's tests use the machine's MariaDB (10.6+ for SKIP LOCKED) as root without a
# password on 127.0.0.1:3306; each test file creates and drops its own databases.
ensure_mariadb() {
  if ! mariadb-admin -h 127.0.0.1 -u root --connect-timeout=2 ping >/dev/null 2>&1; then
    log "MariaDB: not answering, starting it"
    /etc/init.d/mariadb start >/dev/null || die "cannot start MariaDB (/etc/init.d/mariadb start)"
  fi
  local i
  for ((i = 0; i < 60; i++)); do
    if mariadb-admin -h 127.0.0.1 -u root --connect-timeout=2 ping >/dev/null 2>&1; then
      log "MariaDB: ready ($(mariadb -h 127.0.0.1 -u root -Nse 'SELECT VERSION()') on 127.0.0.1:3306)"
      return 0
    fi
    sleep 1
  done
  die "MariaDB did not answer on 127.0.0.1:3306 within 60 s"
}

# ---------------------------------------------------------------- Kafka jars

# Sets KAFKA_VERSION and KAFKA_LIBS. Maven Central is the only source of Kafka
# reachable here, so the broker is assembled from its artifacts; the result is
# cached, and a libs dir only counts once it is complete (.complete marker),
# so an interrupted download is redone instead of leaving a broken classpath.
resolve_kafka() {
  local versions=(4.1.1 4.0.1) v libs tmp
  [[ -n ${HERALD_KAFKA_VERSION:-} ]] && versions=("$HERALD_KAFKA_VERSION")
  for v in "${versions[@]}"; do
    libs=$CACHE_DIR/kafka-$v/libs
    if [[ -f $libs/.complete ]]; then
      log "Kafka $v: using cached jars in $libs"
    else
      command -v mvn >/dev/null || die "mvn not found: Maven is needed to fetch Kafka from Maven Central"
      log "Kafka $v: downloading jars from Maven Central into $libs (first run only)"
      tmp=$CACHE_DIR/kafka-$v/libs.tmp.$$
      rm -rf "$tmp"
      mkdir -p "$tmp"
      # Maven's output goes to a file: it is only interesting when it fails.
      if ! mvn -B -Dstyle.color=never -f "$SCRIPT_DIR/kafka/pom.xml" \
        -Dkafka.version="$v" -Dkafka.libs="$tmp" dependency:copy-dependencies \
        >"$tmp.log" 2>&1; then
        tail -n 20 "$tmp.log" >&2
        rm -rf "$tmp" "$tmp.log"
        rmdir "$CACHE_DIR/kafka-$v" 2>/dev/null || true
        warn "Kafka $v could not be resolved from Maven Central"
        continue
      fi
      rm -f "$tmp.log"
      rm -rf "$libs"
      mv "$tmp" "$libs"
      touch "$libs/.complete"
    fi
    KAFKA_VERSION=$v
    KAFKA_LIBS=$libs
    write_log_configs "$CACHE_DIR/kafka-$v"
    return 0
  done
  die "could not obtain any Kafka version (${versions[*]}) from Maven Central"
}

# Rewritten on every run so that they always match this script. Published jars
# carry no log4j2 config, and without one log4j2 only prints errors - we need
# INFO to see "Kafka Server started"; the CLI tools should stay quiet.
write_log_configs() {
  mkdir -p "$1/config"
  cat >"$1/config/log4j2-broker.properties" <<'EOF'
status = warn
appender.out.type = Console
appender.out.name = STDOUT
appender.out.layout.type = PatternLayout
appender.out.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = INFO
rootLogger.appenderRef.out.ref = STDOUT
# Per-request / per-partition chatter, useless for test debugging.
logger.statechange.name = state.change.logger
logger.statechange.level = WARN
logger.request.name = kafka.request.logger
logger.request.level = WARN
EOF
  cat >"$1/config/log4j2-tools.properties" <<'EOF'
status = warn
appender.err.type = Console
appender.err.name = STDERR
appender.err.target = SYSTEM_ERR
appender.err.layout.type = PatternLayout
appender.err.layout.pattern = [%d] %p %m (%c)%n
rootLogger.level = WARN
rootLogger.appenderRef.err.ref = STDERR
EOF
}

# Runs a Kafka CLI main class against the cached jars.
kafka_class() {
  local main=$1
  shift
  java -Xmx256m -Djava.awt.headless=true \
    -Dlog4j2.configurationFile="$(dirname "$KAFKA_LIBS")/config/log4j2-tools.properties" \
    -cp "$KAFKA_LIBS/*" "$main" "$@"
}

# ---------------------------------------------------------------- Kafka broker

port_open() { (exec 3<>"/dev/tcp/$KAFKA_HOST/$1") 2>/dev/null; }

# PIDs listening on a TCP port (needs root to see other users' processes).
port_pids() {
  ss -H -ltnp "sport = :$1" 2>/dev/null | grep -o 'pid=[0-9]*' | cut -d= -f2 | sort -u || true
}

is_our_broker() {
  local cmdline
  cmdline=$(tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null) || return 1
  [[ $cmdline == *"$OWNER_MARK"* ]]
}

# TERM first so the broker can close its logs cleanly (a clean restart is much
# faster than log recovery), KILL if it hangs.
kill_pid() {
  local pid=$1 i
  kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for ((i = 0; i < STOP_TIMEOUT * 4; i++)); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.25
  done
  warn "Kafka pid $pid ignored SIGTERM for ${STOP_TIMEOUT}s, sending SIGKILL"
  kill -KILL "$pid" 2>/dev/null || true
  for ((i = 0; i < 40; i++)); do
    kill -0 "$pid" 2>/dev/null || return 0
    sleep 0.25
  done
  die "Kafka pid $pid survived SIGKILL"
}

stop_broker() {
  local pid port stopped=0
  if [[ -f $PID_FILE ]]; then
    pid=$(cat "$PID_FILE")
    if [[ -n $pid ]] && is_our_broker "$pid"; then
      log "Kafka: stopping broker (pid $pid)"
      kill_pid "$pid"
      stopped=1
    fi
    rm -f "$PID_FILE"
  fi
  # A broker whose pid file was lost (e.g. run dir wiped) still holds the ports;
  # take it down too, but only if it is one of ours.
  for port in $KAFKA_PORT $CONTROLLER_PORT; do
    for pid in $(port_pids "$port"); do
      if is_our_broker "$pid"; then
        log "Kafka: stopping stray Herald broker (pid $pid) on port $port"
        kill_pid "$pid"
        stopped=1
      fi
    done
  done
  ((stopped)) || log "Kafka: no broker of ours was running"
}

check_ports_free() {
  local port pid
  for port in $KAFKA_PORT $CONTROLLER_PORT; do
    if port_open "$port"; then
      pid=$(port_pids "$port" | head -n1)
      die "port $port is already in use by something that is not our broker (pid ${pid:-?}: $(tr '\0' ' ' <"/proc/${pid:-0}/cmdline" 2>/dev/null || echo unknown))"
    fi
  done
}

random_cluster_id() {
  # A Kafka cluster id is a UUID in URL-safe base64 without padding (22 chars).
  # One that starts with '-' would be parsed as an option, so draw again.
  local id
  while :; do
    id=$(head -c16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')
    [[ $id != -* ]] && break
  done
  echo "$id"
}

write_server_properties() {
  local dir=$1
  cat >"$dir/server.properties" <<EOF
# Single-node KRaft test broker for Herald, written by scripts/services.sh.
process.roles=broker,controller
node.id=1
# Static voter list: works the same on Kafka 4.0 and 4.1 and needs no
# --standalone / dynamic-quorum handling when formatting.
controller.quorum.voters=1@$KAFKA_HOST:$CONTROLLER_PORT
listeners=PLAINTEXT://$KAFKA_HOST:$KAFKA_PORT,CONTROLLER://$KAFKA_HOST:$CONTROLLER_PORT
advertised.listeners=PLAINTEXT://$KAFKA_HOST:$KAFKA_PORT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
controller.listener.names=CONTROLLER
inter.broker.listener.name=PLAINTEXT
log.dirs=$dir/data

# Only one broker: every internal topic must be satisfiable with one replica.
offsets.topic.replication.factor=1
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
min.insync.replicas=1
# Default is 50 partitions each; creating them makes the first consumer group /
# first transaction of every test run noticeably slower on 2 cores.
offsets.topic.num.partitions=4
transaction.state.log.num.partitions=4

# Herald must create and verify its topics itself; a broker that silently
# auto-creates them would hide that bug.
auto.create.topics.enable=false
num.partitions=4
# Tests should not wait 3s for every consumer group to form.
group.initial.rebalance.delay.ms=0
EOF
}

# Start the broker on an existing, formatted data dir and wait until it serves.
launch_broker() {
  local dir=$1 pid offset i
  # shellcheck disable=SC1091
  source "$dir/kafka.env" # KAFKA_VERSION / KAFKA_LIBS this dir was formatted with
  check_ports_free
  rm -f "$PID_FILE"
  touch "$dir/broker.log"
  # Only look at log lines written by this start (kafka-start appends to the log).
  offset=$(stat -c %s "$dir/broker.log")
  log "Kafka $KAFKA_VERSION: starting broker on $KAFKA_BOOTSTRAP (data $dir, log $dir/broker.log)"
  # setsid + stdin/stdout away from the caller: the broker must outlive this script and
  # must not keep the caller's pipes open (a test runner waiting for our stdout
  # to close would hang forever otherwise).
  # shellcheck disable=SC2016
  # shellcheck disable=SC2086 # HERALD_KAFKA_HEAP holds several JVM flags
  setsid bash -c 'echo $$ >"$1"; shift; exec "$@"' _ "$PID_FILE" \
    java ${HERALD_KAFKA_HEAP:--Xms256m -Xmx768m} \
    -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 \
    -XX:+ExplicitGCInvokesConcurrent -Djava.awt.headless=true \
    "$OWNER_MARK" \
    -Dlog4j2.configurationFile="$(dirname "$KAFKA_LIBS")/config/log4j2-broker.properties" \
    -cp "$KAFKA_LIBS/*" kafka.Kafka "$dir/server.properties" \
    </dev/null >>"$dir/broker.log" 2>&1 &

  for ((i = 0; i < 50; i++)); do
    [[ -s $PID_FILE ]] && break
    sleep 0.1
  done
  pid=$(cat "$PID_FILE" 2>/dev/null || true)
  [[ -n $pid ]] || die "Kafka: broker did not start (no pid)"

  # Port open alone is not enough: the socket listens before the broker has
  # caught up with the metadata log and can serve requests.
  for ((i = 0; i < READY_TIMEOUT * 2; i++)); do
    if ! kill -0 "$pid" 2>/dev/null; then
      broker_failed "$dir" "broker process $pid exited during startup"
    fi
    if port_open "$KAFKA_PORT" &&
      grep -q -e 'Kafka Server started' -e 'Transition from STARTING to STARTED' \
        <(tail -c +"$((offset + 1))" "$dir/broker.log"); then
      log "Kafka: broker ready on $KAFKA_BOOTSTRAP (pid $pid, $((i / 2))s)"
      return 0
    fi
    sleep 0.5
  done
  broker_failed "$dir" "broker not ready after ${READY_TIMEOUT}s"
}

broker_failed() {
  echo "[services] ERROR: Kafka: $2; last lines of $1/broker.log:" >&2
  tail -n 40 "$1/broker.log" >&2 || true
  local pid
  pid=$(cat "$PID_FILE" 2>/dev/null || true)
  if [[ -n $pid ]]; then kill -KILL "$pid" 2>/dev/null || true; fi
  rm -f "$PID_FILE"
  exit 1
}

current_dir() {
  local dir
  dir=$(cat "$DIR_FILE" 2>/dev/null || true)
  [[ -n $dir && -f $dir/server.properties ]] || die "no Kafka data dir from a previous 'start' (run: $0 start)"
  echo "$dir"
}

remove_old_data() {
  # Every test run must see an empty broker: drop all data of earlier runs.
  rm -rf "${RUN_DIR:?}"/kafka-*/
  rm -f "$DIR_FILE"
}

start_fresh_kafka() {
  stop_broker
  remove_old_data
  resolve_kafka
  local dir id
  dir=$RUN_DIR/kafka-$(date +%Y%m%d-%H%M%S)-$RANDOM
  mkdir -p "$dir/data"
  printf 'KAFKA_VERSION=%q\nKAFKA_LIBS=%q\n' "$KAFKA_VERSION" "$KAFKA_LIBS" >"$dir/kafka.env"
  write_server_properties "$dir"
  id=$(random_cluster_id)
  log "Kafka: formatting fresh storage in $dir (cluster id $id)"
  if ! kafka_class kafka.tools.StorageTool format -t "$id" -c "$dir/server.properties" \
    >"$dir/format.log" 2>&1; then
    cat "$dir/format.log" >&2
    die "Kafka storage format failed"
  fi
  echo "$dir" >"$DIR_FILE"
  launch_broker "$dir"
}

# ---------------------------------------------------------------- Pub/Sub emulator

# The emulator answers "Ok" to a plain HTTP GET on its port once it serves.
pubsub_answers() {
  [[ $(curl -s -m 2 "http://$PUBSUB_HOSTPORT/" 2>/dev/null) == Ok* ]]
}

# True for the gcloud wrapper or the Java server of an emulator this script started.
is_our_pubsub() {
  local cmdline
  cmdline=$(tr '\0' ' ' <"/proc/$1/cmdline" 2>/dev/null) || return 1
  [[ $cmdline == *"$PUBSUB_MARK"* || $cmdline == *"emulators pubsub start"*"--data-dir=$RUN_DIR/pubsub-"* ]]
}

# gcloud runs the Java server as a child and does not pass SIGTERM on to it,
# so the whole process group (made by setsid in launch_pubsub) is signalled.
kill_group() {
  local pgid=$1 i
  kill -0 -- "-$pgid" 2>/dev/null || return 0
  kill -TERM -- "-$pgid" 2>/dev/null || true
  for ((i = 0; i < STOP_TIMEOUT * 4; i++)); do
    kill -0 -- "-$pgid" 2>/dev/null || return 0
    sleep 0.25
  done
  warn "Pub/Sub process group $pgid ignored SIGTERM for ${STOP_TIMEOUT}s, sending SIGKILL"
  kill -KILL -- "-$pgid" 2>/dev/null || true
  for ((i = 0; i < 40; i++)); do
    kill -0 -- "-$pgid" 2>/dev/null || return 0
    sleep 0.25
  done
  die "Pub/Sub process group $pgid survived SIGKILL"
}

stop_pubsub() {
  local pid stopped=0
  if [[ -f $PUBSUB_PID_FILE ]]; then
    pid=$(cat "$PUBSUB_PID_FILE")
    if [[ -n $pid ]] && is_our_pubsub "$pid"; then
      log "Pub/Sub: stopping emulator (pid $pid)"
      kill_group "$pid"
      stopped=1
    fi
    rm -f "$PUBSUB_PID_FILE"
  fi
  stop_stray_pubsub && stopped=1
  ((stopped)) || log "Pub/Sub: no emulator of ours was running"
}

# A Java server whose gcloud died or whose pid file was lost still holds the
# port; stop it too, but only if it is one of ours. True if one was stopped.
stop_stray_pubsub() {
  local pid stopped=1
  for pid in $(port_pids "$PUBSUB_PORT"); do
    if is_our_pubsub "$pid"; then
      log "Pub/Sub: stopping stray Herald emulator (pid $pid) on port $PUBSUB_PORT"
      kill_group "$(ps -o pgid= -p "$pid" | tr -d ' ')"
      stopped=0
    fi
  done
  return $stopped
}

pubsub_running() {
  [[ -f $PUBSUB_PID_FILE ]] && is_our_pubsub "$(cat "$PUBSUB_PID_FILE")"
}

# Start the emulator with an existing data dir and wait until it answers.
launch_pubsub() {
  local dir=$1 pid pgid i
  command -v gcloud >/dev/null || die "gcloud not found: the Pub/Sub emulator ships with google-cloud-cli"
  if port_open "$PUBSUB_PORT"; then
    pid=$(port_pids "$PUBSUB_PORT" | head -n1)
    die "port $PUBSUB_PORT is already in use by something that is not our emulator (pid ${pid:-?}: $(tr '\0' ' ' <"/proc/${pid:-0}/cmdline" 2>/dev/null || echo unknown))"
  fi
  rm -f "$PUBSUB_PID_FILE"
  log "Pub/Sub: starting emulator on $PUBSUB_HOSTPORT (data $dir, log $dir/emulator.log)"
  # setsid for the same reasons as the broker, and to give gcloud and its Java
  # child a process group of their own to stop them by. The CLOUDSDK_* settings
  # keep gcloud from calling home (update check, usage reporting).
  # shellcheck disable=SC2016
  CLOUD_PUBSUB_EMULATOR_OPTS="$PUBSUB_MARK ${HERALD_PUBSUB_HEAP:--Xms64m -Xmx512m}" \
    CLOUDSDK_COMPONENT_MANAGER_DISABLE_UPDATE_CHECK=true CLOUDSDK_CORE_DISABLE_USAGE_REPORTING=true \
    setsid bash -c 'echo $$ >"$1"; shift; exec "$@"' _ "$PUBSUB_PID_FILE" \
    gcloud beta emulators pubsub start --host-port="$PUBSUB_HOSTPORT" --data-dir="$dir/data" --quiet \
    </dev/null >>"$dir/emulator.log" 2>&1 &

  for ((i = 0; i < 50; i++)); do
    [[ -s $PUBSUB_PID_FILE ]] && break
    sleep 0.1
  done
  pgid=$(cat "$PUBSUB_PID_FILE" 2>/dev/null || true)
  [[ -n $pgid ]] || die "Pub/Sub: emulator did not start (no pid)"

  for ((i = 0; i < READY_TIMEOUT * 2; i++)); do
    if ! kill -0 -- "-$pgid" 2>/dev/null; then
      pubsub_failed "$dir" "emulator process $pgid exited during startup"
    fi
    if pubsub_answers; then
      log "Pub/Sub: emulator ready on $PUBSUB_HOSTPORT (pid $pgid, $((i / 2))s)"
      return 0
    fi
    sleep 0.5
  done
  pubsub_failed "$dir" "emulator not answering after ${READY_TIMEOUT}s"
}

pubsub_failed() {
  echo "[services] ERROR: Pub/Sub: $2; last lines of $1/emulator.log:" >&2
  tail -n 40 "$1/emulator.log" >&2 || true
  local pgid
  pgid=$(cat "$PUBSUB_PID_FILE" 2>/dev/null || true)
  if [[ -n $pgid ]]; then kill -KILL -- "-$pgid" 2>/dev/null || true; fi
  rm -f "$PUBSUB_PID_FILE"
  exit 1
}

remove_old_pubsub_data() {
  rm -rf "${RUN_DIR:?}"/pubsub-*/
  rm -f "$PUBSUB_DIR_FILE"
}

new_pubsub_dir() {
  local dir
  dir=$RUN_DIR/pubsub-$(date +%Y%m%d-%H%M%S)-$RANDOM
  # gcloud refuses to start when its --data-dir does not exist.
  mkdir -p "$dir/data"
  echo "$dir" >"$PUBSUB_DIR_FILE"
  echo "$dir"
}

# The data dir of the last start, or a fresh one when there is none.
current_pubsub_dir() {
  local dir
  dir=$(cat "$PUBSUB_DIR_FILE" 2>/dev/null || true)
  if [[ -n $dir && -d $dir/data ]]; then echo "$dir"; else new_pubsub_dir; fi
}

start_fresh_pubsub() {
  stop_pubsub
  remove_old_pubsub_data
  launch_pubsub "$(new_pubsub_dir)"
}

# ---------------------------------------------------------------- kcat

# kcat is handy for tests and debugging but never required: any failure here
# is only a warning.
ensure_kcat() {
  if command -v kcat >/dev/null || command -v kafkacat >/dev/null; then
    return 0
  fi
  if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null; then
    warn "kcat is not installed and cannot be installed here (need root + apt-get)"
    return 0
  fi
  log "kcat: installing Debian package kcat"
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y -qq kcat >/dev/null 2>&1; then
    # A fresh machine may have no package lists yet.
    apt-get update -qq >/dev/null 2>&1 || true
    apt-get install -y -qq kcat >/dev/null 2>&1 || warn "could not install kcat with apt-get; continuing without it"
  fi
}

check_kcat() {
  local kc
  kc=$(command -v kcat || command -v kafkacat || true)
  [[ -n $kc ]] || return 0
  if "$kc" -b "$KAFKA_BOOTSTRAP" -L -m 10 >/dev/null 2>&1; then
    log "kcat: metadata request to $KAFKA_BOOTSTRAP OK"
  else
    warn "kcat could not fetch metadata from $KAFKA_BOOTSTRAP"
  fi
}

# ---------------------------------------------------------------- Prometheus

# The metrics tests check the exposition with promtool and scrape a relay with a real Prometheus
# server they start themselves on 127.0.0.1 (Debian's prometheus package ships both binaries).
# A failed install is only a warning; those tests then fail naming this script.
ensure_prometheus() {
  if command -v promtool >/dev/null && command -v prometheus >/dev/null; then
    return 0
  fi
  if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null; then
    warn "prometheus/promtool are not installed and cannot be installed here (need root + apt-get): the metrics tests will fail"
    return 0
  fi
  log "Prometheus: installing Debian package prometheus (first run only)"
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y -qq --no-install-recommends prometheus >/dev/null 2>&1; then
    apt-get update -qq >/dev/null 2>&1 || true
    apt-get install -y -qq --no-install-recommends prometheus >/dev/null 2>&1 || warn "could not install prometheus with apt-get: the metrics tests will fail"
  fi
}

# ---------------------------------------------------------------- Chromium

CHROMIUM_BIN=/usr/bin/chromium

# The browser tests launch Debian's Chromium through playwright-core, which has no browser of
# its own (and this machine could not download one). Unlike kcat it is needed, but a failed
# install is only a warning: the other services are still worth starting, and the browser test
# then fails with a message that names this command.
ensure_chromium() {
  if [[ -x $CHROMIUM_BIN ]]; then
    log "Chromium: $("$CHROMIUM_BIN" --version 2>/dev/null || echo "present at $CHROMIUM_BIN")"
    return 0
  fi
  if [[ $(id -u) -ne 0 ]] || ! command -v apt-get >/dev/null; then
    warn "Chromium is not installed and cannot be installed here (need root + apt-get): the browser tests will fail"
    return 0
  fi
  log "Chromium: installing Debian package chromium (first run only)"
  export DEBIAN_FRONTEND=noninteractive
  if ! apt-get install -y -qq chromium >/dev/null 2>&1; then
    # A fresh machine may have no package lists yet.
    apt-get update -qq >/dev/null 2>&1 || true
    apt-get install -y -qq chromium >/dev/null 2>&1 || true
  fi
  if [[ -x $CHROMIUM_BIN ]]; then
    log "Chromium: installed, $("$CHROMIUM_BIN" --version 2>/dev/null || echo "$CHROMIUM_BIN")"
  else
    warn "could not install chromium with apt-get: the browser tests will fail"
  fi
}

write_env() {
  printf 'HERALD_TEST_KAFKA=%s\nHERALD_TEST_PG=%s\nHERALD_TEST_PUBSUB=%s\n' "$KAFKA_BOOTSTRAP" "$PG_URL" "$PUBSUB_HOSTPORT" >"$RUN_DIR/env"
  log "wrote $RUN_DIR/env"
}

# ---------------------------------------------------------------- main

mkdir -p "$RUN_DIR" "$CACHE_DIR"
cmd=${1:-start}

# Two test runners calling this at once would fight over ports and data dirs,
# so state-changing commands run under a lock. The lock is held by flock(1)
# itself (-o): a plain `exec 9>lock; flock 9` would leak the locked fd into
# every daemon we start (PostgreSQL, the broker) and deadlock the next run.
case $cmd in
  status | kafka-class) ;;
  *)
    if [[ -z ${HERALD_SERVICES_LOCKED:-} ]]; then
      HERALD_SERVICES_LOCKED=1 exec flock -o "$RUN_DIR/.lock" bash "${BASH_SOURCE[0]}" "$@"
    fi
    ;;
esac
case $cmd in
  start)
    ensure_postgres
    ensure_mariadb
    ensure_kcat
    ensure_chromium
    ensure_prometheus
    start_fresh_kafka
    check_kcat
    start_fresh_pubsub
    write_env
    log "all services up"
    ;;
  stop)
    stop_broker
    remove_old_data
    log "Kafka: stopped and data removed"
    stop_pubsub
    remove_old_pubsub_data
    log "Pub/Sub: stopped and data removed"
    ;;
  kafka-stop)
    stop_broker
    ;;
  kafka-start)
    dir=$(current_dir)
    if [[ -f $PID_FILE ]] && is_our_broker "$(cat "$PID_FILE")"; then
      log "Kafka: already running (pid $(cat "$PID_FILE"))"
    else
      launch_broker "$dir"
    fi
    ;;
  kafka-restart)
    dir=$(current_dir)
    stop_broker
    launch_broker "$dir"
    ;;
  pubsub-start)
    if pubsub_running; then
      log "Pub/Sub: already running (pid $(cat "$PUBSUB_PID_FILE"))"
    else
      stop_stray_pubsub || true
      launch_pubsub "$(current_pubsub_dir)"
    fi
    ;;
  pubsub-stop)
    stop_pubsub
    ;;
  pubsub-restart)
    dir=$(current_pubsub_dir)
    stop_pubsub
    launch_pubsub "$dir"
    ;;
  status)
    if pg_isready -q -h 127.0.0.1 -p 5432; then log "PostgreSQL: up"; else log "PostgreSQL: down"; fi
    if [[ -f $PID_FILE ]] && is_our_broker "$(cat "$PID_FILE")"; then
      log "Kafka: running (pid $(cat "$PID_FILE"), data $(cat "$DIR_FILE" 2>/dev/null))"
    else
      log "Kafka: not running"
    fi
    if pubsub_running; then
      log "Pub/Sub: running (pid $(cat "$PUBSUB_PID_FILE"), data $(cat "$PUBSUB_DIR_FILE" 2>/dev/null))"
    else
      log "Pub/Sub: not running"
    fi
    ;;
  chromium)
    ensure_chromium
    ;;
  kafka-class)
    shift
    [[ $# -ge 1 ]] || die "usage: $0 kafka-class MAIN_CLASS [ARGS...]"
    if [[ -f $DIR_FILE && -f $(cat "$DIR_FILE")/kafka.env ]]; then
      # shellcheck disable=SC1090,SC1091
      source "$(cat "$DIR_FILE")/kafka.env"
    else
      resolve_kafka >&2
    fi
    kafka_class "$@"
    ;;
  *)
    die "unknown command '$cmd' (start|stop|kafka-stop|kafka-start|kafka-restart|pubsub-start|pubsub-stop|pubsub-restart|status|chromium|kafka-class)"
    ;;
esac
