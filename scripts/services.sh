#!/usr/bin/env bash
# Install, start and stop a local Apache Kafka broker and InfluxDB for tests
# and for machines without Docker. Run with --help for usage.
set -euo pipefail

readonly KAFKA_VERSION=4.1.2
readonly SCALA_VERSION=2.13
readonly LOG4J_VERSION=2.25.3
readonly INFLUXDB_VERSION=1.8.10
readonly HOST=127.0.0.1

CACHE_DIR=${QIANLIYAN_CACHE_DIR:-$HOME/.cache/qianliyan}
STATE_DIR=${QIANLIYAN_STATE_DIR:-$HOME/.local/state/qianliyan}
KAFKA_PORT=${QIANLIYAN_KAFKA_PORT:-9092}
KAFKA_CONTROLLER_PORT=${QIANLIYAN_KAFKA_CONTROLLER_PORT:-9093}
KAFKA_HEAP=${QIANLIYAN_KAFKA_HEAP:-512m}
INFLUXDB_PORT=${QIANLIYAN_INFLUXDB_PORT:-8086}
INFLUXDB_RPC_PORT=${QIANLIYAN_INFLUXDB_RPC_PORT:-8088}
INFLUXDB_DATABASE=${QIANLIYAN_INFLUXDB_DATABASE:-qianliyan}
START_TIMEOUT=${QIANLIYAN_START_TIMEOUT:-90}
STOP_TIMEOUT=${QIANLIYAN_STOP_TIMEOUT:-30}

KAFKA_HOME=$CACHE_DIR/kafka-$KAFKA_VERSION
INFLUXDB_HOME=$CACHE_DIR/influxdb-$INFLUXDB_VERSION
KAFKA_STATE=$STATE_DIR/kafka
INFLUXDB_STATE=$STATE_DIR/influxdb

readonly ALL_SERVICES=(kafka influxdb)

# The java command line that runs a class with Kafka's classpath.
KAFKA_JAVA=(
    java -Xms128m "-Xmx$KAFKA_HEAP" -XX:+UseG1GC -XX:MaxGCPauseMillis=20
    -Djava.awt.headless=true -Djava.net.preferIPv4Stack=true
    "-Dlog4j2.configurationFile=$KAFKA_STATE/log4j2.properties"
    -cp "$KAFKA_HOME/libs/*"
)

usage() {
    cat <<EOF
Usage: scripts/services.sh COMMAND [SERVICE...]

Installs and runs a single-node Apache Kafka $KAFKA_VERSION broker (KRaft mode)
and InfluxDB $INFLUXDB_VERSION, both bound to $HOST only. SERVICE is kafka or
influxdb. Without one, a command acts on both.

Commands:
  up [SERVICE...]        Install what is missing, start what is not running and
                         wait until each service accepts requests. Running it
                         again while the services are up changes nothing.
  down [--purge] [SERVICE...]
                         Stop services (SIGTERM, then SIGKILL after
                         QIANLIYAN_STOP_TIMEOUT seconds). Data is kept unless
                         --purge is given, which also deletes the service's
                         data and logs.
  reset [SERVICE...]     Same as 'down --purge'.
  status [SERVICE...]    Print one line per service. Exit status is 0 when all
                         named services are running, 3 otherwise.
  logs [-f] [SERVICE...] Print the last 50 lines of each service's log, or
                         follow them with -f.
  install [SERVICE...]   Download and build only, start nothing.
  help, --help, -h       Print this text.

Environment variables (defaults in brackets):
  QIANLIYAN_CACHE_DIR              downloads and builds [\$HOME/.cache/qianliyan]
  QIANLIYAN_STATE_DIR              data, configs, logs and pid files
                                   [\$HOME/.local/state/qianliyan]
  QIANLIYAN_KAFKA_PORT             Kafka client listener port [9092]
  QIANLIYAN_KAFKA_CONTROLLER_PORT  Kafka KRaft controller port [9093]
  QIANLIYAN_KAFKA_HEAP             Kafka maximum JVM heap, as for -Xmx [512m]
  QIANLIYAN_INFLUXDB_PORT          InfluxDB HTTP API port [8086]
  QIANLIYAN_INFLUXDB_RPC_PORT      InfluxDB backup/restore RPC port [8088]
  QIANLIYAN_INFLUXDB_DATABASE      database that 'up' creates [qianliyan]
  QIANLIYAN_START_TIMEOUT          seconds to wait for each service to become
                                   ready [90]
  QIANLIYAN_STOP_TIMEOUT           seconds to wait after SIGTERM before
                                   SIGKILL [30]
  QIANLIYAN_GO                     Go toolchain used to build influxd [the first
                                   of: go on PATH, /usr/local/go/bin/go,
                                   /usr/lib/go-1.19/bin/go; Debian's golang-go
                                   is installed when none exists]

The first install downloads Kafka's jars from Maven Central with mvn and builds
influxd from source with 'go install'. Missing tools (java, mvn, go, curl) are
installed with apt-get, which needs root.
EOF
}

log() {
    printf '%s\n' "services.sh: $*" >&2
}

die() {
    log "error: $*"
    exit 1
}

# ---------------------------------------------------------------------------
# Tool installation

APT_UPDATED=0

apt_install() {
    if [[ $(id -u) -ne 0 ]]; then
        die "missing Debian packages: $*. Install them with 'apt-get install $*' or run this script as root."
    fi
    command -v apt-get >/dev/null || die "missing Debian packages ($*), and apt-get is not available to install them"
    if [[ $APT_UPDATED -eq 0 ]]; then
        log "running apt-get update"
        apt-get update -qq
        APT_UPDATED=1
    fi
    log "installing Debian packages: $*"
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

java_major_version() {
    # `java -version` prints e.g. 'openjdk version "17.0.15" 2025-04-15' on stderr.
    java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -n 1
}

ensure_java() {
    if ! command -v java >/dev/null; then
        apt_install openjdk-17-jre-headless
    fi
    local major
    major=$(java_major_version)
    # Kafka 4.x brokers require Java 17 or newer.
    if [[ -z $major || $major -lt 17 ]]; then
        die "Kafka $KAFKA_VERSION needs Java 17 or newer, but 'java' is version '${major:-unknown}'. Put a newer java first on PATH."
    fi
}

ensure_maven() {
    command -v mvn >/dev/null || apt_install maven
}

ensure_curl() {
    command -v curl >/dev/null || apt_install curl
}

find_go() {
    if [[ -n ${QIANLIYAN_GO:-} ]]; then
        [[ -x $QIANLIYAN_GO ]] || die "QIANLIYAN_GO=$QIANLIYAN_GO is not an executable file"
        printf '%s\n' "$QIANLIYAN_GO"
        return
    fi
    local candidate
    for candidate in "$(command -v go || true)" /usr/local/go/bin/go /usr/lib/go-1.19/bin/go /usr/lib/go/bin/go; do
        if [[ -n $candidate && -x $candidate ]]; then
            printf '%s\n' "$candidate"
            return
        fi
    done
    # NOTE: untested. Debian 12's golang-go is Go 1.19, which should build
    # influxd 1.8 (it predates Go 1.19), but no build with it has been tried.
    apt_install golang-go ca-certificates
    command -v go || die "apt-get installed golang-go, but 'go' is still not on PATH"
}

# ---------------------------------------------------------------------------
# Kafka installation

kafka_installed() {
    [[ -f $KAFKA_HOME/.installed ]]
}

write_kafka_pom() {
    # kafka_2.13 depends only on slf4j-api 1.7, so without log4j-core and the
    # SLF4J 1.x binding for it the broker logs nothing.
    cat >"$1" <<EOF
<?xml version="1.0" encoding="UTF-8"?>
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>local.qianliyan</groupId>
  <artifactId>kafka-broker-classpath</artifactId>
  <version>$KAFKA_VERSION</version>
  <packaging>pom</packaging>
  <dependencies>
    <dependency>
      <groupId>org.apache.kafka</groupId>
      <artifactId>kafka_$SCALA_VERSION</artifactId>
      <version>$KAFKA_VERSION</version>
    </dependency>
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-core</artifactId>
      <version>$LOG4J_VERSION</version>
    </dependency>
    <dependency>
      <groupId>org.apache.logging.log4j</groupId>
      <artifactId>log4j-slf4j-impl</artifactId>
      <version>$LOG4J_VERSION</version>
    </dependency>
  </dependencies>
</project>
EOF
}

install_kafka() {
    kafka_installed && return 0
    ensure_java
    ensure_maven
    log "installing Kafka $KAFKA_VERSION (Scala $SCALA_VERSION) from Maven Central into $KAFKA_HOME"

    local work=$KAFKA_HOME.tmp
    rm -rf "$work"
    mkdir -p "$work"
    write_kafka_pom "$work/pom.xml"
    # A private local repository keeps ~/.m2 untouched and is deleted afterwards,
    # because only the copied jars are needed at run time.
    if ! mvn --batch-mode --quiet --strict-checksums \
        -Dmaven.repo.local="$work/m2-repository" \
        -f "$work/pom.xml" \
        dependency:copy-dependencies \
        -DincludeScope=runtime -DoutputDirectory="$work/libs" >"$work/mvn.log" 2>&1; then
        tail -n 40 "$work/mvn.log" >&2
        die "mvn failed to download Kafka $KAFKA_VERSION. The full output is in $work/mvn.log."
    fi
    [[ -f $work/libs/kafka_$SCALA_VERSION-$KAFKA_VERSION.jar ]] ||
        die "mvn finished, but kafka_$SCALA_VERSION-$KAFKA_VERSION.jar is missing from $work/libs"
    rm -rf "$work/m2-repository"

    rm -rf "$KAFKA_HOME"
    mv "$work" "$KAFKA_HOME"
    touch "$KAFKA_HOME/.installed"
    log "installed Kafka $KAFKA_VERSION ($(find "$KAFKA_HOME/libs" -name '*.jar' | wc -l) jars)"
}

# ---------------------------------------------------------------------------
# InfluxDB installation

influxdb_installed() {
    [[ -x $INFLUXDB_HOME/bin/influxd ]]
}

install_influxdb() {
    influxdb_installed && return 0
    local go
    go=$(find_go)
    log "installing InfluxDB $INFLUXDB_VERSION: building influxd from source with $("$go" version) (takes a few minutes)"

    local work=$INFLUXDB_HOME.tmp
    rm -rf "$work"
    mkdir -p "$work/bin" "$work/go"
    # InfluxDB 1.8 is pure Go, so CGO_ENABLED=0 avoids needing a C toolchain.
    # -modcacherw lets plain rm delete the module cache if the build fails.
    if ! env \
        CGO_ENABLED=0 \
        GOBIN="$work/bin" \
        GOPATH="$work/go" \
        GOMODCACHE="$work/go/pkg/mod" \
        GOCACHE="$work/go/build-cache" \
        GOTOOLCHAIN=local \
        GOFLAGS="${GOFLAGS:-} -modcacherw" \
        "$go" install \
        -ldflags "-X main.version=$INFLUXDB_VERSION -X main.branch=$INFLUXDB_VERSION" \
        "github.com/influxdata/influxdb/cmd/influxd@v$INFLUXDB_VERSION" >"$work/go-install.log" 2>&1; then
        tail -n 40 "$work/go-install.log" >&2
        die "go install of influxd $INFLUXDB_VERSION failed. The full output is in $work/go-install.log."
    fi
    # The Go caches took about 800 MB for this build and are only needed to
    # rebuild this one binary.
    rm -rf "$work/go"

    rm -rf "$INFLUXDB_HOME"
    mv "$work" "$INFLUXDB_HOME"
    log "installed InfluxDB $INFLUXDB_VERSION at $INFLUXDB_HOME/bin/influxd"
}

# ---------------------------------------------------------------------------
# Process helpers

pid_file() {
    printf '%s\n' "$STATE_DIR/$1/$1.pid"
}

# Print the service's pid if its pid file names a live process that runs this
# service's config. The config check keeps a reused pid from counting.
running_pid() {
    local service=$1 file pid marker
    file=$(pid_file "$service")
    [[ -f $file ]] || return 1
    pid=$(<"$file")
    [[ $pid =~ ^[0-9]+$ ]] || return 1
    process_alive "$pid" || return 1
    case $service in
        kafka) marker=$KAFKA_STATE/server.properties ;;
        influxdb) marker=$INFLUXDB_STATE/influxdb.conf ;;
    esac
    tr '\0' ' ' <"/proc/$pid/cmdline" | grep -qF -- "$marker" || return 1
    printf '%s\n' "$pid"
}

port_open() {
    (: <>"/dev/tcp/$HOST/$1") 2>/dev/null
}

# Print "PORT VARIABLE" for each port that the service listens on.
service_ports() {
    case $1 in
        kafka) printf '%s\n' "$KAFKA_PORT QIANLIYAN_KAFKA_PORT" "$KAFKA_CONTROLLER_PORT QIANLIYAN_KAFKA_CONTROLLER_PORT" ;;
        influxdb) printf '%s\n' "$INFLUXDB_PORT QIANLIYAN_INFLUXDB_PORT" "$INFLUXDB_RPC_PORT QIANLIYAN_INFLUXDB_RPC_PORT" ;;
    esac
}

check_ports_free() {
    local service=$1 port variable
    while read -r port variable; do
        if port_open "$port"; then
            die "cannot start $service: port $port on $HOST is already in use by another process. Stop that process or set $variable to a free port."
        fi
    done < <(service_ports "$service")
}

# Log files of a service, main log first.
service_logs() {
    case $1 in
        kafka) printf '%s\n' "$KAFKA_STATE/logs/server.log" "$KAFKA_STATE/logs/kafka.out" ;;
        influxdb) printf '%s\n' "$INFLUXDB_STATE/influxdb.log" ;;
    esac
}

# Byte size of each log file when the current start began, so that readiness
# checks and failure reports ignore lines from earlier runs.
declare -A LOG_START_OFFSETS=()

record_log_offsets() {
    local file
    while read -r file; do
        LOG_START_OFFSETS[$file]=0
        if [[ -f $file ]]; then
            LOG_START_OFFSETS[$file]=$(stat -c %s "$file")
        fi
    done < <(service_logs "$1")
}

# Print what the current start appended to a log file.
log_since_start() {
    tail -c +"$((${LOG_START_OFFSETS[$1]:-0} + 1))" "$1" 2>/dev/null
}

# Print the last lines that the service wrote during this start.
print_log_tail() {
    local file lines
    while read -r file; do
        lines=$(log_since_start "$file" | tail -n 40)
        if [[ -n $lines ]]; then
            printf -- '--- last 40 lines of %s from this start ---\n%s\n' "$file" "$lines" >&2
        fi
    done < <(service_logs "$1")
}

# A zombie counts as stopped: a service that this shell spawned stays one
# until the shell reaps it, and kill -0 still succeeds on it.
process_alive() {
    local state
    state=$(sed 's/.*) //' "/proc/$1/stat" 2>/dev/null | cut -d ' ' -f 1) || return 1
    [[ -n $state && $state != Z ]]
}

stop_pid() {
    local service=$1 pid=$2 waited=0
    log "stopping $service (pid $pid)"
    kill -TERM "$pid" 2>/dev/null || return 0
    while process_alive "$pid"; do
        if ((waited >= STOP_TIMEOUT * 10)); then
            log "$service (pid $pid) still running after ${STOP_TIMEOUT}s, sending SIGKILL"
            kill -KILL "$pid" 2>/dev/null || true
            break
        fi
        sleep 0.1
        waited=$((waited + 1))
    done
}

stop_service() {
    local service=$1 pid
    if pid=$(running_pid "$service"); then
        stop_pid "$service" "$pid"
    else
        log "$service is not running"
    fi
    rm -f "$(pid_file "$service")"
}

# Stop a service that failed to become ready, show its log and exit.
fail_start() {
    local service=$1 reason=$2 pid
    log "error: $service failed to start: $reason"
    print_log_tail "$service"
    if pid=$(running_pid "$service"); then
        stop_pid "$service" "$pid"
    fi
    rm -f "$(pid_file "$service")"
    exit 1
}

# Start a command detached from this shell's session, so that it outlives the
# terminal or CI step that ran 'up', and record its pid. Output is appended to
# the log file after a marker line, so earlier runs stay visible.
spawn() {
    local service=$1 out=$2
    shift 2
    printf -- '--- started by services.sh at %s ---\n' "$(date -Is)" >>"$out"
    # 9>&- keeps the service from inheriting the lock that take_lock holds.
    nohup setsid "$@" >>"$out" 2>&1 </dev/null 9>&- &
    SPAWNED_PID=$!
    printf '%s\n' "$SPAWNED_PID" >"$(pid_file "$service")"
}

# Store the exit status of the process that spawn started in SPAWNED_STATUS.
# This must run in the shell that called spawn, not in a $(...) subshell.
reap_spawned() {
    SPAWNED_STATUS=0
    wait "$SPAWNED_PID" 2>/dev/null || SPAWNED_STATUS=$?
}

# ---------------------------------------------------------------------------
# Kafka

write_kafka_config() {
    mkdir -p "$KAFKA_STATE/data" "$KAFKA_STATE/logs"
    cat >"$KAFKA_STATE/server.properties" <<EOF
# Generated by scripts/services.sh on every start, so edits here are lost.
process.roles=broker,controller
node.id=1
controller.quorum.voters=1@$HOST:$KAFKA_CONTROLLER_PORT
listeners=PLAINTEXT://$HOST:$KAFKA_PORT,CONTROLLER://$HOST:$KAFKA_CONTROLLER_PORT
advertised.listeners=PLAINTEXT://$HOST:$KAFKA_PORT
listener.security.protocol.map=PLAINTEXT:PLAINTEXT,CONTROLLER:PLAINTEXT
inter.broker.listener.name=PLAINTEXT
controller.listener.names=CONTROLLER
log.dirs=$KAFKA_STATE/data

num.partitions=4
auto.create.topics.enable=true
delete.topic.enable=true
default.replication.factor=1
min.insync.replicas=1
offsets.topic.replication.factor=1
# Fewer than the default of 50, because a single test broker gains nothing
# from more, and each partition adds files and load time at startup.
offsets.topic.num.partitions=4
transaction.state.log.replication.factor=1
transaction.state.log.min.isr=1
share.coordinator.state.topic.replication.factor=1
share.coordinator.state.topic.min.isr=1
group.initial.rebalance.delay.ms=0
EOF

    cat >"$KAFKA_STATE/log4j2.properties" <<EOF
# Generated by scripts/services.sh on every start, so edits here are lost.
status = warn
appender.file.type = RollingFile
appender.file.name = file
appender.file.fileName = $KAFKA_STATE/logs/server.log
appender.file.filePattern = $KAFKA_STATE/logs/server.log.%i
appender.file.layout.type = PatternLayout
appender.file.layout.pattern = [%d] %p %m (%c)%n
appender.file.policies.type = Policies
appender.file.policies.size.type = SizeBasedTriggeringPolicy
appender.file.policies.size.size = 50MB
appender.file.strategy.type = DefaultRolloverStrategy
appender.file.strategy.max = 3
rootLogger.level = info
rootLogger.appenderRef.file.ref = file
EOF
}

format_kafka_storage() {
    # Kafka in KRaft mode does not start on a log directory until the format
    # step has written meta.properties into it.
    [[ -f $KAFKA_STATE/data/meta.properties ]] && return 0
    local cluster_id
    local format_log=$KAFKA_STATE/logs/format.log
    if [[ -s $KAFKA_STATE/cluster.id ]]; then
        cluster_id=$(<"$KAFKA_STATE/cluster.id")
    else
        cluster_id=$("${KAFKA_JAVA[@]}" kafka.tools.StorageTool random-uuid 2>>"$format_log" | tail -n 1)
        if [[ -z $cluster_id ]]; then
            tail -n 40 "$format_log" >&2
            die "kafka failed to start: kafka.tools.StorageTool random-uuid printed no cluster id. The full output is in $format_log."
        fi
        printf '%s\n' "$cluster_id" >"$KAFKA_STATE/cluster.id"
    fi
    log "formatting Kafka storage in $KAFKA_STATE/data (cluster id $cluster_id)"
    if ! "${KAFKA_JAVA[@]}" kafka.tools.StorageTool format --cluster-id "$cluster_id" \
        --config "$KAFKA_STATE/server.properties" >>"$format_log" 2>&1; then
        tail -n 40 "$format_log" >&2
        die "kafka failed to start: formatting storage in $KAFKA_STATE/data failed. The full output is in $format_log."
    fi
}

start_kafka() {
    local pid
    if pid=$(running_pid kafka); then
        log "kafka is already running (pid $pid) on $HOST:$KAFKA_PORT"
        return 0
    fi
    install_kafka
    ensure_java
    check_ports_free kafka
    write_kafka_config
    format_kafka_storage

    local server_log=$KAFKA_STATE/logs/server.log
    record_log_offsets kafka

    log "starting Kafka $KAFKA_VERSION on $HOST:$KAFKA_PORT (controller $HOST:$KAFKA_CONTROLLER_PORT)"
    spawn kafka "$KAFKA_STATE/logs/kafka.out" "${KAFKA_JAVA[@]}" kafka.Kafka "$KAFKA_STATE/server.properties"

    local deadline=$((SECONDS + START_TIMEOUT))
    while :; do
        if ! running_pid kafka >/dev/null; then
            reap_spawned
            fail_start kafka "the process exited with status $SPAWNED_STATUS"
        fi
        if port_open "$KAFKA_PORT" &&
            grep -q 'Kafka Server started' < <(log_since_start "$server_log"); then
            break
        fi
        if ((SECONDS >= deadline)); then
            fail_start kafka "not ready after ${START_TIMEOUT}s (waiting for 'Kafka Server started' in $server_log and a listener on $HOST:$KAFKA_PORT)"
        fi
        sleep 0.5
    done
    log "kafka is ready on $HOST:$KAFKA_PORT (pid $(running_pid kafka))"
}

# ---------------------------------------------------------------------------
# InfluxDB

write_influxdb_config() {
    mkdir -p "$INFLUXDB_STATE/meta" "$INFLUXDB_STATE/data" "$INFLUXDB_STATE/wal"
    cat >"$INFLUXDB_STATE/influxdb.conf" <<EOF
# Generated by scripts/services.sh on every start, so edits here are lost.
reporting-disabled = true
bind-address = "$HOST:$INFLUXDB_RPC_PORT"

[meta]
  dir = "$INFLUXDB_STATE/meta"

[data]
  dir = "$INFLUXDB_STATE/data"
  wal-dir = "$INFLUXDB_STATE/wal"
  query-log-enabled = false

[monitor]
  # Keeps InfluxDB from writing its own metrics into the _internal database
  # every 10 seconds.
  store-enabled = false

[http]
  enabled = true
  bind-address = "$HOST:$INFLUXDB_PORT"
  auth-enabled = false
  # Serves Flux on /api/v2/query, as influxdb-client's query_api expects.
  flux-enabled = true
  pprof-enabled = false
  # Per-request write lines would flood the log during load tests.
  suppress-write-log = true

[logging]
  suppress-logo = true
EOF
}

influxdb_url() {
    printf 'http://%s:%s%s\n' "$HOST" "$INFLUXDB_PORT" "$1"
}

# Create the database, which is a no-op when it exists. On failure, print the
# server's response and return 1.
create_influxdb_database() {
    local response
    if ! response=$(curl -sS --fail-with-body -XPOST "$(influxdb_url /query)" \
        --data-urlencode "q=CREATE DATABASE \"$INFLUXDB_DATABASE\"" 2>&1) ||
        [[ $response == *'"error"'* ]]; then
        printf '%s\n' "$response"
        return 1
    fi
}

start_influxdb() {
    local pid response
    ensure_curl
    if pid=$(running_pid influxdb); then
        log "influxdb is already running (pid $pid) on $HOST:$INFLUXDB_PORT"
        if ! response=$(create_influxdb_database); then
            die "CREATE DATABASE $INFLUXDB_DATABASE on the running influxdb failed: $response"
        fi
        return 0
    fi
    install_influxdb
    check_ports_free influxdb
    write_influxdb_config

    log "starting InfluxDB $INFLUXDB_VERSION on $HOST:$INFLUXDB_PORT"
    record_log_offsets influxdb
    # influxd writes its log to stderr.
    spawn influxdb "$INFLUXDB_STATE/influxdb.log" \
        "$INFLUXDB_HOME/bin/influxd" run -config "$INFLUXDB_STATE/influxdb.conf"

    local deadline=$((SECONDS + START_TIMEOUT))
    while :; do
        if ! running_pid influxdb >/dev/null; then
            reap_spawned
            fail_start influxdb "the process exited with status $SPAWNED_STATUS"
        fi
        if curl -sf -o /dev/null "$(influxdb_url /ping)"; then
            break
        fi
        if ((SECONDS >= deadline)); then
            fail_start influxdb "not ready after ${START_TIMEOUT}s (waiting for GET $(influxdb_url /ping) to succeed)"
        fi
        sleep 0.5
    done
    if ! response=$(create_influxdb_database); then
        fail_start influxdb "CREATE DATABASE $INFLUXDB_DATABASE failed: $response"
    fi
    log "influxdb is ready on $HOST:$INFLUXDB_PORT (pid $(running_pid influxdb)), database '$INFLUXDB_DATABASE'"
}

# ---------------------------------------------------------------------------
# Commands

# Validate SERVICE arguments and store them in SERVICES, or all services when
# none is given.
SERVICES=()
set_services() {
    SERVICES=()
    if [[ $# -eq 0 ]]; then
        SERVICES=("${ALL_SERVICES[@]}")
        return
    fi
    local service
    for service in "$@"; do
        case $service in
            kafka | influxdb) SERVICES+=("$service") ;;
            *) die "unknown service '$service' (expected kafka or influxdb)" ;;
        esac
    done
}

# Serialize commands that change installs or running services, so that two
# concurrent 'up' calls do not both install or start the same service.
take_lock() {
    mkdir -p "$1"
    exec 9>"$1/.services.lock"
    if ! flock -w 600 9; then
        die "timed out after 600s waiting for the lock $1/.services.lock held by another services.sh"
    fi
}

command_install() {
    local service
    take_lock "$CACHE_DIR"
    for service in "$@"; do
        "install_$service"
    done
}

command_up() {
    local service
    take_lock "$CACHE_DIR"
    mkdir -p "$KAFKA_STATE" "$INFLUXDB_STATE"
    # Install everything before starting anything, so a failed build does not
    # leave one service running.
    for service in "$@"; do
        "install_$service"
    done
    for service in "$@"; do
        "start_$service"
    done
}

command_down() {
    local purge=0 args=() service
    for service in "$@"; do
        case $service in
            --purge) purge=1 ;;
            *) args+=("$service") ;;
        esac
    done
    set_services "${args[@]}"

    take_lock "$CACHE_DIR"
    for service in "${SERVICES[@]}"; do
        stop_service "$service"
    done
    if [[ $purge -eq 1 ]]; then
        # Delete only the folders this script creates, in case STATE_DIR is
        # shared with something else.
        for service in "${SERVICES[@]}"; do
            log "deleting $STATE_DIR/$service"
            rm -rf "${STATE_DIR:?}/$service"
        done
        rmdir "$STATE_DIR" 2>/dev/null || true
    fi
}

command_status() {
    local service pid address all_running=0 state
    for service in "$@"; do
        case $service in
            kafka) address="$HOST:$KAFKA_PORT (controller $HOST:$KAFKA_CONTROLLER_PORT)" ;;
            influxdb) address="http://$HOST:$INFLUXDB_PORT database $INFLUXDB_DATABASE" ;;
        esac
        if pid=$(running_pid "$service"); then
            state=running
            if ! port_open "$(service_ports "$service" | head -n 1 | cut -d ' ' -f 1)"; then
                state="running, not accepting connections yet"
            fi
            printf '%-9s %s  pid %s  %s\n' "$service" "$state" "$pid" "$address"
        else
            printf '%-9s stopped  %s\n' "$service" "$address"
            all_running=3
        fi
    done
    return "$all_running"
}

command_logs() {
    local follow=0 args=() service
    for service in "$@"; do
        case $service in
            -f | --follow) follow=1 ;;
            *) args+=("$service") ;;
        esac
    done
    local files=()
    set_services "${args[@]}"
    for service in "${SERVICES[@]}"; do
        mapfile -t -O "${#files[@]}" files < <(service_logs "$service")
    done

    local existing=() file
    for file in "${files[@]}"; do
        if [[ -f $file ]]; then
            existing+=("$file")
        fi
    done
    [[ ${#existing[@]} -gt 0 ]] || die "no log files found under $STATE_DIR. Run 'scripts/services.sh up' first."
    if [[ $follow -eq 1 ]]; then
        exec tail -n 50 -F "${existing[@]}"
    fi
    tail -n 50 "${existing[@]}"
}

# Reject non-numeric ports and timeouts before they reach config files.
validate_settings() {
    local name value
    for name in QIANLIYAN_KAFKA_PORT QIANLIYAN_KAFKA_CONTROLLER_PORT QIANLIYAN_INFLUXDB_PORT QIANLIYAN_INFLUXDB_RPC_PORT; do
        value=${!name:-}
        if [[ -n $value ]] && ! [[ $value =~ ^[1-9][0-9]*$ && $value -ge 1 && $value -le 65535 ]]; then
            die "invalid $name='$value' (expected a TCP port number from 1 to 65535)"
        fi
    done
    for name in QIANLIYAN_START_TIMEOUT QIANLIYAN_STOP_TIMEOUT; do
        value=${!name:-}
        if [[ -n $value && ! $value =~ ^[0-9]+$ ]]; then
            die "invalid $name='$value' (expected a whole number of seconds)"
        fi
    done
    if [[ ! $INFLUXDB_DATABASE =~ ^[A-Za-z0-9_.-]+$ ]]; then
        die "invalid QIANLIYAN_INFLUXDB_DATABASE='$INFLUXDB_DATABASE' (use only letters, digits, '_', '.' and '-')"
    fi
}

main() {
    validate_settings
    if [[ $# -eq 0 ]]; then
        usage >&2
        exit 2
    fi
    local command=$1
    shift
    case $command in
        up | install | status)
            set_services "$@"
            "command_$command" "${SERVICES[@]}"
            ;;
        down) command_down "$@" ;;
        reset) command_down --purge "$@" ;;
        logs) command_logs "$@" ;;
        help | --help | -h) usage ;;
        *)
            usage >&2
            die "unknown command '$command'"
            ;;
    esac
}

main "$@"
